"""Optimisers. `sgd` is the chapter's; the classes keep their state for checkpoints."""

from __future__ import annotations

import numpy as np

from ..errors import ScratchMLPError


def sgd(params, lr, batch_size):
    """Minibatch SGD as in d2l: param -= lr * grad / batch_size, in place."""
    for param in params:
        param.data -= (lr / batch_size) * param.grad


class SGD:
    """Plain minibatch SGD with a reused scratch buffer (no allocation per step)."""

    def __init__(self, params, lr: float):
        self.params, self.lr = list(params), lr
        self._scratch = [np.empty_like(p.data) for p in self.params]

    def step(self, batch_size: int):
        scale = self.lr / batch_size
        for param, scratch in zip(self.params, self._scratch):
            np.multiply(param.grad, scale, out=scratch)
            param.data -= scratch

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict):
        pass


OPTIMIZERS = {"sgd": SGD}


def get(name: str):
    try:
        return OPTIMIZERS[name]
    except KeyError:
        raise ScratchMLPError(f"unknown optimiser {name!r}; "
                              f"choose one of {', '.join(OPTIMIZERS)}") from None
