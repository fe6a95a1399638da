"""A NumPy-like namespace over `Array`: what the book calls as `np.*`, float32 by default.

Differentiable functions come from `ops`; constructors and the rest return Arrays that need
no gradient. As in MXNet's np, numbers become float32 (`array([0, 2])`, `arange(16)`), while
an array keeps its dtype (`array(x)` of a float64 NumPy array stays float64). Random draws are
made in the default dtype directly (no hidden float64). A dtype asked for explicitly
(`zeros(3, dtype=float64)`, `x.astype(float64)`) is kept as asked.
"""

from __future__ import annotations

import functools

import numpy as _np

from . import context as _context, ops as _ops
from .array import Array, as_data as _as_data, default_dtype as _default_dtype

float16, float32, float64 = _np.float16, _np.float32, _np.float64
int8, int32, int64, uint8, bool_ = _np.int8, _np.int32, _np.int64, _np.uint8, _np.bool_
pi, e, inf, nan, newaxis = _np.pi, _np.e, _np.inf, _np.nan, _np.newaxis
ndarray = Array

# differentiable
add, subtract, multiply, divide = _ops.add, _ops.subtract, _ops.multiply, _ops.divide
negative, power, maximum, minimum = _ops.negative, _ops.power, _ops.maximum, _ops.minimum
exp, log, sqrt, tanh = _ops.exp, _ops.log, _ops.sqrt, _ops.tanh
sin, cos, sinh, cosh, abs = _ops.sin, _ops.cos, _ops.sinh, _ops.cosh, _ops.abs  # noqa: A001
clip, where, expand_dims, squeeze = _ops.clip, _ops.where, _ops.expand_dims, _ops.squeeze
concatenate, stack, split = _ops.concatenate, _ops.stack, _ops.split
dot, matmul, sum, mean, max = _ops.dot, _ops.matmul, _ops.sum, _ops.mean, _ops.max  # noqa: A001
reshape, transpose = _ops.reshape, _ops.transpose
min, var, std, square, cumsum = _ops.min, _ops.var, _ops.std, _ops.square, _ops.cumsum  # noqa: A001
hstack, vstack, broadcast_to, outer = _ops.hstack, _ops.vstack, _ops.broadcast_to, _ops.outer
true_divide = divide
amax, amin = max, min


def _plain(function):
    """A NumPy function as one of ours on Arrays, without a gradient (signs, roundings, tests,
    orderings): the result keeps the dtype NumPy gives it."""
    @functools.wraps(function)
    def plain(*args, **kwargs):
        out = function(*(_as_data(a) if isinstance(a, Array) else a for a in args), **kwargs)
        return Array(out, dtype=_np.asarray(out).dtype)
    return plain


sign, floor, ceil, round, rint, trunc = map(_plain, (  # noqa: A001
    _np.sign, _np.floor, _np.ceil, _np.round, _np.rint, _np.trunc))
isnan, isinf, isfinite, all, any = map(_plain, (  # noqa: A001
    _np.isnan, _np.isinf, _np.isfinite, _np.all, _np.any))
logical_and, logical_or, logical_not, logical_xor = map(_plain, (
    _np.logical_and, _np.logical_or, _np.logical_not, _np.logical_xor))
equal, not_equal, greater, greater_equal, less, less_equal = map(_plain, (
    _np.equal, _np.not_equal, _np.greater, _np.greater_equal, _np.less, _np.less_equal))
sort, argsort, _argmin, floor_divide, mod, remainder = map(_plain, (
    _np.sort, _np.argsort, _np.argmin, _np.floor_divide, _np.mod, _np.remainder))


def argmin(a, axis=None, keepdims=False) -> Array:
    return _argmin(a, axis=axis, keepdims=keepdims)


def copy(a) -> Array:
    return asarray(a).copy()


def size(a, axis=None) -> int:
    return _np.size(_as_data(a), axis)


def shape(a) -> tuple:
    return _np.shape(_as_data(a))


def ndim(a) -> int:
    return _np.ndim(_as_data(a))


def _placed(make):
    """Take MXNet's `ctx=` (1.x) / `device=` (2.x) keyword: the CPU is the only device."""
    @functools.wraps(make)
    def placed(*args, ctx=None, device=None, **kwargs):
        _context.checked(ctx if device is None else device)
        return make(*args, **kwargs)
    return placed


def _dtype(dtype):
    return _default_dtype() if dtype is None else dtype


def _made(data, dtype) -> Array:
    """An Array of `data` in `dtype` when one was asked for, else in the default float dtype."""
    return Array(data, dtype=data.dtype if dtype is not None else None)


def _dtype_of(obj, dtype):
    """MXNet's rule: an array (ours or NumPy's) keeps its dtype, numbers become float32."""
    if dtype is not None:
        return dtype
    if isinstance(obj, (Array, _np.ndarray)):
        return obj.dtype
    if _np.asarray(obj).dtype == _np.bool_:
        return _np.bool_
    return _default_dtype()


@_placed
def array(obj, dtype=None) -> Array:
    dtype = _dtype_of(obj, dtype)
    return Array(_np.array(_as_data(obj), dtype=dtype), dtype=dtype)


@_placed
def asarray(obj, dtype=None) -> Array:
    if isinstance(obj, Array) and (dtype is None or obj.dtype == dtype):
        return obj
    dtype = _dtype_of(obj, dtype)
    return Array(_np.asarray(_as_data(obj), dtype=dtype), dtype=dtype)


@_placed
def zeros(shape, dtype=None) -> Array:
    return _made(_np.zeros(shape, dtype=_dtype(dtype)), dtype)


@_placed
def ones(shape, dtype=None) -> Array:
    return _made(_np.ones(shape, dtype=_dtype(dtype)), dtype)


@_placed
def full(shape, fill_value, dtype=None) -> Array:
    return _made(_np.full(shape, fill_value, dtype=_dtype(dtype)), dtype)


@_placed
def empty(shape, dtype=None) -> Array:
    """Zeros: MXNet leaves the values undefined; zeros are one choice of them."""
    return zeros(shape, dtype=dtype)


@_placed
def zeros_like(a, dtype=None) -> Array:
    data = _as_data(a)
    return _made(_np.zeros_like(data, dtype=dtype), data.dtype)


@_placed
def ones_like(a, dtype=None) -> Array:
    data = _as_data(a)
    return _made(_np.ones_like(data, dtype=dtype), data.dtype)


@_placed
def full_like(a, fill_value, dtype=None) -> Array:
    data = _as_data(a)
    return _made(_np.full_like(data, fill_value, dtype=dtype), data.dtype)


@_placed
def arange(*args, dtype=None) -> Array:
    return Array(_np.arange(*args, dtype=_dtype(dtype)), dtype=_dtype(dtype))


@_placed
def linspace(start, stop, num=50, endpoint=True, dtype=None) -> Array:
    return Array(_np.linspace(start, stop, num, endpoint=endpoint, dtype=_dtype(dtype)),
                 dtype=_dtype(dtype))


@_placed
def eye(N, M=None, k=0, dtype=None) -> Array:  # noqa: N803 - numpy's names
    return Array(_np.eye(N, M, k, dtype=_dtype(dtype)), dtype=_dtype(dtype))


def meshgrid(*xi, indexing="xy") -> list:
    return [Array(g, dtype=g.dtype) for g in _np.meshgrid(*map(_as_data, xi), indexing=indexing)]


def argmax(a, axis=None, keepdims=False) -> Array:
    return Array(_np.argmax(_as_data(a), axis=axis, keepdims=keepdims))


class _Linalg:
    """np.linalg: `norm` (the 2-norm, differentiable)."""

    norm = staticmethod(_ops.norm)


linalg = _Linalg()


class _Random:
    """np.random: one seeded generator; draws come out in the default float dtype."""

    def __init__(self):
        self.generator = _np.random.default_rng()

    def seed(self, seed=None):
        self.generator = _np.random.default_rng(seed)

    @_placed
    def normal(self, loc=0.0, scale=1.0, size=None, dtype=None) -> Array:
        draw = self.generator.standard_normal(size, dtype=_dtype(dtype))
        return _made(_np.asarray(draw * scale + loc, dtype=_dtype(dtype)), dtype)

    @_placed
    def uniform(self, low=0.0, high=1.0, size=None, dtype=None) -> Array:
        draw = self.generator.random(size, dtype=_dtype(dtype))
        return _made(_np.asarray(draw * (high - low) + low, dtype=_dtype(dtype)), dtype)

    @_placed
    def randn(self, *shape, dtype=None) -> Array:
        return self.normal(size=shape or None, dtype=dtype)

    @_placed
    def rand(self, *shape, dtype=None) -> Array:
        return self.uniform(size=shape or None, dtype=dtype)

    @_placed
    def randint(self, low, high=None, size=None, dtype=_np.int64) -> Array:
        return Array(self.generator.integers(low, high, size=size, dtype=dtype))

    def multinomial(self, n, pvals, size=None) -> Array:
        """Counts of `n` draws over the outcomes `pvals` (int64), as MXNet's (d2l's dice)."""
        out = self.generator.multinomial(n, _as_data(pvals) if isinstance(pvals, Array)
                                         else pvals, size=size)
        return Array(out, dtype=out.dtype)

    def shuffle(self, x) -> None:
        """Shuffle `x` in place along its first axis (MXNet's and NumPy's)."""
        data = _as_data(x)
        data[...] = self.generator.permutation(data)

    def permutation(self, x) -> Array:
        out = self.generator.permutation(_as_data(x) if isinstance(x, Array) else x)
        return Array(out, dtype=out.dtype if isinstance(x, int) else _as_data(x).dtype)

    def choice(self, a, size=None, replace=True, p=None) -> Array:
        """Draws from `a` (an array, or range(a) for a whole number); integers stay int64."""
        pool = _as_data(a) if isinstance(a, Array) else a
        out = _np.asarray(self.generator.choice(pool, size=size, replace=replace,
                                                p=None if p is None else _as_data(p)))
        return Array(out, dtype=out.dtype)


random = _Random()
