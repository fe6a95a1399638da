"""`from scratchmlp.gluon import nn`: Block, Sequential, Dense, Dropout, Flatten, Activation.

Dense keeps Gluon's layout (weight of shape (units, in_units), `y = x W^T + b`) and learns
`in_units` from its first input; a ReLU Dense runs as one fused op (`ops.linear`).
"""

from __future__ import annotations

import contextlib
import itertools
from collections import defaultdict

import numpy as np

from ..engine import Array, context as _context, ops
from ..engine.array import is_training
from ..engine.numpy_like import random as _random
from ..errors import ScratchMLPError
from ..init import create
from ..npx import ACTIVATIONS as _ACTIVATIONS  # MXNet's act_type names
from ..nn.dropout import check_rate, keep_mask
from .parameter import Parameter, ParameterDict

_counters = defaultdict(itertools.count)  # dense0, dense1, ... as Gluon names its blocks



def _name_of(activation):
    return activation if isinstance(activation, str) or activation is None else \
        getattr(activation, "__name__", repr(activation))


def _activation(name):
    if name is None or callable(name):
        return name
    if name not in _ACTIVATIONS:
        raise ScratchMLPError(f"activation {name!r} is not one of {sorted(_ACTIVATIONS)}")
    return _ACTIVATIONS[name]


class Block:
    """A layer or a network of layers; call it on a batch. As Gluon 1.x's: a Block or a
    Parameter assigned as an attribute (`self.hidden = nn.Dense(256)`) is registered, so
    `initialize()` and `collect_params()` find it; `_children` is an ordered dict of blocks and
    `params.get('weight', shape=...)` makes a parameter of this block."""

    def __init__(self, prefix=None, params=None):
        kind = type(self).__name__.lower()
        self.prefix = prefix or f"{kind}{next(_counters[kind])}_"
        self._children = {}
        # shared parameters (Gluon's params=other.params): found under the other's names
        self._params = ParameterDict(prefix=self.prefix) if params is None else \
            ParameterDict(params, prefix=params.prefix)

    def __setattr__(self, name, value):
        registry = self.__dict__.get("_children")
        if isinstance(value, Block) and registry is not None:
            registry[name] = value
        elif isinstance(value, Parameter) and "_params" in self.__dict__:
            self._params[value.name] = value
        super().__setattr__(name, value)

    def register_child(self, block, name=None):
        self._children[name or str(len(self._children))] = block
        return block

    @property
    def params(self) -> ParameterDict:
        """This block's own parameters (not its children's): a property, as in Gluon 1.x."""
        return self._params

    def collect_params(self, select=None) -> ParameterDict:
        """This block's parameters and its children's, by name; `select` is a regular
        expression the names must match (`'.*weight'`, `'.*bias'`)."""
        found = ParameterDict(self._params)
        for child in self._children.values():
            found.update(child.collect_params())
        return found.select(select)

    def initialize(self, init=None, ctx=None, verbose=False, force_reinit=False):
        self.collect_params().initialize(init, ctx, verbose, force_reinit)

    def _structural_params(self, prefix="") -> dict:
        """Parameters by Gluon's structural names ('0.weight', 'hidden.bias'), which do not
        depend on the counters in their prefixes: a new net of the same shape loads them."""
        own = {prefix + (p.name[len(self.prefix):] if p.name.startswith(self.prefix)
                         else p.name): p for p in self._params.values()}
        for key, child in self._children.items():
            own.update(child._structural_params(f"{prefix}{key}."))
        return own

    def save_parameters(self, filename):
        """The parameters' values to `filename` (a NumPy .npz; MXNet's own format is not
        written), by structural name, as Gluon's."""
        from ..npx import save_arrays
        save_arrays(filename, {k: p.data() for k, p in self._structural_params().items()})

    def load_parameters(self, filename, ctx=None, allow_missing=False, ignore_extra=False):
        """Values `save_parameters` wrote; each parameter takes the saved shape (no
        initialize() needed). Missing or extra names are refused unless allowed, as Gluon's."""
        from ..npx import load_arrays
        _context.checked(ctx)
        saved, params = load_arrays(filename), self._structural_params()
        missing, extra = sorted(set(params) - set(saved)), sorted(set(saved) - set(params))
        if missing and not allow_missing or extra and not ignore_extra:
            what = (f"has no {missing[0]!r}" if missing and not allow_missing
                    else f"has {extra[0]!r}, which this network lacks")
            raise ScratchMLPError(f"load_parameters: {filename} {what} (allow_missing / "
                                  "ignore_extra accept that)")
        for key in set(params) & set(saved):
            params[key]._load(saved[key])

    def name_scope(self):
        """Gluon prefixes the names of blocks made inside; here names stay as made."""
        return contextlib.nullcontext()

    @property
    def name(self) -> str:
        """Gluon 1.x's block name: its prefix without the underscore ('dense0')."""
        return self.prefix.rstrip("_")

    def __repr__(self):  # Gluon's: the children indented, one per line
        if not self._children:
            return f"{type(self).__name__}()"
        lines = [f"  ({key}): {child!r}".replace("\n", "\n  ")
                 for key, child in self._children.items()]
        return f"{type(self).__name__}(\n" + "\n".join(lines) + "\n)"

    def hybridize(self, *args, **kwargs):
        """Gluon compiles the graph here; scratchmlp runs eagerly, so nothing changes."""

    def __call__(self, *args):
        return self.forward(*args)

    def forward(self, *args):
        raise NotImplementedError


class Sequential(Block):
    """Blocks applied one after the other; `net[i]` is the i-th."""

    def add(self, *blocks):
        for block in blocks:
            self.register_child(block)

    def forward(self, x):
        for block in self._children.values():
            x = block(x)
        return x

    def __getitem__(self, i):
        blocks = list(self._children.values())
        if isinstance(i, slice):  # Gluon's net[1:]: a Sequential of those blocks
            part = type(self)(prefix=self.prefix)
            part.add(*blocks[i])
            return part
        return blocks[i]

    def __len__(self):
        return len(self._children)


HybridSequential = Sequential


def _check_units(name: str, value, low: int):
    import numbers
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ScratchMLPError(f"Dense: {name} must be a whole number {low} or more, got "
                              f"{value!r}")


class Dense(Block):
    """A fully connected layer: `activation(x W^T + b)`; inputs of more than 2 dimensions
    are flattened to rows (`flatten=True`, Gluon's default)."""

    def __init__(self, units, activation=None, use_bias=True, flatten=True, dtype="float32",
                 weight_initializer=None, bias_initializer="zeros", in_units=0, prefix=None,
                 params=None):
        super().__init__(prefix, params)  # params: another Dense's, shared (Gluon's)
        _check_units("units", units, 1)
        _check_units("in_units", in_units, 0)
        self.units, self.flatten, self.act = int(units), flatten, _activation(activation)
        self.activation = activation
        self.weight = self.params.get("weight", shape=(self.units, in_units), dtype=dtype,
                                      init=create(weight_initializer))
        self.bias = None
        if use_bias:
            self.bias = self.params.get("bias", shape=(self.units,), dtype=dtype,
                                        init=create(bias_initializer))

    def forward(self, x):
        if self.flatten and np.ndim(x) > 2:
            x = x.reshape(np.shape(x)[0], -1) if isinstance(x, Array) else \
                np.reshape(x, (np.shape(x)[0], -1))
        if 0 in self.weight.shape:
            self.weight._finish((self.units, np.shape(x)[-1]))
        elif np.shape(x)[-1:] != self.weight.shape[1:]:  # was NumPy's matmul message
            raise ScratchMLPError(f"{self!r}: input of shape {tuple(np.shape(x))} has "
                                  f"{(np.shape(x) or (0,))[-1]} values per row, the layer "
                                  f"takes {self.weight.shape[1]}")
        W = ops.transpose(self.weight.data())
        if self.bias is None:
            out = ops.matmul(x, W)
            return self.act(out) if self.act else out
        fused = self.act is ops.relu
        out = ops.linear(x, W, self.bias.data(), relu=fused)
        return self.act(out) if self.act and not fused else out

    def __repr__(self):  # Gluon's: Dense(784 -> 256, Activation(relu)) or ..., linear)
        act = _name_of(self.activation)
        return (f"Dense({self.weight.shape[1] or None} -> {self.units}, "
                f"{f'Activation({act})' if act else 'linear'})")


class Dropout(Block):
    """Zero each entry with probability `rate` while training (inside `autograd.record()`),
    scaling the rest by 1/(1-rate); the identity when predicting."""

    def __init__(self, rate, prefix=None):
        super().__init__(prefix)
        self.rate = check_rate(rate)

    def __repr__(self):
        return f"Dropout(p = {self.rate}, axes=())"

    def forward(self, x):
        if not is_training() or self.rate == 0:
            return x
        data = x.data if isinstance(x, Array) else np.asarray(x)
        return ops.dropout(x, keep_mask(_random.generator, data.shape, self.rate, data.dtype))


class Flatten(Block):
    def __repr__(self):
        return "Flatten"

    def forward(self, x):
        return x.reshape(np.shape(x)[0], -1)


class Activation(Block):
    def __init__(self, activation, prefix=None):
        super().__init__(prefix)
        self.act, self.activation = _activation(activation), activation

    def __repr__(self):
        return f"Activation({_name_of(self.activation)})"

    def forward(self, x):
        return self.act(x)


def __getattr__(name):  # an MXNet name we lack: one line (errors.NotProvided), not a traceback
    from ..errors import missing_name
    raise missing_name("gluon.nn", name)
