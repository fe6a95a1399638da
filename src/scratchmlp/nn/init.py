"""Weight initialisers: the chapter's N(0, 0.01), Xavier/Glorot and He, all float32 draws."""

from __future__ import annotations

import numpy as np

from ..errors import lookup


def normal(rng: np.random.Generator, fan_in: int, fan_out: int, dtype=np.float32, scale=0.01):
    """The chapter's choice: N(0, scale^2) whatever the layer's size."""
    return rng.standard_normal((fan_in, fan_out), dtype=dtype) * dtype(scale)


def xavier(rng, fan_in, fan_out, dtype=np.float32):
    """Glorot & Bengio (2010): variance 2 / (fan_in + fan_out), for tanh and sigmoid."""
    return rng.standard_normal((fan_in, fan_out), dtype=dtype) * dtype(np.sqrt(2 / (fan_in + fan_out)))


def he(rng, fan_in, fan_out, dtype=np.float32):
    """He et al. (2015): variance 2 / fan_in, which keeps ReLU activations' scale."""
    return rng.standard_normal((fan_in, fan_out), dtype=dtype) * dtype(np.sqrt(2 / fan_in))


INITIALISERS = {"normal": normal, "xavier": xavier, "he": he}


def get(name: str):
    return lookup(INITIALISERS, name, "initialisation")
