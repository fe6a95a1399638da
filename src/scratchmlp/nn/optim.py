"""Optimisers. `sgd` is the chapter's; the classes keep their state for checkpoints.

Every class steps on the *mean* gradient of the batch (the loss is summed per batch, as in
MXNet, so the gradient is divided by the batch size). Weight decay is an L2 penalty
(weight_decay / 2) * ||W||^2 on the weight matrices (not the biases) added to that mean loss;
it is applied in the update, g = grad / batch_size + weight_decay * W, for every optimiser
(for Adam too: coupled L2, not AdamW). `lr` is an attribute a schedule may change between steps.
State (momentum buffers, Adam's moments and step count) is a dict of arrays, so a checkpoint
stores it in its .npz and a resumed run continues bit for bit. Big matrices are updated in
fixed row chunks on the engine's threads: elementwise, so the bytes are those of one pass.
"""

from __future__ import annotations

import numpy as np

from .. import ranges
from ..engine import parallel
from ..errors import ScratchMLPError, lookup

# An update makes about a dozen elementwise passes over each weight; each costs about what a
# few multiply-adds do, so a row of n weights weighs 64 n in engine/parallel's chunk sizing
# (the chapter's 784x256 stays one chunk; 2048-wide layers take 4).
_UPDATE_WORK_PER_WEIGHT = 64


def sgd(params, lr, batch_size):
    """Minibatch SGD as in d2l: param -= lr * grad / batch_size, in place."""
    for param in params:
        if getattr(param, "grad", None) is None:  # was "unsupported operand ... NoneType"
            raise ScratchMLPError("sgd: a parameter has no gradient; call attach_grad() on "
                                  "it, and backward() inside autograd.record(), first")
        param.data -= (lr / batch_size) * np.asarray(param.grad)


class SGD:
    """Plain minibatch SGD with a reused scratch buffer (no allocation per step)."""

    def __init__(self, params, lr: float, weight_decay: float = 0.0, decay=None):
        """`decay`: one flag per parameter, whether weight decay applies to it (by default
        to the matrices only, not the biases)."""
        self.params, self.lr = list(params), lr
        self.weight_decay = float(ranges.check("weight_decay", weight_decay))
        self._scratch = [np.empty_like(p.data) for p in self.params]
        decay = [p.data.ndim >= 2 for p in self.params] if decay is None else list(decay)
        # a second buffer holds weight_decay * W where decay is on
        self._decay = [np.empty_like(p.data) if self.weight_decay and d else None
                       for p, d in zip(self.params, decay)]

    def _gradient(self, i: int, batch_size: int, scale: float = 1.0,
                  rows=slice(None)) -> np.ndarray:
        """scale * (mean gradient + weight decay) of param i's `rows`, written into (and
        returned as) those rows of its scratch buffer."""
        param, scratch, decay = self.params[i], self._scratch[i][rows], self._decay[i]
        np.multiply(np.asarray(param.grad)[rows], scale / batch_size, out=scratch)
        if decay is not None:
            np.multiply(param.data[rows], scale * self.weight_decay, out=decay[rows])
            scratch += decay[rows]
        return scratch

    def _each(self, i: int, update):
        """update(rows) over param i, in the engine's fixed row chunks (one for small ones)."""
        data = self.params[i].data
        if data.ndim < 2:
            return update(slice(None))
        parallel.for_chunks(len(data), lambda start, stop: update(slice(start, stop)),
                            data[0].size * _UPDATE_WORK_PER_WEIGHT)

    def step(self, batch_size: int):
        for i, param in enumerate(self.params):
            def update(rows, i=i, param=param):
                # lr folded into the scale: the default run's numbers stay the chapter's
                param.data[rows] -= self._gradient(i, batch_size, self.lr, rows)
            self._each(i, update)

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict):
        _expect_state(state, self.state_dict())


class Momentum(SGD):
    """SGD with heavy-ball momentum: v = momentum * v + g;  param -= lr * v."""

    def __init__(self, params, lr: float, weight_decay: float = 0.0, momentum: float = 0.9,
                 decay=None):
        super().__init__(params, lr, weight_decay, decay)
        self.momentum = float(ranges.check("momentum", momentum))
        self.velocity = [np.zeros_like(p.data) for p in self.params]

    def step(self, batch_size: int):
        for i, (param, velocity) in enumerate(zip(self.params, self.velocity)):
            def update(rows, i=i, param=param, velocity=velocity):
                v = velocity[rows]
                v *= self.momentum
                v += self._gradient(i, batch_size, rows=rows)
                param.data[rows] -= np.multiply(v, self.lr, out=self._scratch[i][rows])
            self._each(i, update)

    def state_dict(self) -> dict:
        return {f"velocity.{i}": v for i, v in enumerate(self.velocity)}

    def load_state_dict(self, state: dict):
        _expect_state(state, self.state_dict())
        for i, velocity in enumerate(self.velocity):
            if f"velocity.{i}" in state:
                velocity[...] = state[f"velocity.{i}"]


class Adam(SGD):
    """Adam (Kingma & Ba, 2015) with bias correction; betas (0.9, 0.999), eps 1e-8."""

    def __init__(self, params, lr: float, weight_decay: float = 0.0, beta1: float = 0.9,
                 beta2: float = 0.999, eps: float = 1e-8, decay=None, eps_scaled: bool = True):
        """`eps_scaled`: eps is added to the bias-corrected sqrt(v) (Kingma & Ba, PyTorch);
        False adds it to the uncorrected one, as MXNet's adam_update (Gluon's Trainer)."""
        super().__init__(params, lr, weight_decay, decay)
        self.beta1, self.beta2, self.eps, self.eps_scaled = beta1, beta2, eps, eps_scaled
        self.first = [np.zeros_like(p.data) for p in self.params]
        self.second = [np.zeros_like(p.data) for p in self.params]
        self.steps = 0

    def step(self, batch_size: int):
        self.steps += 1
        b1, b2 = self.beta1, self.beta2
        # bias corrections folded into the step size and epsilon: no extra buffers
        correction1, correction2 = 1 - b1 ** self.steps, 1 - b2 ** self.steps
        step_size = self.lr * np.sqrt(correction2) / correction1
        eps = self.eps * np.sqrt(correction2) if self.eps_scaled else self.eps
        for i, (param, first, second) in enumerate(zip(self.params, self.first, self.second)):
            def update(rows, i=i, param=param, first=first, second=second):
                g, m, v = self._gradient(i, batch_size, rows=rows), first[rows], second[rows]
                m -= g  # m = b1 * m + (1 - b1) * g, in place
                m *= b1
                m += g
                v *= b2
                np.square(g, out=g)
                g *= 1 - b2
                v += g
                np.sqrt(v, out=g)
                g += eps
                np.divide(m, g, out=g)
                g *= step_size
                param.data[rows] -= g
            self._each(i, update)

    def state_dict(self) -> dict:
        state = {f"first.{i}": m for i, m in enumerate(self.first)}
        state.update({f"second.{i}": v for i, v in enumerate(self.second)})
        state["steps"] = np.array(self.steps, dtype=np.int64)
        return state

    def load_state_dict(self, state: dict):
        _expect_state(state, self.state_dict())
        if not state:
            return
        for i, (m, v) in enumerate(zip(self.first, self.second)):
            m[...], v[...] = state[f"first.{i}"], state[f"second.{i}"]
        self.steps = int(state["steps"])


OPTIMIZERS = {"sgd": SGD, "momentum": Momentum, "adam": Adam}


def get(name: str):
    return lookup(OPTIMIZERS, name, "optimiser")


def build(name: str, params, lr: float, weight_decay: float = 0.0, momentum: float = 0.9):
    """The optimiser `name` over `params`, with the settings that apply to it."""
    kind = get(name)
    if kind is Momentum:
        return kind(params, lr, weight_decay, momentum)
    return kind(params, lr, weight_decay)


def _expect_state(state: dict, expected: dict):
    """An empty state (a fresh run) or exactly the arrays this optimiser keeps."""
    if not state:
        return
    if set(state) != set(expected):
        raise ScratchMLPError(f"optimiser state does not fit: expected {sorted(expected) or 'none'}, "
                              f"found {sorted(state)}; the checkpoint is from another optimiser")
    for name, current in expected.items():
        if np.shape(state[name]) != np.shape(current):
            raise ScratchMLPError(f"optimiser state {name} has shape {np.shape(state[name])}, "
                                  f"expected {np.shape(current)}")

