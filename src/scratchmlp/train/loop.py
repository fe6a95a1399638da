"""d2l's training helpers: Accumulator, accuracy, evaluate_accuracy, train_epoch, train (train_ch3).

The loop reports through plain values: each epoch is a dict (a row of metrics) handed to an
`on_epoch` callback, and `on_batch` hears of each step; nothing here prints or plots, so the
notebook, the CLI and sweeps can each show progress their own way.
"""

from __future__ import annotations

import math
import time

import numpy as np

from ..engine import Array, record
from ..errors import ScratchMLPError


class Accumulator:
    """Sums over `n` variables, as in d2l."""

    def __init__(self, n: int):
        self.data = [0.0] * n

    def add(self, *args):
        self.data = [a + float(b) for a, b in zip(self.data, args)]

    def reset(self):
        self.data = [0.0] * len(self.data)

    def __getitem__(self, idx):
        return self.data[idx]


def _raw(x) -> np.ndarray:
    return x.data if isinstance(x, Array) else np.asarray(x)


def accuracy(y_hat, y) -> float:
    """The number of correct predictions (not the fraction, as in d2l)."""
    y_hat, y = _raw(y_hat), _raw(y)
    if y_hat.ndim > 1 and y_hat.shape[1] > 1:
        y_hat = y_hat.argmax(axis=1)
    return float(np.count_nonzero(y_hat.astype(y.dtype, copy=False) == y))


def evaluate_accuracy(net, data_iter) -> float:
    """Accuracy of `net` over a whole iterator (no recording, no dropout)."""
    with eval_mode(net):
        metric = Accumulator(2)
        for X, y in data_iter:
            metric.add(accuracy(net(X), y), np.size(y))
    return metric[0] / metric[1] if metric[1] else float("nan")


class eval_mode:
    """Switch a model with a `training` flag (dropout) to inference for a block."""

    def __init__(self, net):
        self.net, self.previous = net, getattr(net, "training", None)

    def __enter__(self):
        if self.previous is not None:
            self.net.training = False

    def __exit__(self, *exc):
        if self.previous is not None:
            self.net.training = self.previous


class Diverged(ScratchMLPError):
    """The training loss became NaN or infinite (or exceeded a limit the caller set).

    Facts as fields (epoch, step, what, loss, limit): the CLI turns them into advice naming
    its flags; the message itself names none."""

    def __init__(self, epoch: int, step: int, what: str = "the loss",
                 loss: float = float("nan"), limit: float = None):
        self.epoch, self.step, self.what, self.loss, self.limit = epoch, step, what, loss, limit
        change = ("became NaN/inf" if limit is None
                  else f"reached {loss:.4g}, above the limit {limit:g},")
        super().__init__(f"training diverged: {what} {change} in epoch {epoch} "
                         f"at step {step}; lower the learning rate")


def train_epoch(net, train_iter, loss, updater, on_batch=None, epoch: int = 1,
                loss_limit: float = None, stop_if_diverged: bool = True):
    """One pass over the training data: (mean loss, accuracy). Stops at a NaN/inf loss.

    A model with a `training` flag (dropout) is switched to training for the pass; one with
    `begin_epoch(epoch)` is told the epoch first, to seed its randomness from it. With
    `loss_limit`, a batch whose mean loss exceeds it also counts as diverged (the weights have
    blown up even if the loss stays finite, as it does for ReLU nets whose units all died).
    With `stop_if_diverged=False` it trains on through NaN losses, as d2l's train_ch3 does.
    """
    if hasattr(net, "begin_epoch"):
        net.begin_epoch(epoch)
    if hasattr(net, "training"):
        net.training = True
    total_loss = correct = count = 0.0
    # A blow-up overflows on its way to a NaN loss: report it once, as Diverged (one line
    # from the CLI), not as a screenful of NumPy RuntimeWarnings before it.
    with np.errstate(over="ignore", invalid="ignore"):
        for step, (X, y) in enumerate(train_iter, 1):
            with record():
                y_hat = net(X)
                l = loss(y_hat, y)
            batch_loss = float(l.data.sum())
            if stop_if_diverged:  # before the update: the weights stay finite
                _check_diverged(batch_loss / np.size(y), epoch, step, loss_limit)
            l.backward()
            updater(np.shape(y)[0])
            total_loss += batch_loss
            correct += accuracy(y_hat, y)  # from the logits already computed
            count += np.size(y)
            if on_batch is not None:
                on_batch(step, batch_loss / np.size(y))
    if hasattr(net, "training"):
        net.training = False
    if not count:  # was a ZeroDivisionError
        raise ScratchMLPError("the training iterator yielded no examples: nothing to train on")
    return total_loss / count, correct / count


def _check_diverged(mean_loss: float, epoch: int, step: int, loss_limit: float = None):
    if not math.isfinite(mean_loss):
        raise Diverged(epoch, step)
    if loss_limit is not None and mean_loss > loss_limit:
        raise Diverged(epoch, step, loss=mean_loss, limit=loss_limit)


def train(net, train_iter, test_iter, loss, num_epochs: int, updater,
          on_epoch=None, on_batch=None, start_epoch: int = 1, valid_iter=None,
          loss_limit: float = None, stop_if_diverged: bool = True):
    """d2l's train_ch3: per epoch train loss, train accuracy, test accuracy (and timing).

    Returns the list of rows; `on_epoch(row)` hears of each as soon as it is done. With
    `valid_iter`, each row also holds `val_acc`; `test_iter=None` leaves test_acc NaN.
    """
    rows = []
    for epoch in range(start_epoch, num_epochs + 1):
        start = time.perf_counter()
        train_loss, train_acc = train_epoch(net, train_iter, loss, updater, on_batch=on_batch,
                                            epoch=epoch, loss_limit=loss_limit,
                                            stop_if_diverged=stop_if_diverged)
        test_acc = evaluate_accuracy(net, test_iter) if test_iter is not None else float("nan")
        valid_acc = evaluate_accuracy(net, valid_iter) if valid_iter is not None else None
        seconds = time.perf_counter() - start
        examples = len(train_iter.labels) if hasattr(train_iter, "labels") else float("nan")
        row = {"epoch": epoch, "train_loss": train_loss, "train_acc": train_acc,
               "test_acc": test_acc, "seconds": seconds,
               "examples_per_s": examples / seconds if seconds > 0 else float("nan")}
        if valid_acc is not None:
            row["val_acc"] = valid_acc
        rows.append(row)
        if on_epoch is not None:
            on_epoch(row)
    return rows


def predict(net, test_iter, n: int = 6):
    """The first `n` test images with their true and predicted labels (d2l's predict_ch3)."""
    from .. import ranges
    if not ranges.RANGES["subset"].holds(n):  # -3 took X[:-3], 0 a reshape error
        raise ScratchMLPError(f"predict: n must be a positive whole number, got {n!r}")
    images, truth, guesses = [], [], []
    with eval_mode(net):
        for X, y in test_iter:
            take = min(n - len(truth), len(y))
            images.append(np.asarray(X[:take]))
            truth.extend(np.asarray(y[:take]).tolist())
            guesses.extend(_raw(net(X[:take])).argmax(axis=1).tolist())
            if len(truth) >= n:
                break
    return np.concatenate(images).reshape(-1, 28, 28), truth, guesses
