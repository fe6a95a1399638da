"""Softmax cross-entropy: the direct formula on small inputs, exact for logits of +-1e4."""

from __future__ import annotations

import numpy
import pytest

from scratchmlp import ScratchMLPError, autograd, npx
from scratchmlp.engine import Array, use_dtype
from scratchmlp.nn import SoftmaxCrossEntropyLoss, softmax_cross_entropy


def direct(logits, labels):
    """-log(exp(z_y) / sum exp z), straight from the definition (fine for small logits)."""
    exps = numpy.exp(logits)
    return -numpy.log(exps[numpy.arange(len(labels)), labels] / exps.sum(axis=1))


def leaf64(values):
    x = Array(numpy.asarray(values, numpy.float64), dtype=numpy.float64)
    x.attach_grad()
    return x


@pytest.mark.parametrize("rows, classes", [(1, 2), (5, 3), (7, 10)])
def test_matches_the_direct_formula(rows, classes):
    rng = numpy.random.default_rng(rows * classes)
    logits = rng.normal(scale=3, size=(rows, classes))
    labels = rng.integers(0, classes, rows)
    with use_dtype(numpy.float64):
        got = SoftmaxCrossEntropyLoss()(Array(logits), labels)
    assert got.shape == (rows,) and got.dtype == numpy.float64
    numpy.testing.assert_allclose(got.data, direct(logits, labels), rtol=1e-12)


def test_a_hand_computed_value():
    # logits [0, ln 3]: softmax = [1/4, 3/4]
    got = softmax_cross_entropy(Array(numpy.array([[0.0, numpy.log(3)]])), numpy.array([0]))
    assert float(got.data[0]) == pytest.approx(numpy.log(4), rel=1e-6)


@pytest.mark.parametrize("logits, label, expected", [
    ([1e4, -1e4], 0, 0.0),
    ([1e4, -1e4], 1, 2e4),
    ([-1e4, 1e4], 0, 2e4),
    ([1e4, 1e4], 1, numpy.log(2)),
    ([-1e4, -1e4, -1e4], 2, numpy.log(3)),
    ([1e4, 0.0, -1e4], 1, 1e4),
])
@pytest.mark.parametrize("dtype", [numpy.float32, numpy.float64])
def test_finite_and_exact_for_huge_logits(logits, label, expected, dtype):
    """log-sum-exp: exp(1e4) overflows, the loss must not."""
    with use_dtype(dtype):
        z = Array(numpy.array([logits]))
    with numpy.errstate(over="raise", invalid="raise", divide="raise"):  # underflow is fine
        got = float(softmax_cross_entropy(z, numpy.array([label])).data[0])
    assert numpy.isfinite(got)
    assert got == pytest.approx(expected, rel=1e-6, abs=1e-6)


def test_gradient_of_huge_logits_is_finite():
    z = leaf64([[1e4, -1e4], [1e4, -1e4]])
    with autograd.record():
        l = softmax_cross_entropy(z, numpy.array([0, 1]))
    l.backward()
    numpy.testing.assert_allclose(z.grad, [[0, 0], [1, -1]], atol=1e-12)


def test_gradient_is_softmax_minus_onehot():
    rng = numpy.random.default_rng(3)
    logits = rng.normal(size=(6, 4))
    labels = numpy.array([0, 3, 3, 1, 2, 0])
    z = leaf64(logits)
    with autograd.record():
        l = SoftmaxCrossEntropyLoss()(z, labels)
    l.backward()  # head of ones: d(sum of losses)/dz
    softmax = numpy.exp(logits) / numpy.exp(logits).sum(axis=1, keepdims=True)
    numpy.testing.assert_allclose(z.grad, softmax - numpy.eye(4)[labels], rtol=1e-12, atol=1e-15)
    numpy.testing.assert_allclose(z.grad.sum(axis=1), 0, atol=1e-12)


def test_gradient_scales_with_the_head():
    z = leaf64(numpy.random.default_rng(4).normal(size=(3, 5)))
    labels = numpy.array([4, 0, 2])
    with autograd.record():
        l = softmax_cross_entropy(z, labels).mean()
    l.backward()
    softmax = npx.softmax(Array(z.data, dtype=numpy.float64)).data
    numpy.testing.assert_allclose(z.grad, (softmax - numpy.eye(5)[labels]) / 3, rtol=1e-12)


def test_per_example_vector_like_gluon():
    loss = SoftmaxCrossEntropyLoss()
    y_hat = Array(numpy.random.default_rng(5).normal(size=(256, 10)).astype(numpy.float32))
    y = numpy.random.default_rng(6).integers(0, 10, 256)
    l = loss(y_hat, y)
    assert isinstance(l, Array)
    assert l.shape == (256,) and l.dtype == numpy.float32
    assert (l.data > 0).all()
    numpy.testing.assert_allclose(l.data, direct(y_hat.data.astype(numpy.float64), y), rtol=1e-5)


def test_labels_may_be_an_array_or_a_list():
    z = Array(numpy.array([[1.0, 2.0], [3.0, 0.0]]))
    from_list = softmax_cross_entropy(z, [1, 0]).data
    from_array = softmax_cross_entropy(z, Array(numpy.array([1, 0]))).data
    numpy.testing.assert_array_equal(from_list, from_array)


def test_labels_that_do_not_fit_the_logits_are_refused():
    with pytest.raises(ScratchMLPError, match="labels"):
        softmax_cross_entropy(Array(numpy.zeros((3, 4))), numpy.array([0, 1]))
