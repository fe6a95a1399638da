"""`gluon.loss`: one loss per example, as Gluon's (mean over all but the batch axis)."""

from __future__ import annotations

import numpy as np

from ..engine import ops
from ..errors import ScratchMLPError
from ..nn.losses import check_labels


class Loss:
    def __init__(self, weight=None, batch_axis=0):
        self.weight, self.batch_axis = weight, batch_axis

    def __call__(self, pred, label, sample_weight=None):
        """The loss per example; `sample_weight` (broadcast against the loss) scales each
        entry before the mean, as Gluon's."""
        return self.forward(pred, label, sample_weight)

    def _per_example(self, loss, sample_weight=None):
        if sample_weight is not None:
            if np.ndim(loss) == 1 and np.ndim(sample_weight) == 2:  # Gluon's picked loss is
                loss = ops.reshape(loss, (-1, 1))  # a column: a (n, 1) weight scales its rows
            loss = loss * sample_weight
        if self.weight is not None:
            loss = loss * self.weight
        axes = tuple(i for i in range(np.ndim(loss)) if i != self.batch_axis)
        return ops.mean(loss, axis=axes) if axes else loss


class L2Loss(Loss):
    """weight/2 * (pred - label)^2 (the label reshaped to the prediction's shape)."""

    def __init__(self, weight=1.0, batch_axis=0):
        super().__init__(weight, batch_axis)

    def forward(self, pred, label, sample_weight=None):
        diff = pred - ops.reshape(label, np.shape(pred))
        return self._per_example(diff * diff / 2, sample_weight)


class L1Loss(Loss):
    def forward(self, pred, label, sample_weight=None):
        diff = pred - ops.reshape(label, np.shape(pred))
        return self._per_example(ops.abs(diff), sample_weight)


class SoftmaxCrossEntropyLoss(Loss):
    """-log softmax(pred)[label] per example, from logits and integer (or integral) labels."""

    def __init__(self, axis=-1, sparse_label=True, from_logits=False, weight=None, batch_axis=0):
        super().__init__(weight, batch_axis)
        self.axis, self.sparse_label, self.from_logits = axis, sparse_label, from_logits

    def forward(self, pred, label, sample_weight=None):
        if not -np.ndim(pred) <= self.axis < np.ndim(pred):
            raise ScratchMLPError(f"{type(self).__name__}: axis {self.axis} is outside "
                                  f"predictions of shape {tuple(np.shape(pred))}")
        if self.sparse_label:
            if np.ndim(pred) == 2 and np.shape(label) == (np.shape(pred)[0], 1):
                label = ops.reshape(label, (-1,))  # a column of labels, as Gluon's pick takes
            if not self.from_logits and np.ndim(pred) == 2 and self.axis in (-1, 1):
                # the fused op checks its labels itself
                return self._per_example(ops.softmax_cross_entropy(pred, label), sample_weight)
            check_labels(label, np.shape(pred)[self.axis])  # pick would clip them silently
        log_p = pred if self.from_logits else ops.log_softmax(pred, axis=self.axis)
        if self.sparse_label:
            return self._per_example(-ops.pick(log_p, label, axis=self.axis), sample_weight)
        loss = -ops.sum(log_p * label, axis=self.axis, keepdims=True)
        return self._per_example(loss, sample_weight)


SoftmaxCELoss = SoftmaxCrossEntropyLoss


class HuberLoss(Loss):
    """Gluon's smoothed L1: (pred - label)^2 / (2 rho) where |pred - label| < rho, else
    |pred - label| - rho / 2 (times `weight`), averaged per example."""

    def __init__(self, rho=1, weight=None, batch_axis=0):
        super().__init__(weight, batch_axis)
        self.rho = rho

    def forward(self, pred, label, sample_weight=None):
        diff = ops.abs(pred - ops.reshape(label, np.shape(pred)))
        quadratic = diff * diff / (2 * self.rho)
        loss = ops.where(diff > self.rho, diff - self.rho / 2, quadratic)
        return self._per_example(loss, sample_weight)


class SigmoidBinaryCrossEntropyLoss(Loss):
    """Binary cross-entropy of labels in [0, 1]: from logits (the default, computed stably as
    relu(x) - x*label + log(1 + exp(-|x|))) or from probabilities (`from_sigmoid=True`)."""

    def __init__(self, from_sigmoid=False, weight=None, batch_axis=0):
        super().__init__(weight, batch_axis)
        self.from_sigmoid = from_sigmoid

    def forward(self, pred, label, sample_weight=None):
        label = ops.reshape(label, np.shape(pred))
        if self.from_sigmoid:
            eps = 1e-12
            loss = -(ops.log(pred + eps) * label + ops.log(1.0 - pred + eps) * (1.0 - label))
        else:
            loss = (ops.relu(pred) - pred * label
                    + ops.log(ops.exp(-ops.abs(pred)) + 1.0))
        return self._per_example(loss, sample_weight)


SigmoidBCELoss = SigmoidBinaryCrossEntropyLoss


def __getattr__(name):  # an MXNet name we lack: one line (errors.NotProvided), not a traceback
    from ..errors import missing_name
    raise missing_name("gluon.loss", name)
