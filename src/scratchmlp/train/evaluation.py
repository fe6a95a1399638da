"""A model judged in depth: class probabilities, the confusion matrix, per-class accuracy.

Plain NumPy values out; the CLI prints them and the report room draws them.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from ..engine import Array
from ..errors import ScratchMLPError
from ..npx import softmax  # the one softmax: exp(log_softmax), the engine's
from .loop import eval_mode


def probabilities(net, images, batch_size: int = 1024) -> np.ndarray:
    """float32 (N, classes): the model's class probabilities for images scaled to [0, 1].

    `images` may be (N, 28, 28), (N, 1, 28, 28) or (N, 784), uint8 (0-255, as stored) or float.
    """
    images = np.asarray(images)
    scale = np.float32(1 / 255) if images.dtype == np.uint8 else np.float32(1)
    rows = []
    with eval_mode(net), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # overflow: handled below, in one line
        for start in range(0, len(images), batch_size):
            batch = np.multiply(images[start:start + batch_size], scale, dtype=np.float32)
            rows.append(softmax(_finite_logits(net(batch))).data)
    return np.concatenate(rows) if rows else np.zeros((0, 0), dtype=np.float32)


def _finite_logits(logits) -> np.ndarray:
    """Logits as finite float32. Huge (finite) weights can overflow float32: an infinite logit
    still ranks its class (as the training loop's argmax does), so it becomes the largest
    float32; a NaN ranks nothing (predict printed "nan%" with exit 0), so it is refused."""
    logits = np.asarray(logits.data if isinstance(logits, Array) else logits, dtype=np.float32)
    if np.isnan(logits).any():
        raise ScratchMLPError("the model's outputs overflow float32 to NaN on these images "
                              "(its weights are far too large): not a usable model")
    return np.nan_to_num(logits, posinf=np.finfo(np.float32).max,
                         neginf=np.finfo(np.float32).min)


def top_k(probs: np.ndarray, k: int = 3):
    """Per row, the k (class index, probability) pairs with the highest probability."""
    k = min(k, probs.shape[1])
    order = np.argsort(-probs, axis=1, kind="stable")[:, :k]
    return [[(int(c), float(row[c])) for c in classes] for row, classes in zip(probs, order)]


def confusion_matrix(truth, guesses, num_classes: int) -> np.ndarray:
    """int64 (C, C): row = true class, column = predicted class."""
    truth, guesses = np.asarray(truth, dtype=np.int64), np.asarray(guesses, dtype=np.int64)
    return np.bincount(truth * num_classes + guesses,
                       minlength=num_classes * num_classes).reshape(num_classes, num_classes)


@dataclass
class Evaluation:
    """A confusion matrix and the class names; every other figure is read from it."""

    confusion: np.ndarray
    labels: tuple

    @property
    def n(self) -> int:
        return int(self.confusion.sum())

    @property
    def correct(self) -> np.ndarray:
        return np.diag(self.confusion)

    @property
    def support(self) -> np.ndarray:
        return self.confusion.sum(axis=1)

    @property
    def accuracy(self) -> float:
        return float(self.correct.sum() / self.n) if self.n else float("nan")

    @property
    def per_class_accuracy(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.correct / self.support

    def most_confused_with(self, c: int):
        """(other class, count) that class `c` is most often mistaken for, or None."""
        row = self.confusion[c].copy()
        row[c] = 0
        return (int(row.argmax()), int(row.max())) if row.max() > 0 else None

    def to_dict(self) -> dict:
        per_class = []
        for c, name in enumerate(self.labels):
            accuracy = self.per_class_accuracy[c]
            per_class.append({"class": c, "name": name, "n": int(self.support[c]),
                              "correct": int(self.correct[c]),
                              "accuracy": float(accuracy) if np.isfinite(accuracy) else None})
        return {"n": self.n, "accuracy": self.accuracy, "labels": list(self.labels),
                "per_class": per_class, "confusion": self.confusion.tolist()}


def evaluate_model(net, images, labels, class_names, batch_size: int = 1024) -> Evaluation:
    """Predict every image and tabulate the result against `labels`."""
    guesses = probabilities(net, images, batch_size).argmax(axis=1)
    return Evaluation(confusion_matrix(labels, guesses, len(class_names)), tuple(class_names))
