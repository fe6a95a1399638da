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
from .array import (  # noqa: F401 - re-exported: the ops behind Array's operators
    add, divide, exp, getitem, log, matmul, max, mean, multiply, negative, op, power, reshape,
    subtract, sum, transpose,
)


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


# ---- linear algebra (matmul is in array.py, behind `@`) -------------------------------------
def dot(a, b):
    """np.dot for the cases a network needs: the second operand has at most 2 dimensions."""
    if np.ndim(b) > 2:
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
