"""Activations by name: the engine's ops. There is one relu, `ops.relu` (max(x, 0), gradient 0
at 0); the MLP fuses it into its layers' `ops.linear(..., relu=True)`, chosen by name."""

from __future__ import annotations

from ..engine import ops
from ..errors import lookup

ACTIVATIONS = {"relu": ops.relu, "sigmoid": ops.sigmoid, "tanh": ops.tanh}


def get(name: str):
    return lookup(ACTIVATIONS, name, "activation")
