"""The differentiable ops beyond `Array`'s operators: each forward sits beside its gradient rule.

The ops behind the operators (`add`, `multiply`, `matmul`, `sum`, `reshape`, `getitem`, ...)
are defined in `array.py` beside the class and re-exported here, so `ops` is the whole table.
Every op is made with `array.op`: a function over ndarrays that returns the result and either
one vector-Jacobian product (VJP) per input or, for a fused op, one function returning the
gradients of all inputs as a tuple. `backward()` undoes NumPy broadcasting for every input.
"""

from __future__ import annotations

import numpy as np

from ..errors import ScratchMLPError
from . import parallel
from .array import Array
from .array import (  # noqa: F401 - re-exported: the ops behind Array's operators
    add, divide, exp, getitem, log, matmul, max, mean, multiply, negative, op, power, reshape,
    subtract, sum, transpose,
)


def _raw(x):
    return x.data if isinstance(x, Array) else x


# maximum/minimum/relu route the gradient by multiplying it with a boolean mask, as MXNet's
# backward does: several times faster than np.where. (A non-finite incoming gradient thus
# stays NaN where the mask is 0 instead of becoming 0; it only arises after divergence.)
@op(arithmetic=True)
def maximum(a, b):
    # Ties send the gradient to `a`, as MXNet's: maximum(x, 0) has derivative 1 at x == 0
    # (relu below, like npx.relu, has 0 there).
    return np.maximum(a, b), (lambda g: g * (a >= b), lambda g: g * ~(a >= b))


@op(arithmetic=True)
def minimum(a, b):
    return np.minimum(a, b), (lambda g: g * (a <= b), lambda g: g * ~(a <= b))


# ---- elementwise functions ---------------------------------------------------------------
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


@op
def abs(a):  # noqa: A001 - mirrors numpy's name
    return np.abs(a), (lambda g: g * np.sign(a),)


@op
def sin(a):
    return np.sin(a), (lambda g: g * np.cos(a),)


@op
def cos(a):
    return np.cos(a), (lambda g: -g * np.sin(a),)


@op
def sinh(a):
    return np.sinh(a), (lambda g: g * np.cosh(a),)


@op
def cosh(a):
    return np.cosh(a), (lambda g: g * np.sinh(a),)


@op
def clip(a, a_min, a_max):
    low, high = -np.inf if a_min is None else a_min, np.inf if a_max is None else a_max
    inside = (a >= low) & (a <= high)
    return np.clip(a, a_min, a_max), (lambda g: g * inside,)


@op
def _where(condition, x, y):
    return np.where(condition, x, y), (None, lambda g: g * condition, lambda g: g * ~condition)


def where(condition, x, y):
    """x where `condition` holds, else y; the gradient goes to the one chosen."""
    return _where(np.asarray(_raw(condition), dtype=bool), x, y)


# ---- shape ---------------------------------------------------------------------------------
@op
def expand_dims(a, axis):
    return np.expand_dims(a, axis), (lambda g: np.reshape(g, np.shape(a)),)


@op
def squeeze(a, axis=None):
    return np.squeeze(a, axis), (lambda g: np.reshape(g, np.shape(a)),)


@op(arithmetic=True)
def _concatenate(*arrays, axis=0):
    ends = np.cumsum([np.shape(a)[axis] for a in arrays])[:-1]
    # one split of the gradient gives every input its piece: the tuple form of a fused op
    return np.concatenate(arrays, axis=axis), lambda g, needed: np.split(g, ends, axis=axis)


def concatenate(arrays, axis=0):
    if axis is None:  # NumPy's and MXNet's: the arrays flattened, then joined
        arrays, axis = [reshape(a, (-1,)) for a in arrays], 0
    return _concatenate(*arrays, axis=axis)


def hstack(arrays):
    """Joined along the columns (the only axis of 1-d arrays), as NumPy's."""
    return concatenate(arrays, axis=0 if np.ndim(_raw(arrays[0])) == 1 else 1)


def vstack(arrays):
    """Joined as rows (1-d arrays become rows), as NumPy's."""
    return concatenate([reshape(a, (1, -1)) if np.ndim(_raw(a)) == 1 else a for a in arrays])


def stack(arrays, axis=0):
    """Arrays of one shape joined along a new axis (each expanded, then concatenated)."""
    return concatenate([expand_dims(a, axis) for a in arrays], axis=axis)


def split(a, indices_or_sections, axis=0):
    """NumPy's split, as slices of `a` (each differentiable, as indexing is)."""
    shape = np.shape(_raw(a))
    size, axis = shape[axis], axis % len(shape)
    if isinstance(indices_or_sections, int):
        if size % indices_or_sections:
            raise ScratchMLPError(f"split: {size} does not divide into "
                                  f"{indices_or_sections} equal sections")
        step = size // indices_or_sections
        bounds = list(range(0, size + 1, step))
    else:
        bounds = [0, *indices_or_sections, size]
    return [getitem(a, (slice(None),) * axis + (slice(lo, hi),))
            for lo, hi in zip(bounds[:-1], bounds[1:])]


@op
def norm(a, ord=None, axis=None, keepdims=False):  # noqa: A002 - numpy's name
    """The 2-norm (Frobenius for a matrix) over all elements or `axis`; no other `ord`."""
    if ord not in (None, 2, "fro"):
        raise ScratchMLPError(f"linalg.norm: only the 2-norm is supported, got ord={ord!r}")
    out = np.sqrt(np.sum(a * a, axis=axis, keepdims=True))

    def vjp(g):
        g = g if keepdims or axis is None else np.expand_dims(g, axis)
        return g * np.divide(a, out, out=np.zeros_like(a), where=out != 0)

    return (out if keepdims else np.squeeze(out, axis=axis)), (vjp,)


@op
def pick(a, index, axis=-1, keepdims=False, mode="clip"):
    """a[..., index[...], ...] along `axis`: one entry per row (npx.pick); no gradient to index.

    As MXNet's: float indices are cut to whole numbers, and one outside 0..n-1 is clipped to
    the nearest end (mode "clip", the default) or taken modulo n ("wrap")."""
    size = np.shape(a)[axis]
    if size == 0:
        raise ScratchMLPError(f"pick: nothing to pick from an axis of length 0 "
                              f"(an array of shape {np.shape(a)})")
    index = np.asarray(index).astype(np.intp)
    if mode == "clip":
        index = np.clip(index, 0, size - 1)
    elif mode == "wrap":
        index = np.mod(index, size)
    else:
        raise ScratchMLPError(f"pick: mode must be 'clip' or 'wrap', got {mode!r}")
    index = np.expand_dims(index, axis)
    out = np.take_along_axis(a, index, axis)

    def vjp(g):
        full = np.zeros_like(a, dtype=g.dtype)
        np.put_along_axis(full, index, g if keepdims else np.expand_dims(g, axis), axis)
        return full

    return (out if keepdims else np.squeeze(out, axis)), (vjp, None)


# ---- more reductions and elementwise functions MXNet's np has -------------------------------
def min(a, axis=None, keepdims=False):  # noqa: A001 - mirrors numpy's name
    """The minimum, as -max(-a): every tie gets the whole gradient, as with max (MXNet's)."""
    return negative(max(negative(a), axis=axis, keepdims=keepdims))


def var(a, axis=None, keepdims=False, ddof=0):
    """The variance (divided by n - ddof), from the differentiable mean."""
    data, axis = np.shape(_raw(a)), tuple(axis) if isinstance(axis, list) else axis
    axes = range(len(data)) if axis is None else np.atleast_1d(axis)
    count = int(np.prod([data[i] for i in axes]))
    centred = a - mean(a, axis=axis, keepdims=True)
    return sum(centred * centred, axis=axis, keepdims=keepdims) / (count - ddof)


def std(a, axis=None, keepdims=False, ddof=0):
    return sqrt(var(a, axis=axis, keepdims=keepdims, ddof=ddof))


@op
def square(a):
    return np.square(a), (lambda g: 2 * g * a,)


@op
def cumsum(a, axis=None, dtype=None):
    """Running sums along `axis` (of the flattened array without one); the gradient of each
    entry is the sum of the incoming gradient over the sums that include it."""
    def vjp(g):
        if axis is None:
            return np.cumsum(g[::-1])[::-1].reshape(np.shape(a))
        return np.flip(np.cumsum(np.flip(g, axis), axis), axis)

    return np.cumsum(a, axis=axis, dtype=dtype), (vjp,)


@op
def broadcast_to(a, shape):
    """`a` stretched to `shape` by NumPy's broadcasting (backward sums it back)."""
    return np.array(np.broadcast_to(a, shape)), (lambda g: g,)


def outer(a, b):
    """The outer product of two vectors (flattened first, as NumPy's)."""
    return multiply(reshape(a, (-1, 1)), reshape(b, (1, -1)))


# ---- linear algebra (matmul is in array.py, behind `@`) -------------------------------------
def dot(a, b):
    """np.dot for the cases a network needs: the second operand has at most 2 dimensions."""
    if np.ndim(_raw(a)) == 0 or np.ndim(_raw(b)) == 0:  # NumPy's and MXNet's: a product
        return multiply(a, b)
    if np.ndim(_raw(b)) > 2:
        raise ScratchMLPError("dot with a second operand of more than 2 dimensions is not "
                              "supported: use matmul")
    return matmul(a, b)


# ---- the fused layer: the MLP's fast path (the chapter's np.dot(X, W) + b stays general) ----
@op
def linear(x, weight, bias, relu=False):
    """`x @ weight + bias` for rows `x` (then max(., 0) with `relu`), in the product's buffer.

    One op instead of two or three: no separate arrays for the sum and the activation, and
    backward masks the gradient once for all three inputs (relu' read off the output).
    """
    out = parallel.linear(x, weight, bias, relu)  # chunks on threads, bytes independent of them

    def backward(g, needed):
        if relu:
            g = g * (out > 0)
        return (parallel.matmul(g, np.swapaxes(weight, -1, -2)) if needed[0] else None,
                parallel.matmul(np.swapaxes(x, -1, -2), g) if needed[1] else None,
                g.sum(axis=0) if needed[2] else None)

    return out, backward


# ---- losses --------------------------------------------------------------------------------
def check_labels(labels, classes: int):
    """`labels` when they are class numbers 0 .. classes-1 (whole numbers, integer or float,
    as MXNet's loaders give), else one line naming the first that is not: indexing the
    logits with them gave an IndexError for 10 of 5 classes and a silently wrong loss for -1
    (the last class) or 1.5 (class 1)."""
    if classes < 1:
        raise ScratchMLPError("labels need logits with at least one class; these have none")
    values = np.asarray(labels)
    if values.dtype.kind == "f":
        bad = ~np.isfinite(values) | (values != np.round(values))
        if bad.any():
            raise ScratchMLPError(f"labels must be class numbers 0-{classes - 1}, found "
                                  f"{float(values[bad].flat[0]):g} (not a whole number)")
    elif values.dtype.kind not in "iu":
        raise ScratchMLPError(f"labels must be class numbers 0-{classes - 1}, got "
                              f"{values.dtype} values")
    if values.size and (values.min() < 0 or values.max() >= classes):
        bad = values[(values < 0) | (values >= classes)].flat[0]
        raise ScratchMLPError(f"labels must be class numbers 0-{classes - 1} (one per column "
                              f"of the logits), found {bad:g}")
    return labels


def _labels(labels, logits) -> np.ndarray:
    """One class number per row of `logits`, as integers (checked: see check_labels)."""
    labels = np.asarray(labels)
    rows = logits.shape[0]
    if labels.shape != (rows,):
        raise ScratchMLPError(f"labels of shape {labels.shape} do not fit {rows} rows of logits")
    check_labels(labels, logits.shape[1])
    return labels if labels.dtype.kind in "iu" else labels.astype(np.intp)


@op
def log_softmax(a, axis=-1):
    shifted = a - np.max(a, axis=axis, keepdims=True)
    out = shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))
    return out, (lambda g: g - np.exp(out) * np.sum(g, axis=axis, keepdims=True),)


@op
def softmax_cross_entropy(logits, labels):
    """Per-example -log softmax(logits)[label], via log-sum-exp; forward and backward fused."""
    rows = np.arange(logits.shape[0])
    labels = _labels(labels, logits)
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
