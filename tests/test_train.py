"""d2l's training helpers: Accumulator, accuracy, evaluate_accuracy, sgd, train_epoch, train.

The chapter itself, as written (its `np`, its net, its loss, `d2l.sgd` with the real batch
size), trains one epoch on the real Fashion-MNIST and must reach test accuracy >= 0.75.
"""

from __future__ import annotations

import math
import warnings

import numpy
import pytest

from scratchmlp import ScratchMLPError, autograd, d2l, np
from scratchmlp.data import DataIter
from scratchmlp.engine import Array
from scratchmlp.nn import MLP, SGD, SoftmaxCrossEntropyLoss
from scratchmlp.train import Accumulator, Diverged, accuracy, evaluate_accuracy, predict, train


def tiny_iter(n=10, batch_size=4, shuffle=False, seed=0):
    rng = numpy.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 28, 28), dtype=numpy.uint8)
    return DataIter(images, rng.integers(0, 10, n), batch_size, shuffle=shuffle, seed=seed)


# ---- small helpers -------------------------------------------------------------------------
def test_accumulator():
    metric = Accumulator(3)
    metric.add(1, 2.5, numpy.float32(3))
    metric.add(Array(numpy.array(2.0)), 0.5, 1)
    assert metric.data == [3.0, 3.0, 4.0] and metric[1] == 3.0
    assert all(type(v) is float for v in metric.data)
    metric.reset()
    assert metric.data == [0.0, 0.0, 0.0]


def test_accuracy_counts_correct_predictions():
    y_hat = numpy.array([[0.1, 0.9, 0.0], [0.8, 0.1, 0.1], [0.2, 0.3, 0.5], [0.0, 0.4, 0.6]])
    y = numpy.array([1, 0, 0, 2])
    assert accuracy(y_hat, y) == 3.0  # a count, not a fraction, as in d2l
    assert accuracy(Array(y_hat), Array(y)) == 3.0
    assert accuracy(numpy.array([1, 0, 2, 2]), y) == 3.0  # already predicted labels
    assert accuracy(y_hat.astype(numpy.float32), y.astype(numpy.int32)) == 3.0


def test_evaluate_accuracy_weighs_every_example_once():
    data_iter = tiny_iter(n=10, batch_size=4)  # batches of 4, 4, 2
    first = data_iter.labels[0]
    always_first = lambda X: Array(numpy.eye(10, dtype=numpy.float32)[numpy.full(len(X), first)])
    expected = numpy.mean(data_iter.labels == first)
    assert 0 < expected < 1
    assert evaluate_accuracy(always_first, data_iter) == pytest.approx(expected)
    assert evaluate_accuracy(_OracleNet(data_iter), data_iter) == 1.0


class _OracleNet:
    """Answers right by looking each image up: accuracy must come out exactly 1."""

    def __init__(self, data_iter):
        self.answers = {img.tobytes(): int(y) for img, y in zip(data_iter.images, data_iter.labels)}

    def __call__(self, X):
        images = numpy.rint(X.reshape(-1, 28, 28) * 255).astype(numpy.uint8)
        labels = [self.answers[img.tobytes()] for img in images]
        return Array(numpy.eye(10, dtype=numpy.float32)[labels])


def test_sgd_is_lr_times_grad_over_batch_size():
    W = Array(numpy.ones((2, 2), numpy.float32))
    W.attach_grad()
    W.grad[...] = [[1, 2], [3, 4]]
    d2l.sgd([W], 0.5, 4)
    numpy.testing.assert_allclose(W.data, 1 - 0.5 * numpy.array([[1, 2], [3, 4]]) / 4)
    assert W.dtype == numpy.float32


def test_sgd_class_matches_the_function():
    first, second = MLP(784, [8], 10, seed=1), MLP(784, [8], 10, seed=1)
    for model in (first, second):
        for p in model.params:
            p.grad[...] = numpy.random.default_rng(2).standard_normal(p.shape)
    d2l.sgd(first.params, 0.3, 7)
    SGD(second.params, 0.3).step(7)
    for a, b in zip(first.params, second.params):
        numpy.testing.assert_allclose(a.data, b.data, rtol=1e-6)


def test_train_epoch_updates_with_the_real_batch_size():
    """The last partial batch (10 = 4 + 4 + 2) is divided by 2, not by 4."""
    net, loss, seen = MLP(784, [8], 10, seed=0), SoftmaxCrossEntropyLoss(), []
    batches = list(tiny_iter(n=10, batch_size=4))

    def updater(batch_size):
        X, y = batches[len(seen)]
        seen.append(batch_size)
        got = [p.grad.copy() for p in net.params]
        with autograd.record():
            l = loss(net(X), y).sum()  # the gradient train_epoch should have taken
        l.backward()
        for g, p in zip(got, net.params):
            numpy.testing.assert_allclose(g, p.grad, rtol=1e-5, atol=1e-8)
        d2l.sgd(net.params, 0.1, batch_size)

    train_loss, train_acc = d2l.train_epoch(net, iter(batches), loss, updater)
    assert seen == [4, 4, 2]
    assert math.isfinite(train_loss) and 0 <= train_acc <= 1


def test_train_reports_a_row_per_epoch():
    net, rows_seen = MLP(784, [8], 10, seed=0), []
    rows = train(net, tiny_iter(n=12, batch_size=5, shuffle=True), tiny_iter(n=6, seed=1),
                 SoftmaxCrossEntropyLoss(), 2, lambda bs: d2l.sgd(net.params, 0.1, bs),
                 on_epoch=rows_seen.append)
    assert rows == rows_seen and [r["epoch"] for r in rows] == [1, 2]
    for row in rows:
        assert set(row) >= {"epoch", "train_loss", "train_acc", "test_acc", "seconds",
                            "examples_per_s"}
        assert row["train_loss"] > 0 and 0 <= row["train_acc"] <= 1 and 0 <= row["test_acc"] <= 1
        assert row["seconds"] > 0 and row["examples_per_s"] > 0


def test_predict_returns_the_first_test_images():
    data_iter = tiny_iter(n=10, batch_size=4)
    net = _OracleNet(data_iter)
    images, truth, guesses = predict(net, data_iter, n=6)  # spans two batches
    assert images.shape == (6, 28, 28)
    assert truth == data_iter.labels[:6].tolist() == guesses
    numpy.testing.assert_allclose(images * 255, data_iter.images[:6], atol=1e-3)


# ---- divergence ----------------------------------------------------------------------------
def test_a_diverging_run_raises_naming_the_epoch():
    net = MLP(784, [16], 10, seed=0)
    data_iter = tiny_iter(n=256, batch_size=32, shuffle=True)
    with pytest.raises(Diverged) as caught, warnings.catch_warnings():
        warnings.simplefilter("error")  # reported once, as Diverged, not as RuntimeWarnings first
        train(net, data_iter, None, SoftmaxCrossEntropyLoss(), 5,
              lambda bs: d2l.sgd(net.params, 1e30, bs), start_epoch=3)
    assert caught.value.epoch == 3 and caught.value.step >= 1
    assert "epoch 3" in str(caught.value) and "lower the learning rate" in str(caught.value)
    assert "--" not in str(caught.value)  # a library message names no command-line flag
    assert isinstance(caught.value, ScratchMLPError)  # the CLI's one line, exit 2


# ---- the chapter on the real data ----------------------------------------------------------
@pytest.fixture(scope="module")
def chapter_epoch(real_data, chapter):
    """The chapter's cells, as written, for one epoch: 784-256-10, N(0, 0.01), lr 0.5, batch 256."""
    np.random.seed(0)
    batch_size = 256
    train_iter, test_iter = d2l.load_data_fashion_mnist(batch_size, data=real_data)
    params = chapter.params()
    net = chapter.net(*params)

    loss = SoftmaxCrossEntropyLoss()
    num_epochs, lr = 1, 0.5
    rows = d2l.train(net, train_iter, test_iter, loss, num_epochs,
                     lambda batch_size: d2l.sgd(params, lr, batch_size))
    return rows, net, params, test_iter


@pytest.mark.slow
def test_one_epoch_of_the_chapter_reaches_75_percent(chapter_epoch):
    rows, net, params, test_iter = chapter_epoch
    (row,) = rows
    assert row["test_acc"] >= 0.75, row
    assert row["train_loss"] < 1.0 and row["train_acc"] > 0.6, row
    assert all(p.dtype == numpy.float32 for p in params)
    assert evaluate_accuracy(net, test_iter) == pytest.approx(row["test_acc"])
