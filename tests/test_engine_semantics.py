"""The engine behaves as MXNet's autograd does for the chapter's code.

backward() on a non-scalar sums; every backward() overwrites .grad; nothing is recorded outside
record(); a parameter used twice gets the sum; pause() stops recording; float32 unless float64
is asked for; NumPy arrays on the left of an operator give Arrays; no in-place change of a
recorded array; and the chapter's `np` calls work as written.
"""

from __future__ import annotations

import numpy
import pytest

from scratchmlp import ScratchMLPError, autograd, np, npx
from scratchmlp.engine import Array, default_dtype, ops, use_dtype
from scratchmlp.nn import MLP, SoftmaxCrossEntropyLoss


def leaf(values, dtype=numpy.float32):
    x = Array(numpy.asarray(values, dtype=dtype), dtype=dtype)
    x.attach_grad()
    return x


@pytest.fixture
def x():
    return leaf([[1.0, -2.0, 3.0], [0.5, 4.0, -1.5]])


# ---- backward ------------------------------------------------------------------------------
def test_attach_grad_starts_at_zero(x):
    assert x.grad.shape == x.shape and x.grad.dtype == x.dtype
    assert not x.grad.any()


def test_backward_of_a_non_scalar_sums_it(x):
    with autograd.record():
        y = x * x  # (2, 3): the head gradient is a (2, 3) array of ones
    y.backward()
    numpy.testing.assert_allclose(x.grad, 2 * x.data)
    with autograd.record():
        total = (x * x).sum()
    total.backward()
    numpy.testing.assert_allclose(x.grad, 2 * x.data)


def test_backward_with_a_head_gradient(x):
    head = numpy.array([[0, 1, 2], [3, 4, 5]], dtype=numpy.float32)
    with autograd.record():
        y = x * 3
    y.backward(head)
    numpy.testing.assert_allclose(x.grad, 3 * head)
    with autograd.record():
        y = x + 1  # add hands its head gradient straight on
    y.backward(head)
    head[:] = 100  # the caller's array is not the gradient
    numpy.testing.assert_allclose(x.grad, numpy.arange(6).reshape(2, 3))


def test_backward_refuses_a_head_of_another_shape(x):
    with autograd.record():
        y = x * 3
    with pytest.raises(ScratchMLPError, match="shape"):
        y.backward(numpy.ones(3))


def test_backward_twice_on_one_graph_gives_the_same_gradient(x):
    with autograd.record():
        y = (x * x).sum()
    y.backward(retain_graph=True)
    first = x.grad.copy()
    y.backward()
    numpy.testing.assert_array_equal(x.grad, first)  # overwritten, not accumulated to 2x


def test_a_second_backward_through_a_used_graph_raises_as_in_mxnet(x):
    with autograd.record():
        h = x * x
        y, z = h.sum(), (h * 2).sum()
    y.backward()
    first = x.grad.copy()
    for used in (y, z):  # z shares h, which y's backward used up
        with pytest.raises(ScratchMLPError, match="retain_graph=True"):
            used.backward()
    numpy.testing.assert_array_equal(x.grad, first)  # nothing written by the refusals


def test_grad_is_an_array_whose_object_backward_overwrites(x):
    grad = x.grad
    assert isinstance(grad, Array)
    with autograd.record():
        y = (x * 3).sum()
    y.backward()
    assert x.grad is grad
    numpy.testing.assert_array_equal(grad.asnumpy(), numpy.full(x.shape, 3, numpy.float32))


def test_backward_overwrites_grad_from_an_earlier_graph(x):
    with autograd.record():
        y = (x * x).sum()
    y.backward()
    with autograd.record():
        z = (x * 5).sum()
    z.backward()
    numpy.testing.assert_array_equal(x.grad, numpy.full(x.shape, 5, numpy.float32))


def test_backward_twice_through_the_loss_gives_the_same_gradient():
    """The fused softmax cross-entropy reuses a buffer: a second backward must not see it spent."""
    logits = leaf(numpy.random.default_rng(0).standard_normal((4, 3)))
    labels = numpy.array([0, 1, 2, 0])
    with autograd.record():
        l = SoftmaxCrossEntropyLoss()(logits, labels)
    l.backward(retain_graph=True)
    first = logits.grad.copy()
    l.backward()
    numpy.testing.assert_allclose(logits.grad, first, rtol=1e-6)


def test_the_chapter_step_twice_gives_the_same_gradients():
    rng = numpy.random.default_rng(1)
    net = MLP(784, [32], 10, seed=1)
    X = rng.uniform(0, 1, (8, 1, 28, 28)).astype(numpy.float32)
    y = rng.integers(0, 10, 8)
    grads = []
    for _ in range(2):
        with autograd.record():
            l = SoftmaxCrossEntropyLoss()(net(X), y)
        l.backward()
        grads.append([p.grad.copy() for p in net.params])
    for first, second in zip(*grads):
        numpy.testing.assert_array_equal(first, second)


def test_a_parameter_used_twice_gets_the_sum(x):
    with autograd.record():
        y = x * x + x  # x reaches y along three paths
    y.backward()
    numpy.testing.assert_allclose(x.grad, 2 * x.data + 1)

    W = leaf(numpy.random.default_rng(2).standard_normal((3, 2)))
    X = numpy.random.default_rng(3).standard_normal((4, 3)).astype(numpy.float32)
    with autograd.record():
        total = np.dot(X, W).sum() + (W * W).sum()
    total.backward()
    numpy.testing.assert_allclose(W.grad, X.sum(axis=0)[:, None] + 2 * W.data, rtol=1e-5)


def test_two_leaves_from_one_op_get_separate_grad_arrays():
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    with autograd.record():
        y = a + b  # both gradients are the same head array inside backward()
    y.backward()
    a.grad[0] = 42
    assert b.grad[0] == 1


# ---- recording -----------------------------------------------------------------------------
def test_nothing_is_recorded_outside_record(x):
    assert not autograd.is_recording()
    y = (x * x).sum()
    assert not y.requires_grad
    with pytest.raises(ScratchMLPError, match="record"):
        y.backward()


def test_backward_of_a_constant_raises():
    with autograd.record():
        y = np.ones(3) * 2  # nothing in it asked for a gradient
    with pytest.raises(ScratchMLPError):
        y.backward()


def test_pause_inside_record(x):
    with autograd.record():
        assert autograd.is_recording()
        y = x * 2
        with autograd.pause():
            assert not autograd.is_recording()
            metric = (y * 3).sum()
        assert autograd.is_recording()
        z = (y * 4).sum()
    assert not autograd.is_recording()
    assert not metric.requires_grad
    with pytest.raises(ScratchMLPError):
        metric.backward()
    z.backward()
    numpy.testing.assert_array_equal(x.grad, numpy.full(x.shape, 8, numpy.float32))


def test_record_is_restored_after_an_exception(x):
    with pytest.raises(RuntimeError):
        with autograd.record():
            raise RuntimeError
    assert not autograd.is_recording()


# ---- dtypes --------------------------------------------------------------------------------
def test_float32_by_default():
    assert default_dtype() == numpy.float32
    assert np.random.normal(scale=0.01, size=(784, 256)).dtype == numpy.float32
    assert np.random.normal(0, 1, (3,)).dtype == numpy.float32
    assert np.random.uniform(size=3).dtype == numpy.float32
    assert np.zeros(256).dtype == numpy.float32
    assert np.ones((2, 2)).dtype == numpy.float32
    assert np.array([1.0, 2.0]).dtype == numpy.float32
    assert Array(numpy.zeros(3, numpy.float64)).dtype == numpy.float32
    assert np.zeros_like(np.ones(3)).dtype == numpy.float32


SCALAR_EXPRESSIONS = [
    ("x*0.5", lambda x: x * 0.5), ("0.5*x", lambda x: 0.5 * x), ("x/3", lambda x: x / 3),
    ("1/x", lambda x: 1 / x), ("x+1", lambda x: x + 1), ("2-x", lambda x: 2 - x),
    ("x**2", lambda x: x ** 2), ("x**0.5", lambda x: (x * x) ** 0.5),
    ("2.0**x", lambda x: 2.0 ** x), ("maximum(x,0)", lambda x: np.maximum(x, 0)),
    ("exp", np.exp), ("tanh", np.tanh), ("sigmoid", npx.sigmoid), ("relu", npx.relu),
    ("mean", lambda x: x.mean()), ("sum(axis=0)", lambda x: np.sum(x, axis=0)),
    ("dot", lambda x: np.dot(x, x.T)), ("softmax", npx.softmax),
    ("loss", lambda x: SoftmaxCrossEntropyLoss()(x, numpy.array([0, 2]))),
    # NumPy float constants are cast to the Array's dtype, as Python floats are
    ("x*np.float64", lambda x: x * numpy.float64(0.5)),
    ("np.float64-x", lambda x: numpy.float64(1) - x),
    ("x/np.sqrt(2.0)", lambda x: x / numpy.sqrt(2.0)),
    ("float64 ndarray*x", lambda x: numpy.linspace(0, 1, 3) * x),
    ("maximum(x,np.float64)", lambda x: np.maximum(x, numpy.float64(0))),
    # ... and so are integer and boolean ones in arithmetic (MXNet: int with float32 is float32)
    ("x*int ndarray", lambda x: x * numpy.arange(x.shape[-1])),
    ("np.int64+x", lambda x: numpy.int64(2) + x),
    ("x*bool mask", lambda x: x * (numpy.arange(x.shape[-1]) > 0)),
    ("x**int ndarray", lambda x: x ** numpy.full(x.shape[-1], 2)),
    ("maximum(x,int ndarray)", lambda x: np.maximum(x, numpy.zeros(x.shape[-1], numpy.int32))),
    ("dot(x,int matrix)", lambda x: np.dot(x, numpy.ones((x.shape[-1], 2), numpy.int64))),
]


@pytest.mark.parametrize("expression", [e for _, e in SCALAR_EXPRESSIONS],
                         ids=[name for name, _ in SCALAR_EXPRESSIONS])
def test_ops_with_constants_stay_float32(x, expression):
    """No hidden float64: values and gradients of float32 inputs stay float32."""
    with autograd.record():
        y = expression(x)
    assert y.dtype == numpy.float32
    y.backward()
    assert x.grad.dtype == numpy.float32


def test_training_step_stays_float32():
    from scratchmlp.d2l import sgd
    net = MLP(784, [16], 10, seed=0)
    X = numpy.random.default_rng(0).uniform(0, 1, (4, 1, 28, 28)).astype(numpy.float32)
    with autograd.record():
        l = SoftmaxCrossEntropyLoss()(net(X), numpy.array([1, 2, 3, 4]))
    assert l.dtype == numpy.float32
    l.backward()
    sgd(net.params, 0.1, 4)
    assert all(p.dtype == numpy.float32 and p.grad.dtype == numpy.float32 for p in net.params)


def test_float64_on_request():
    with use_dtype(numpy.float64):
        assert default_dtype() == numpy.float64
        assert np.random.normal(scale=0.01, size=(3, 2)).dtype == numpy.float64
        assert np.zeros(3).dtype == numpy.float64
        assert np.array([1.0]).dtype == numpy.float64
        y = np.ones(3) * 0.5 + 1
        assert y.dtype == numpy.float64
    assert default_dtype() == numpy.float32


def test_an_explicit_dtype_is_kept():
    assert np.zeros(3, dtype=numpy.float64).dtype == numpy.float64
    assert np.ones(3, dtype=numpy.float16).dtype == numpy.float16
    assert np.random.normal(size=3, dtype=numpy.float64).dtype == numpy.float64
    assert np.array([1.0], dtype=numpy.float64).dtype == numpy.float64
    assert np.ones(3).astype(numpy.float64).dtype == numpy.float64
    x64 = np.zeros(2, dtype=numpy.float64)
    assert x64.copy().dtype == x64.detach().dtype == np.zeros_like(x64).dtype == numpy.float64
    assert MLP(4, [3], 2, dtype=numpy.float64).params[0].dtype == numpy.float64


# ---- operators with NumPy arrays on the left -----------------------------------------------
REFLECTED = [
    ("ndarray+x", lambda a, x: a + x, lambda a, x: numpy.ones_like(x)),
    ("ndarray-x", lambda a, x: a - x, lambda a, x: -numpy.ones_like(x)),
    ("ndarray*x", lambda a, x: a * x, lambda a, x: a),
    ("ndarray/x", lambda a, x: a / x, lambda a, x: -a / (x * x)),
    ("ndarray@x.T", lambda a, x: (a @ x.T), lambda a, x: a.sum(axis=0)[None, :].repeat(2, 0)),
]


@pytest.mark.parametrize("expression, gradient", [(e, g) for _, e, g in REFLECTED],
                         ids=[name for name, _, _ in REFLECTED])
def test_ndarray_on_the_left_gives_a_recorded_array(x, expression, gradient):
    a = numpy.linspace(1, 2, 6, dtype=numpy.float32).reshape(2, 3)
    with autograd.record():
        y = expression(a, x)
    assert isinstance(y, Array)
    y.backward()
    numpy.testing.assert_allclose(x.grad, gradient(a, x.data), rtol=1e-6)


# ---- in-place changes ----------------------------------------------------------------------
def test_in_place_change_inside_record_raises(x):
    with autograd.record():
        with pytest.raises(ScratchMLPError, match="in-place"):
            x -= 0.1
        with pytest.raises(ScratchMLPError, match="in-place"):
            x[:] = 0
        y = x * 2
        with pytest.raises(ScratchMLPError, match="in-place"):
            y += 1


def test_in_place_update_outside_record_keeps_the_buffer(x):
    """The chapter's `param -= lr * param.grad / batch_size` after backward()."""
    with autograd.record():
        l = (x * x).sum()
    l.backward()
    buffer, before = x.data, x.data.copy()
    x -= 0.5 * x.grad / 2
    assert x.data is buffer and x.dtype == numpy.float32
    numpy.testing.assert_allclose(x.data, before - 0.5 * 2 * before / 2)
    x[:] = 0
    assert not x.data.any()


# ---- the chapter's namespace ---------------------------------------------------------------
def test_the_chapter_cells_run_as_written(chapter):
    npx.set_np()
    batch_size, num_inputs = 4, chapter.num_inputs
    params = chapter.params()
    W1, b1, W2, b2 = params
    net = chapter.net(*params)

    loss = SoftmaxCrossEntropyLoss()
    X = numpy.random.default_rng(0).uniform(0, 1, (batch_size, 1, 28, 28)).astype(numpy.float32)
    y = numpy.array([0, 3, 9, 3])
    assert Array(X).reshape(-1, num_inputs).shape == (batch_size, num_inputs)
    with autograd.record():
        l = loss(net(Array(X)), y)
    assert l.shape == (batch_size,)
    l.backward()
    assert W1.shape == (784, 256) and abs(float(W1.data.std()) - 0.01) < 0.001
    assert all(p.grad.shape == p.shape and p.grad.any() for p in params)
    from scratchmlp.d2l import sgd
    before = W2.data.copy()
    sgd(params, 0.1, batch_size)
    numpy.testing.assert_allclose(W2.data, before - 0.1 * W2.grad / batch_size, rtol=1e-6)


def test_random_seed_repeats_draws():
    np.random.seed(5)
    first = np.random.normal(size=4).asnumpy()
    np.random.seed(5)
    numpy.testing.assert_array_equal(np.random.normal(size=4).asnumpy(), first)


def test_array_conversions(x):
    assert isinstance(numpy.asarray(x), numpy.ndarray)
    assert x.asnumpy() is not x.data
    assert float(x.sum()) == pytest.approx(5.0)
    assert len(x) == 2 and [row.shape for row in x] == [(3,), (3,)]
    assert (x > 0).dtype == bool
    assert int(x.argmax()) == 4


def test_matmul_of_a_scalar_is_a_clear_error():
    with pytest.raises(ScratchMLPError, match="scalar"):
        ops.matmul(Array(2.0), np.ones(3))
