"""The fast paths added for speed: the fused `linear` op, mask-multiplying VJPs, DataIter's gather.

Their gradients against central finite differences in float64 are rows of the one table in
tests/test_engine_grads.py (linear with and without relu, maximum, minimum, relu); here the fast
paths are checked against the general ops they stand in for.
"""

import numpy as np
import pytest

from scratchmlp.data import DataIter
from scratchmlp.engine import Array, ops, record
from scratchmlp.nn import MLP


@pytest.mark.parametrize("relu", [False, True])
def test_linear_equals_the_general_ops(relu):
    rng = np.random.default_rng(1)
    x, W, b = rng.standard_normal((6, 5)), rng.standard_normal((5, 4)), rng.standard_normal(4)
    head = rng.standard_normal((6, 4))

    def general(x, W, b):
        z = ops.dot(x, W) + b
        return ops.maximum(z, 0) if relu else z

    results = []
    for fn in (lambda x, W, b: ops.linear(x, W, b, relu=relu), general):
        params = [Array(a) for a in (x, W, b)]
        for p in params:
            p.attach_grad()
        with record():
            out = fn(*params)
        out.backward(head)
        results.append([out.data] + [p.grad for p in params])
    for fused, plain in zip(*results):
        np.testing.assert_allclose(fused, plain, rtol=1e-12, atol=1e-12)


def test_linear_relu_gives_no_gradient_where_the_unit_is_off():
    x = Array(np.array([[1.0, -1.0]]))
    W = Array(np.eye(2))
    b = Array(np.zeros(2))
    for p in (x, W, b):
        p.attach_grad()
    with record():
        out = ops.linear(x, W, b, relu=True)
    out.backward()
    np.testing.assert_array_equal(out.data, [[1.0, 0.0]])
    np.testing.assert_array_equal(b.grad, [1.0, 0.0])
    np.testing.assert_array_equal(x.grad, [[1.0, 0.0]])


def test_linear_keeps_float32_and_leaves_inputs_alone():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 4), dtype=np.float32)
    W = rng.standard_normal((4, 2), dtype=np.float32)
    b = rng.standard_normal(2, dtype=np.float32)
    copies = [a.copy() for a in (x, W, b)]
    out = ops.linear(Array(x), Array(W), Array(b), relu=True)
    assert out.dtype == np.float32
    for before, after in zip(copies, (x, W, b)):
        np.testing.assert_array_equal(before, after)


def test_maximum_and_minimum_ties_send_the_gradient_to_the_first_input_as_mxnet():
    a, b = Array(np.array([1.0, 2.0, 3.0])), Array(np.array([1.0, 1.0, 4.0]))
    for fn, to_a in ((ops.maximum, [1.0, 1.0, 0.0]), (ops.minimum, [1.0, 0.0, 1.0])):
        a.attach_grad()
        b.attach_grad()
        with record():
            out = fn(a, b)
        out.backward()
        np.testing.assert_array_equal(a.grad, to_a)
        np.testing.assert_array_equal(b.grad, 1 - np.array(to_a))


def test_the_chapters_relu_at_ties_has_mxnets_gradient():
    """MXNet 1.9.1 gives [0, 1, 1, 1, 1, 0] for np.maximum(Z, 0) on this Z."""
    Z = Array(np.array([-1.0, 0.0, 2.0, 0.0, 0.5, -3.0]))
    Z.attach_grad()
    with record():
        out = ops.maximum(Z, 0)
    out.backward()
    np.testing.assert_array_equal(Z.grad, [0, 1, 1, 1, 1, 0])


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_mlp_fused_forward_equals_the_chapter_form(activation):
    """The MLP's fused layers give the chapter's relu(np.dot(X, W1) + b1) ... and its gradients."""
    model = MLP(12, hidden=(7, 5), num_outputs=3, activation=activation, seed=5,
                dtype=np.float64)
    X = np.random.default_rng(6).standard_normal((4, 12))
    labels = np.array([0, 2, 1, 1])
    act = (lambda z: ops.maximum(z, 0)) if activation == "relu" else ops.tanh

    def chapter_net(X):
        H = X
        for W, b in model.layers[:-1]:
            H = act(ops.dot(H, W) + b)
        W, b = model.layers[-1]
        return ops.dot(H, W) + b

    results = []
    for net in (model, chapter_net):
        with record():
            loss = ops.softmax_cross_entropy(net(X), labels)
        loss.backward()
        results.append([loss.data] + [p.grad.copy() for p in model.params])
    for fused, plain in zip(*results):
        np.testing.assert_allclose(fused, plain, rtol=1e-12, atol=1e-12)


def _images(n):
    return np.arange(n * 28 * 28, dtype=np.int64).reshape(n, 28, 28).astype(np.uint8)


def test_shuffled_batches_are_the_permutation_of_seed_and_epoch():
    images, labels = _images(10), np.arange(10)
    it = DataIter(images, labels, batch_size=4, shuffle=True, seed=7)
    for epoch in range(2):
        order = np.random.default_rng([7, epoch]).permutation(10)
        batches = list(it)
        assert [len(y) for _, y in batches] == [4, 4, 2]
        np.testing.assert_array_equal(np.concatenate([y for _, y in batches]), order)
        X = np.concatenate([X for X, _ in batches])
        assert X.dtype == np.float32 and X.shape == (10, 1, 28, 28)
        np.testing.assert_allclose(X, images[order][:, None] / 255, rtol=1e-6)


def test_batches_kept_by_the_caller_are_not_overwritten():
    images, labels = _images(9), np.arange(9)
    kept = [(X.copy(), X) for X, _ in DataIter(images, labels, batch_size=3, shuffle=True)]
    for snapshot, X in kept:
        np.testing.assert_array_equal(snapshot, X)
