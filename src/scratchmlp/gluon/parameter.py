"""Gluon's Parameter: a named array whose shape may wait for the first forward pass."""

from __future__ import annotations

import re
import warnings

import numpy as np

from ..engine import Array, context as _context
from ..errors import ScratchMLPError


class Parameter:
    """A weight or bias: `data()` and `grad()` are Arrays. A 0 in `shape` is unknown until the
    layer first sees its input (deferred initialisation, as in Gluon)."""

    def __init__(self, name: str, shape=(), init=None, dtype=np.float32):
        self.name, self.shape, self.init, self.dtype = name, tuple(shape), init, np.dtype(dtype)
        self.wd_mult, self.lr_mult, self._grad_req = 1.0, 1.0, "write"
        self._array, self._deferred, self._stepped_grad = None, None, None

    def initialize(self, init=None, ctx=None, default_init=None, force_reinit=False):
        """Gluon's order: `init` given here, else the parameter's own initializer, else
        `default_init` (what `net.initialize(init)` passes), else Uniform(0.07). Once
        initialised, a second call keeps the values, as Gluon's (which warns), unless
        `force_reinit`."""
        _context.checked(ctx)
        if self._array is not None and not force_reinit:
            warnings.warn(f"Parameter '{self.name}' is already initialized, ignoring. Set "
                          "force_reinit=True to re-initialize.", stacklevel=3)
            return
        from ..init import Uniform, create
        chosen = next((i for i in (init, self.init, default_init) if i is not None), None)
        self._deferred = create(chosen) or Uniform()
        if 0 not in self.shape:
            self._allocate()

    def _finish(self, shape):
        """Called by the layer on its first input: the shape is known now."""
        self.shape = tuple(shape)
        if self._deferred is not None:
            self._allocate()

    def _load(self, values):
        """Take saved values: their shape where this one is still unknown (0), else the
        same shape; a gradient as the parameter's grad_req asks."""
        values = np.asarray(values)
        if len(values.shape) != len(self.shape) or any(
                n and n != v for n, v in zip(self.shape, values.shape)):
            raise ScratchMLPError(f"parameter {self.name} has shape {self.shape}; the saved "
                                  f"values have shape {values.shape}")
        self.shape, self._deferred = values.shape, None
        self._array = Array(values.astype(self.dtype), dtype=self.dtype)
        self.grad_req = self._grad_req  # attaches the gradient

    @property
    def grad_req(self) -> str:
        return self._grad_req

    @grad_req.setter
    def grad_req(self, req: str):
        """"write" (the default), "add" (backward adds to the gradient) or "null" (none);
        as Gluon's, setting it starts the gradient again from zero."""
        if req not in ("write", "add", "null"):
            raise ScratchMLPError(f"parameter {self.name}: grad_req must be 'write', 'add' or "
                                  f"'null', got {req!r}")
        self._grad_req = req
        if self._array is not None:
            self._array.attach_grad(req)
            self._stepped_grad = id(self._array.grad.data) if req != "null" else None

    def _allocate(self):
        from ..init import initial_values
        self._array = Array(initial_values(self._deferred, self.name, self.shape, self.dtype),
                            dtype=self.dtype)
        self._array.attach_grad(self._grad_req)
        # the gradient buffer the last Trainer.step used (here: none yet); backward() puts a new
        # one in place, so the same buffer at the next step means no backward() since
        self._stepped_grad = id(self._array.grad.data) if self._array.grad is not None else None
        self._deferred = None

    def data(self, ctx=None) -> Array:
        _context.checked(ctx)
        if self._array is None:
            why = ("its shape is known only after the first forward pass"
                   if self._deferred is not None else "initialize() was not called")
            raise ScratchMLPError(f"parameter {self.name} has no value yet: {why}")
        return self._array

    def grad(self, ctx=None) -> Array:
        return self.data(ctx).grad

    def list_ctx(self) -> list:
        return [_context.cpu()]

    def list_data(self) -> list:
        return [self.data()]

    def list_grad(self) -> list:
        return [self.grad()]

    def set_data(self, data):
        """New values of the parameter's shape (Gluon refuses another shape; NumPy would
        broadcast a row into every row)."""
        shape = np.shape(data.data if isinstance(data, Array) else data)
        if shape != self.data().shape:
            raise ScratchMLPError(f"parameter {self.name} has shape {self.shape}; set_data got "
                                  f"values of shape {shape}")
        self.data()[:] = data

    def zero_grad(self):
        if self.data().grad is not None:  # grad_req "null" keeps none
            self.data().grad[:] = 0

    def __repr__(self):  # Gluon's, with -1 for a size known only after the first batch
        shape = tuple(-1 if n == 0 else n for n in self.shape)
        return f"Parameter {self.name} (shape={shape}, dtype={self.dtype})"


class ParameterDict(dict):
    """Parameters by name, as `collect_params()` returns them; a block's own (`block.params`)
    makes new ones with `get(name, shape=...)`, as Gluon 1.x's."""

    def __init__(self, *args, prefix="", **kwargs):
        super().__init__(*args, **kwargs)
        self.prefix = prefix

    def get(self, name, default=None, **kwargs):
        """The parameter `prefix + name`, made with `kwargs` (shape, init, dtype, grad_req)
        when there is none yet; `get(key, default)` on a full name is dict's."""
        if name in self and not kwargs:
            return self[name]
        full = self.prefix + name
        if full not in self:
            if not kwargs and default is not None:
                return default
            self[full] = Parameter(full, kwargs.get("shape", ()), kwargs.get("init"),
                                   kwargs.get("dtype", np.float32))
            if kwargs.get("grad_req", "write") != "write":
                self[full].grad_req = kwargs["grad_req"]
        return self[full]

    def get_constant(self, name, value=None):
        """A parameter that training leaves alone (grad_req 'null'), holding `value`."""
        full = self.prefix + name
        if full not in self:
            values = np.asarray(value.data if isinstance(value, Array) else value)
            param = Parameter(full, values.shape, _Fixed(values), values.dtype)
            param.grad_req = "null"
            self[full] = param
        return self[full]

    def initialize(self, init=None, ctx=None, verbose=False, force_reinit=False):
        """`init` for each parameter that has no initializer of its own (Gluon's)."""
        for param in self.values():
            param.initialize(None, ctx, default_init=init, force_reinit=force_reinit)

    def setattr(self, name: str, value):
        """Set an attribute (e.g. `wd_mult`) on every parameter here."""
        for param in self.values():
            setattr(param, name, value)

    def zero_grad(self):
        for param in self.values():
            param.zero_grad()

    def __repr__(self):  # Gluon's: one parameter per line
        return "(\n" + "".join(f"  {param!r}\n" for param in self.values()) + ")"

    def select(self, pattern) -> "ParameterDict":
        """The parameters whose names match the regular expression `pattern` (from the start)."""
        return ParameterDict((name, param) for name, param in self.items()
                             if pattern is None or re.match(pattern, name))


class _Fixed:
    """An initializer that gives given values (for get_constant)."""

    def __init__(self, values):
        self.values = values

    def __call__(self, shape, dtype=np.float32):
        return np.array(self.values, dtype=dtype).reshape(shape)
