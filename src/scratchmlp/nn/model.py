"""The multilayer perceptron: the chapter's hand-made parameters W1, b1, W2, b2, ... in a class."""

from __future__ import annotations

import numpy as np

from ..engine import Array, ops
from ..errors import ScratchMLPError
from . import activations, init as initialisers
from .dropout import check_rate, dropout as drop

_DROPOUT_STREAM = 0xD0  # keeps dropout's random stream apart from other (seed, epoch) streams


class MLP:
    """Fully connected layers with an activation between them; the output is logits.

    With `dropout` > 0, each hidden layer's activations are dropped while `training` is True
    (the training loop sets it); evaluation uses every unit.
    """

    def __init__(self, num_inputs: int = 784, hidden=(256,), num_outputs: int = 10,
                 activation: str = "relu", init: str = "normal", seed: int = 0,
                 dtype=np.float32, dropout: float = 0.0):
        hidden = list(hidden)
        if any(int(h) <= 0 for h in hidden):
            raise ScratchMLPError(f"hidden layer widths must be positive, got {hidden}")
        self.sizes = [int(num_inputs), *map(int, hidden), int(num_outputs)]
        self.activation_name, self.init_name = activation, init
        self.dropout, self.seed, self.training = check_rate(dropout), seed, False
        self.begin_epoch(1)
        self.activation = activations.get(activation)
        draw = initialisers.get(init)
        rng = np.random.default_rng(seed)
        self.params = []
        for fan_in, fan_out in zip(self.sizes[:-1], self.sizes[1:]):
            W = Array(draw(rng, fan_in, fan_out, dtype=dtype), dtype=dtype)
            b = Array(np.zeros(fan_out, dtype=dtype), dtype=dtype)
            self.params += [W, b]
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
        fused_relu = self.activation is activations.relu  # one fused op per layer
        for W, b in hidden:
            H = ops.linear(H, W, b, relu=True) if fused_relu else self.activation(ops.linear(H, W, b))
            H = drop(H, self.dropout, self._dropout_rng, self.training)
        return ops.linear(H, W_out, b_out)

    def begin_epoch(self, epoch: int):
        """Reseed dropout from (seed, epoch): a run resumed at epoch k draws the same masks."""
        self._dropout_rng = np.random.default_rng([self.seed, epoch, _DROPOUT_STREAM])

    # ---- saving and loading: plain named arrays, W1 b1 W2 b2 ... -------------------------
    def state_dict(self) -> dict:
        names = [f"{kind}{i}" for i in range(1, len(self.layers) + 1) for kind in ("W", "b")]
        return {name: param.data for name, param in zip(names, self.params)}

    def load_state_dict(self, arrays: dict, source: str = "model"):
        expected = self.state_dict()
        missing = sorted(set(expected) - set(arrays))
        extra = sorted(set(arrays) - set(expected))
        if missing or extra:
            raise ScratchMLPError(f"{source}: arrays do not fit the model "
                                  f"(missing {missing or 'none'}, unexpected {extra or 'none'})")
        for name, current in expected.items():
            new = np.asarray(arrays[name])
            if new.shape != current.shape:
                raise ScratchMLPError(f"{source}: {name} has shape {new.shape}, "
                                      f"the configuration needs {current.shape}")
            if new.dtype.kind != "f":
                raise ScratchMLPError(f"{source}: {name} is {new.dtype}, not floating point")
            if not np.isfinite(new).all():
                raise ScratchMLPError(f"{source}: {name} holds NaN or infinite values")
            current[...] = new
