"""Softmax cross-entropy from logits and integer labels, one value per example (like Gluon's)."""

from __future__ import annotations

from ..engine import ops
from ..engine.ops import check_labels  # noqa: F401 - re-exported: gluon.loss checks with it


def softmax_cross_entropy(logits, labels):
    """-log softmax(logits)[label] per row, via log-sum-exp: finite for logits of +-1e4."""
    return ops.softmax_cross_entropy(logits, labels)  # the op checks the labels


class SoftmaxCrossEntropyLoss:
    """Callable twin of `gluon.loss.SoftmaxCrossEntropyLoss()`: `loss(y_hat, y)` -> (B,) losses."""

    def __call__(self, y_hat, y):
        return ops.softmax_cross_entropy(y_hat, y)
