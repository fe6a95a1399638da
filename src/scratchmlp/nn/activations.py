"""Activations by name. ReLU is written with `maximum`, as the chapter does."""

from __future__ import annotations

from ..engine import ops
from ..errors import ScratchMLPError


def relu(X):
    return ops.maximum(X, 0)


ACTIVATIONS = {"relu": relu, "sigmoid": ops.sigmoid, "tanh": ops.tanh}


def get(name: str):
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ScratchMLPError(f"unknown activation {name!r}; "
                              f"choose one of {', '.join(ACTIVATIONS)}") from None
