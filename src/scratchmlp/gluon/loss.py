"""`gluon.loss`: one loss per example, as Gluon's (mean over all but the batch axis)."""

from __future__ import annotations

import numpy as np

from ..engine import ops
from ..errors import ScratchMLPError
from ..nn.losses import check_labels


class Loss:
    def __init__(self, weight=None, batch_axis=0):
        self.weight, self.batch_axis = weight, batch_axis

    def __call__(self, pred, label):
        return self.forward(pred, label)

    def _per_example(self, loss):
        if self.weight is not None:
            loss = loss * self.weight
        axes = tuple(i for i in range(np.ndim(loss)) if i != self.batch_axis)
        return ops.mean(loss, axis=axes) if axes else loss


class L2Loss(Loss):
    """weight/2 * (pred - label)^2 (the label reshaped to the prediction's shape)."""

    def __init__(self, weight=1.0, batch_axis=0):
        super().__init__(weight, batch_axis)

    def forward(self, pred, label):
        diff = pred - ops.reshape(label, np.shape(pred))
        return self._per_example(diff * diff / 2)


class L1Loss(Loss):
    def forward(self, pred, label):
        return self._per_example(ops.abs(pred - ops.reshape(label, np.shape(pred))))


class SoftmaxCrossEntropyLoss(Loss):
    """-log softmax(pred)[label] per example, from logits and integer (or integral) labels."""

    def __init__(self, axis=-1, sparse_label=True, from_logits=False, weight=None, batch_axis=0):
        super().__init__(weight, batch_axis)
        self.axis, self.sparse_label, self.from_logits = axis, sparse_label, from_logits

    def forward(self, pred, label):
        if not -np.ndim(pred) <= self.axis < np.ndim(pred):
            raise ScratchMLPError(f"{type(self).__name__}: axis {self.axis} is outside "
                                  f"predictions of shape {tuple(np.shape(pred))}")
        if self.sparse_label:
            check_labels(label, np.shape(pred)[self.axis])
        if self.sparse_label and not self.from_logits and np.ndim(pred) == 2 \
                and self.axis in (-1, 1):
            return self._per_example(ops.softmax_cross_entropy(pred, label))
        log_p = pred if self.from_logits else ops.log_softmax(pred, axis=self.axis)
        if self.sparse_label:
            return self._per_example(-ops.pick(log_p, label, axis=self.axis))
        return self._per_example(-ops.sum(log_p * label, axis=self.axis, keepdims=True))


SoftmaxCELoss = SoftmaxCrossEntropyLoss
