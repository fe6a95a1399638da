"""The multilayer perceptron: the chapter's hand-made parameters W1, b1, W2, b2, ... in a class."""

from __future__ import annotations

import numpy as np

from .. import ranges
from ..engine import Array, ops
from ..errors import ScratchMLPError
from . import activations, init as initialisers
from .dropout import check_rate, dropout as drop

_DROPOUT_STREAM = 0xD0  # keeps dropout's random stream apart from other (seed, epoch) streams


def weight_shapes(sizes) -> dict:
    """name -> shape of every parameter of an MLP with layer sizes `sizes` (inputs, hidden
    widths..., outputs), in order: W1 (inputs, h1), b1 (h1,), W2 (h1, h2), b2 (h2,), ...
    The one statement of what a model of these sizes holds: the MLP builds, names and loads
    its parameters by it, and model files are checked against it."""
    shapes = {}
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:]), 1):
        shapes[f"W{i}"], shapes[f"b{i}"] = (fan_in, fan_out), (fan_out,)
    return shapes


def parameter_count(sizes) -> int:
    """How many numbers the parameters of an MLP with layer sizes `sizes` hold (exact for any
    size: nothing is allocated)."""
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))


def check_weights(arrays: dict, sizes, source: str = "model"):
    """Refuse `arrays` (name -> array) unless they are exactly the parameters of an MLP with
    layer sizes `sizes`: the names and shapes of weight_shapes(sizes), floating point, finite."""
    expected = weight_shapes(sizes)
    missing = sorted(set(expected) - set(arrays))
    extra = sorted(set(arrays) - set(expected))
    if missing or extra:
        raise ScratchMLPError(f"{source}: arrays do not fit the model "
                              f"(missing {missing or 'none'}, unexpected {extra or 'none'})")
    for name, shape in expected.items():
        new = np.asarray(arrays[name])
        if new.shape != shape:
            raise ScratchMLPError(f"{source}: {name} has shape {new.shape}, "
                                  f"the configuration needs {shape}")
        if new.dtype.kind != "f":
            raise ScratchMLPError(f"{source}: {name} is {new.dtype}, not floating point")
        if not np.isfinite(new).all():
            raise ScratchMLPError(f"{source}: {name} holds NaN or infinite values")


class MLP:
    """Fully connected layers with an activation between them; the output is logits.

    With `dropout` > 0, each hidden layer's activations are dropped while `training` is True
    (the training loop sets it); evaluation uses every unit.
    """

    def __init__(self, num_inputs: int = 784, hidden=(256,), num_outputs: int = 10,
                 activation: str = "relu", init: str = "normal", seed: int = 0,
                 dtype=np.float32, dropout: float = 0.0):
        hidden = [int(ranges.check("width", h)) for h in hidden]
        self.sizes = [int(num_inputs), *hidden, int(num_outputs)]
        self.activation_name, self.init_name = activation, init
        self.dropout, self.seed, self.training = check_rate(dropout), seed, False
        self.begin_epoch(1)
        self.activation = activations.get(activation)
        # relu is fused into each hidden layer's op, ops.linear(..., relu=True): chosen by name
        # here, so the fast path never depends on which relu function object was passed
        self.fuse_relu = activation == "relu"
        draw = initialisers.get(init)
        rng = np.random.default_rng(seed)
        self.params = []
        for name, shape in weight_shapes(self.sizes).items():
            values = draw(rng, *shape, dtype=dtype) if name[0] == "W" else np.zeros(shape, dtype)
            self.params.append(Array(values, dtype=dtype))
        for param in self.params:
            param.attach_grad()

    @property
    def num_inputs(self) -> int:
        return self.sizes[0]

    @property
    def layers(self):
        return list(zip(self.params[0::2], self.params[1::2]))

    def __call__(self, X):
        """Logits for a batch; images of any shape are flattened to rows of `num_inputs`."""
        H = X.reshape(-1, self.num_inputs)
        *hidden, (W_out, b_out) = self.layers
        for W, b in hidden:
            if self.fuse_relu:
                H = ops.linear(H, W, b, relu=True)
            else:
                H = self.activation(ops.linear(H, W, b))
            H = drop(H, self.dropout, self._dropout_rng, self.training)
        return ops.linear(H, W_out, b_out)

    def begin_epoch(self, epoch: int):
        """Reseed dropout from (seed, epoch): a run resumed at epoch k draws the same masks."""
        self._dropout_rng = np.random.default_rng([self.seed, epoch, _DROPOUT_STREAM])

    # ---- saving and loading: plain named arrays, W1 b1 W2 b2 ... -------------------------
    def state_dict(self) -> dict:
        return {name: param.data for name, param in zip(weight_shapes(self.sizes), self.params)}

    def load_state_dict(self, arrays: dict, source: str = "model"):
        check_weights(arrays, self.sizes, source)
        for name, current in self.state_dict().items():
            current[...] = arrays[name]
