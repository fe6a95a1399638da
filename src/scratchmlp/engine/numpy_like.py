"""A NumPy-like namespace over `Array`: what the chapter calls as `np.*`, float32 by default.

Differentiable functions come from `ops`; constructors and the rest return Arrays that need
no gradient. Random draws are made in the default dtype directly (no hidden float64). A dtype
asked for explicitly (`zeros(3, dtype=float64)`, `x.astype(float64)`) is kept as asked.
"""

from __future__ import annotations

import numpy as _np

from . import ops as _ops
from .array import Array, as_data as _as_data, default_dtype as _default_dtype

float16, float32, float64 = _np.float16, _np.float32, _np.float64
int8, int32, int64, uint8, bool_ = _np.int8, _np.int32, _np.int64, _np.uint8, _np.bool_
pi, e, inf, nan, newaxis = _np.pi, _np.e, _np.inf, _np.nan, _np.newaxis
ndarray = Array

# differentiable
add, subtract, multiply, divide = _ops.add, _ops.subtract, _ops.multiply, _ops.divide
negative, power, maximum, minimum = _ops.negative, _ops.power, _ops.maximum, _ops.minimum
exp, log, sqrt, tanh = _ops.exp, _ops.log, _ops.sqrt, _ops.tanh
dot, matmul, sum, mean, max = _ops.dot, _ops.matmul, _ops.sum, _ops.mean, _ops.max  # noqa: A001
reshape, transpose = _ops.reshape, _ops.transpose
true_divide = divide


def _dtype(dtype):
    return _default_dtype() if dtype is None else dtype


def _made(data, dtype) -> Array:
    """An Array of `data` in `dtype` when one was asked for, else in the default float dtype."""
    return Array(data, dtype=data.dtype if dtype is not None else None)


def array(obj, dtype=None) -> Array:
    if dtype is None and isinstance(obj, Array):
        dtype = obj.dtype  # a copy of an Array keeps its dtype
    return _made(_np.array(_as_data(obj), dtype=dtype), dtype)


def asarray(obj, dtype=None) -> Array:
    if isinstance(obj, Array) and (dtype is None or obj.dtype == dtype):
        return obj
    return _made(_np.asarray(_as_data(obj), dtype=dtype), dtype)


def zeros(shape, dtype=None) -> Array:
    return _made(_np.zeros(shape, dtype=_dtype(dtype)), dtype)


def ones(shape, dtype=None) -> Array:
    return _made(_np.ones(shape, dtype=_dtype(dtype)), dtype)


def full(shape, fill_value, dtype=None) -> Array:
    return _made(_np.full(shape, fill_value, dtype=_dtype(dtype)), dtype)


def zeros_like(a) -> Array:
    data = _as_data(a)
    return _made(_np.zeros_like(data), data.dtype)


def ones_like(a) -> Array:
    data = _as_data(a)
    return _made(_np.ones_like(data), data.dtype)


def arange(*args, dtype=None) -> Array:
    return _made(_np.arange(*args, dtype=dtype), dtype)


def argmax(a, axis=None) -> Array:
    return Array(_np.argmax(_as_data(a), axis=axis))


def abs(a) -> Array:  # noqa: A001 - not differentiable here; use for metrics
    return Array(_np.abs(_as_data(a)))


def concatenate(arrays, axis=0) -> Array:
    return Array(_np.concatenate([_as_data(a) for a in arrays], axis=axis))


class _Random:
    """np.random: one seeded generator; draws come out in the default float dtype."""

    def __init__(self):
        self.generator = _np.random.default_rng()

    def seed(self, seed=None):
        self.generator = _np.random.default_rng(seed)

    def normal(self, loc=0.0, scale=1.0, size=None, dtype=None) -> Array:
        draw = self.generator.standard_normal(size, dtype=_dtype(dtype))
        return _made(_np.asarray(draw * scale + loc, dtype=_dtype(dtype)), dtype)

    def uniform(self, low=0.0, high=1.0, size=None, dtype=None) -> Array:
        draw = self.generator.random(size, dtype=_dtype(dtype))
        return _made(_np.asarray(draw * (high - low) + low, dtype=_dtype(dtype)), dtype)

    def randint(self, low, high=None, size=None, dtype=_np.int64) -> Array:
        return Array(self.generator.integers(low, high, size=size, dtype=dtype))


random = _Random()
