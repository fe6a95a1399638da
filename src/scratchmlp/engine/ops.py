"""The differentiable ops: each forward sits beside its gradient rule (its VJP).

An op is a plain function over ndarrays that returns `(out, vjps)`: the result and, for each
positional input, a function from the output's gradient to that input's gradient. The `op`
decorator does the bookkeeping for all of them in one place: it unwraps Arrays, records the
graph only while `record()` is on and an input needs a gradient, and skips the rules of inputs
that need none; `backward()` undoes NumPy broadcasting for every input (`unbroadcast`).
"""

from __future__ import annotations

import functools

import numpy as np

from ..errors import ScratchMLPError
from .array import Array, is_recording as _recording, unbroadcast  # noqa: F401


def _wrap(data: np.ndarray) -> Array:
    result = Array.__new__(Array)  # skip __init__'s dtype conversion: ops keep their dtype
    result.data, result.grad, result._grad_attached = data, None, False
    result._parents, result._vjps = (), ()
    return result


def op(forward=None, *, arithmetic: bool = False):
    """Turn `forward(*ndarrays, **options) -> (out, vjps)` into a differentiable op on Arrays.
    `arithmetic` ops take numbers on every side, so integer and boolean NumPy constants are
    cast to the Arrays' float dtype too (other ops take integer labels, masks, indices)."""
    if forward is None:
        return functools.partial(op, arithmetic=arithmetic)
    constant_kinds = "fiub" if arithmetic else "f"

    @functools.wraps(forward)
    def differentiable(*inputs, **options):
        raw = _unwrap(inputs, constant_kinds)
        out, vjps = forward(*raw, **options)
        result = _wrap(out if type(out) is np.ndarray else np.asarray(out))
        if _recording():
            parents = tuple(x if isinstance(x, Array) and x.requires_grad else None
                            for x in inputs)
            if any(parent is not None for parent in parents):
                # Broadcasting is undone by backward(), once for every op (see `unbroadcast`).
                result._parents = parents
                result._vjps = tuple(vjp if parent is not None else None
                                     for vjp, parent in zip(vjps, parents))
        return result

    return differentiable


def _unwrap(inputs, kinds: str = "f") -> list:
    """The ndarrays behind the inputs. A NumPy constant of one of `kinds` takes the Arrays' float
    dtype, as a Python float does (and as MXNet casts scalars): float32 * np.float64(0.5) and
    float32 * np.arange(3) stay float32."""
    raw = [x.data if isinstance(x, Array) else x for x in inputs]
    for x in inputs:
        if isinstance(x, (np.ndarray, np.generic)) and x.dtype.kind in kinds:
            return _cast_constants(inputs, raw, kinds)
    return raw


def _cast_constants(inputs, raw, kinds: str) -> list:
    floats = [x.data.dtype for x in inputs if isinstance(x, Array) and x.data.dtype.kind == "f"]
    if floats:
        target = floats[0] if len(floats) == 1 else np.result_type(*floats)
        for i, x in enumerate(inputs):
            if (isinstance(x, (np.ndarray, np.generic)) and x.dtype.kind in kinds
                    and x.dtype != target):
                raw[i] = x.astype(target)
    return raw


# ---- elementwise arithmetic (broadcasting undone by backward) ----------------------------
@op(arithmetic=True)
def add(a, b):
    return np.add(a, b), (lambda g: g, lambda g: g)


@op(arithmetic=True)
def subtract(a, b):
    return np.subtract(a, b), (lambda g: g, np.negative)


@op(arithmetic=True)
def multiply(a, b):
    return np.multiply(a, b), (lambda g: g * b, lambda g: g * a)


@op(arithmetic=True)
def divide(a, b):
    return np.divide(a, b), (lambda g: g / b, lambda g: -g * a / (b * b))


@op
def negative(a):
    return np.negative(a), (np.negative,)


@op(arithmetic=True)
def power(a, b):
    out = np.power(a, b)
    return out, (lambda g: g * b * np.power(a, b - 1), lambda g: g * out * np.log(a))


# maximum/minimum/relu route the gradient by multiplying it with a boolean mask, as MXNet's
# backward does: several times faster than np.where. (A non-finite incoming gradient thus
# stays NaN where the mask is 0 instead of becoming 0; it only arises after divergence.)
@op(arithmetic=True)
def maximum(a, b):
    # Ties send the gradient to `b`, so relu = maximum(x, 0) has derivative 0 at x == 0.
    return np.maximum(a, b), (lambda g: g * (a > b), lambda g: g * ~(a > b))


@op(arithmetic=True)
def minimum(a, b):
    return np.minimum(a, b), (lambda g: g * (a < b), lambda g: g * ~(a < b))


# ---- elementwise functions ---------------------------------------------------------------
@op
def exp(a):
    out = np.exp(a)
    return out, (lambda g: g * out,)


@op
def log(a):
    return np.log(a), (lambda g: g / a,)


@op
def sqrt(a):
    out = np.sqrt(a)
    return out, (lambda g: g * 0.5 / out,)


@op
def tanh(a):
    out = np.tanh(a)
    return out, (lambda g: g * (1 - out * out),)


@op
def sigmoid(a):
    out = np.exp(-np.logaddexp(0, -a))  # 1 / (1 + e^-a) without overflow for large |a|
    return out, (lambda g: g * out * (1 - out),)


@op
def relu(a):
    out = np.maximum(a, 0)
    return out, (lambda g: g * (a > 0),)


@op
def dropout(a, keep):
    """Inverted dropout: `keep` is the 0/(1/(1-p)) mask, drawn by the caller; no gradient to it."""
    return np.multiply(a, keep), (lambda g: g * keep, None)


# ---- linear algebra ------------------------------------------------------------------------
@op(arithmetic=True)
def matmul(a, b):
    """NumPy's matmul; 1-d operands are promoted and batch dimensions broadcast."""
    a, b = np.asarray(a), np.asarray(b)
    if a.ndim == 0 or b.ndim == 0:
        raise ScratchMLPError("matmul/dot of a scalar: use * instead")
    out = np.matmul(a, b)
    if a.ndim == 1 and b.ndim == 1:
        return out, (lambda g: g * b, lambda g: g * a)
    if b.ndim == 1:  # (..., m, k) @ (k,) -> (..., m)
        return out, (lambda g: g[..., None] * b,
                     lambda g: a.reshape(-1, a.shape[-1]).T @ g.reshape(-1))
    if a.ndim == 1:  # (k,) @ (..., k, n) -> (..., n)
        return out, (lambda g: (b @ g[..., None])[..., 0],
                     lambda g: a[:, None] * g[..., None, :])
    # BLAS reads the transposed views directly: no copies.
    return out, (lambda g: g @ np.swapaxes(b, -1, -2), lambda g: np.swapaxes(a, -1, -2) @ g)


def dot(a, b):
    """np.dot for the cases a network needs: the second operand has at most 2 dimensions."""
    if np.ndim(b) > 2:
        raise ScratchMLPError("dot with a second operand of more than 2 dimensions is not "
                              "supported: use matmul")
    return matmul(a, b)


# ---- the fused layer: the MLP's fast path (the chapter's np.dot(X, W) + b stays general) ----
def _once(rule):
    """`rule(g)` computed once for the gradient that backward() hands to each of an op's VJPs."""
    last = [None, None]

    def cached(g):
        if last[0] is not g:
            last[0], last[1] = g, rule(g)
        return last[1]

    return cached


@op
def linear(x, weight, bias, relu=False):
    """`x @ weight + bias` for rows `x` (then max(., 0) with `relu`), in the product's buffer.

    One op instead of two or three: no separate arrays for the sum and the activation, and
    backward masks the gradient once for all three inputs (relu' read off the output).
    """
    out = np.matmul(x, weight)
    out += bias
    if relu:
        np.maximum(out, 0, out=out)
        g_out = _once(lambda g: g * (out > 0))
    else:
        g_out = _once(lambda g: g)  # noqa: E731 (keeps the three rules alike)
    return out, (lambda g: g_out(g) @ np.swapaxes(weight, -1, -2),
                 lambda g: np.swapaxes(x, -1, -2) @ g_out(g),
                 lambda g: g_out(g).sum(axis=0))


# ---- reductions and shape (note: `sum` and `max` below shadow the builtins in this module) --
def _expand(g, shape, axis, keepdims):
    if axis is not None and not keepdims:
        g = np.expand_dims(g, axis)
    return np.broadcast_to(g, shape)


@op
def sum(a, axis=None, keepdims=False):  # noqa: A001 - mirrors numpy's name
    return np.sum(a, axis=axis, keepdims=keepdims), (
        lambda g: _expand(g, np.shape(a), axis, keepdims),)


@op
def mean(a, axis=None, keepdims=False):
    shape = np.shape(a)
    axes = range(len(shape)) if axis is None else np.atleast_1d(axis)
    count = int(np.prod([shape[i] for i in axes]))
    return np.mean(a, axis=axis, keepdims=keepdims), (
        lambda g: _expand(g / count, np.shape(a), axis, keepdims),)


@op
def max(a, axis=None, keepdims=False):  # noqa: A001 - mirrors numpy's name
    top = np.max(a, axis=axis, keepdims=True)

    def vjp(g):  # ties share the gradient equally
        winners = a == top
        g = _expand(g, top.shape, None, True) if keepdims or axis is None else np.expand_dims(g, axis)
        return winners * g / winners.sum(axis=axis, keepdims=True)

    return (top if keepdims else np.squeeze(top, axis=axis)), (vjp,)


@op
def reshape(a, shape):
    return np.reshape(a, shape), (lambda g: np.reshape(g, np.shape(a)),)


@op
def transpose(a, axes=None):
    # argsort of the axes inverts the permutation only once negative axes are made positive
    inverse = None if axes is None else np.argsort([i % np.ndim(a) for i in axes])
    return np.transpose(a, axes), (lambda g: np.transpose(g, inverse),)


def _is_advanced(key) -> bool:
    keys = key if isinstance(key, tuple) else (key,)
    return any(isinstance(k, (list, range, np.ndarray)) for k in keys)


@op
def getitem(a, key):
    def vjp(g):
        full = np.zeros_like(a, dtype=g.dtype)
        if _is_advanced(key):
            np.add.at(full, key, g)  # repeated indices add up
        else:
            full[key] = g
        return full

    return a[key], (vjp,)


# ---- losses --------------------------------------------------------------------------------
def _labels(labels, rows) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.dtype.kind not in "iu":
        labels = labels.astype(np.intp)
    if labels.shape != (rows,):
        raise ScratchMLPError(f"labels of shape {labels.shape} do not fit {rows} rows of logits")
    return labels


@op
def log_softmax(a, axis=-1):
    shifted = a - np.max(a, axis=axis, keepdims=True)
    out = shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))
    return out, (lambda g: g - np.exp(out) * np.sum(g, axis=axis, keepdims=True),)


@op
def softmax_cross_entropy(logits, labels):
    """Per-example -log softmax(logits)[label], via log-sum-exp; forward and backward fused."""
    rows = np.arange(logits.shape[0])
    labels = _labels(labels, logits.shape[0])
    shifted = logits - logits.max(axis=1, keepdims=True)  # methods: no wrapper per call
    exps = np.exp(shifted)
    totals = exps.sum(axis=1, keepdims=True)
    loss = np.log(totals[:, 0]) - shifted[rows, labels]
    spare = [exps]  # the first backward builds (softmax - onehot) * g in exps' memory

    def vjp(g):  # a second backward() of the same graph finds exps spent and recomputes them
        probs = spare.pop() if spare else np.exp(shifted)
        probs /= totals
        probs[rows, labels] -= 1
        probs *= g[:, None]
        return probs

    return loss, (vjp, None)


# ---- operators on Array --------------------------------------------------------------------
def _constant(x):
    return x.data if isinstance(x, Array) else x


def _compare(fn):
    return lambda self, other: Array(fn(self.data, _constant(other)))


def _index(self, key):
    if isinstance(key, tuple):
        key = tuple(_constant(k) for k in key)
    else:
        key = _constant(key)
    return getitem(self, key)


def _reshape_method(self, *shape, **kwargs):
    shape = kwargs.get("shape", shape[0] if len(shape) == 1 else shape)
    return reshape(self, shape)


def _transpose_method(self, *axes):
    return transpose(self, (axes[0] if len(axes) == 1 else axes) or None)


def _argmax(self, axis=None):
    return Array(np.argmax(self.data, axis=axis))


Array.__add__ = lambda self, other: add(self, other)
Array.__radd__ = lambda self, other: add(other, self)
Array.__sub__ = lambda self, other: subtract(self, other)
Array.__rsub__ = lambda self, other: subtract(other, self)
Array.__mul__ = lambda self, other: multiply(self, other)
Array.__rmul__ = lambda self, other: multiply(other, self)
Array.__truediv__ = lambda self, other: divide(self, other)
Array.__rtruediv__ = lambda self, other: divide(other, self)
Array.__pow__ = lambda self, other: power(self, other)
Array.__rpow__ = lambda self, other: power(other, self)
Array.__matmul__ = lambda self, other: matmul(self, other)
Array.__rmatmul__ = lambda self, other: matmul(other, self)
Array.__neg__ = lambda self: negative(self)
Array.__getitem__ = _index
Array.__eq__ = _compare(np.equal)
Array.__ne__ = _compare(np.not_equal)
Array.__lt__ = _compare(np.less)
Array.__le__ = _compare(np.less_equal)
Array.__gt__ = _compare(np.greater)
Array.__ge__ = _compare(np.greater_equal)
Array.__hash__ = object.__hash__
Array.reshape = _reshape_method
Array.transpose = _transpose_method
Array.T = property(lambda self: transpose(self))
Array.sum = lambda self, axis=None, keepdims=False: sum(self, axis=axis, keepdims=keepdims)
Array.mean = lambda self, axis=None, keepdims=False: mean(self, axis=axis, keepdims=keepdims)
Array.max = lambda self, axis=None, keepdims=False: max(self, axis=axis, keepdims=keepdims)
Array.exp = lambda self: exp(self)
Array.log = lambda self: log(self)
Array.argmax = _argmax
