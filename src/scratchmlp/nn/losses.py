"""Softmax cross-entropy from logits and integer labels, one value per example (like Gluon's)."""

from __future__ import annotations

import numpy as np

from ..engine import ops
from ..errors import ScratchMLPError


def check_labels(labels, classes: int):
    """`labels` when they are class numbers 0 .. classes-1 (whole numbers, integer or float,
    as MXNet's loaders give), else one line naming the first that is not: indexing the
    logits with them gave an IndexError for 10 of 5 classes and a silently wrong loss for -1
    (the last class) or 1.5 (class 1)."""
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


def softmax_cross_entropy(logits, labels):
    """-log softmax(logits)[label] per row, via log-sum-exp: finite for logits of +-1e4."""
    return ops.softmax_cross_entropy(logits, check_labels(labels, np.shape(logits)[-1]))


class SoftmaxCrossEntropyLoss:
    """Callable twin of `gluon.loss.SoftmaxCrossEntropyLoss()`: `loss(y_hat, y)` -> (B,) losses."""

    def __call__(self, y_hat, y):
        return ops.softmax_cross_entropy(y_hat, check_labels(y, np.shape(y_hat)[-1]))
