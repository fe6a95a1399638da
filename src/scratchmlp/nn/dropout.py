"""Inverted dropout: zero each activation with probability p while training, scale the rest.

Survivors are multiplied by 1/(1-p) during training, so evaluation is the identity and needs
no rescaling. The mask comes from a generator the caller owns (the model reseeds it from
(seed, epoch) so a resumed run draws the very same masks).
"""

from __future__ import annotations

import numpy as np

from .. import ranges
from ..engine import ops


def check_rate(rate) -> float:
    """`rate` as a float when it is a probability in [0, 1) (the `dropout` setting's range)."""
    return float(ranges.check("dropout", rate))


def keep_mask(rng: np.random.Generator, shape, rate: float, dtype=np.float32) -> np.ndarray:
    """0 where dropped, 1/(1-rate) where kept, in `dtype` (no float64 detour)."""
    dtype = np.dtype(dtype)
    mask = rng.random(shape, dtype=np.float32 if dtype.itemsize <= 4 else np.float64) >= rate
    return np.multiply(mask, dtype.type(1 / (1 - rate)), dtype=dtype)


def dropout(X, rate: float, rng: np.random.Generator, training: bool = True):
    """`X` with a fraction `rate` of its entries zeroed (training only)."""
    if not training or rate == 0:
        return X
    data = X.data if hasattr(X, "data") else np.asarray(X)
    return ops.dropout(X, keep_mask(rng, data.shape, rate, data.dtype))
