"""Issue 11's list of MXNet 1.9.1 behaviours the book relies on, one test each."""

from __future__ import annotations

import numpy
import pytest

from scratchmlp import ScratchMLPError, autograd, np, npx


def test_numbers_become_float32_and_arrays_keep_their_dtype():
    assert np.array([0, 2]).dtype == numpy.float32
    assert np.arange(16).dtype == numpy.float32
    assert (np.arange(16).reshape(2, 8) / 0.5).dtype == numpy.float32
    assert np.array(numpy.ones(2)).dtype == numpy.float64
    assert np.array(numpy.arange(3)).dtype == numpy.int64
    assert np.array([True, False]).dtype == numpy.bool_
    assert np.linspace(0, 1, 5).dtype == numpy.float32
    assert np.random.randn(2, 3).shape == (2, 3) and np.random.randn(2).dtype == numpy.float32


def test_float_of_a_one_element_array_of_any_shape():
    assert float(np.ones((1, 1)) * 2.5) == 2.5
    assert int(np.ones((1, 1, 1))) == 1
    with pytest.raises((TypeError, ValueError)):
        float(np.ones(2))


def test_print_and_repr_look_like_mxnet():
    assert str(np.ones(2)) == "[1. 1.]"
    assert repr(np.ones(2)) == "array([1., 1.])"
    assert repr(np.ones(2, dtype=numpy.float64)) == "array([1., 1.], dtype=float64)"
    assert repr(np.ones(2, dtype=numpy.int32)) == "array([1, 1], dtype=int32)"
    assert repr(np.ones(2) > 0) == "array([ True,  True])"


def test_float_index_arrays_index_as_integers():
    y_hat = np.array([[0.1, 0.3, 0.6], [0.3, 0.2, 0.5]])
    y = np.array([0, 2])  # float32, as in MXNet
    numpy.testing.assert_allclose(y_hat[[0, 1], y].asnumpy(), [0.1, 0.5])
    numpy.testing.assert_allclose(y_hat[range(2), y].asnumpy(), [0.1, 0.5])
    y_hat[[0, 1], y] = 0
    numpy.testing.assert_allclose(y_hat.asnumpy(), [[0, 0.3, 0.6], [0.3, 0.2, 0]])


def test_is_training_inside_record_and_the_mode_switches():
    assert not autograd.is_training()
    with autograd.record():
        assert autograd.is_training() and autograd.is_recording()
        with autograd.pause():
            assert not autograd.is_training() and not autograd.is_recording()
        with autograd.predict_mode():
            assert not autograd.is_training() and autograd.is_recording()
    with autograd.record(train_mode=False):
        assert not autograd.is_training()
    with autograd.train_mode():
        assert autograd.is_training() and not autograd.is_recording()
    assert not autograd.is_training()


def test_autograd_grad_returns_gradients_and_leaves_grad_alone():
    x = np.array([1.0, 2.0, 3.0])
    x.attach_grad()
    with autograd.record():
        y = (x * x).sum()
    (dx,) = autograd.grad(y, [x])
    numpy.testing.assert_allclose(dx.asnumpy(), [2, 4, 6])
    assert not x.grad.asnumpy().any()


def test_npx_one_hot_pick_and_reshape():
    labels = np.array([2, 0])
    numpy.testing.assert_array_equal(npx.one_hot(labels, 3).asnumpy(), [[0, 0, 1], [1, 0, 0]])
    scores = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    numpy.testing.assert_array_equal(npx.pick(scores, labels).asnumpy(), [3, 4])
    assert npx.reshape(scores, (-1,)).shape == (6,)
    with pytest.raises(ScratchMLPError):
        npx.reshape(scores, (-2,))


def test_split_stack_where_clip_expand_squeeze():
    x = np.arange(6).reshape(2, 3)
    assert [p.shape for p in np.split(x, 3, axis=1)] == [(2, 1)] * 3
    assert np.stack([x, x]).shape == (2, 2, 3)
    numpy.testing.assert_array_equal(np.where(x > 2, x, 0).asnumpy(), [[0, 0, 0], [3, 4, 5]])
    numpy.testing.assert_array_equal(np.clip(x, 1, 4).asnumpy(), [[1, 1, 2], [3, 4, 4]])
    assert np.squeeze(np.expand_dims(x, 0)).shape == (2, 3)
    assert float(np.linalg.norm(np.array([3.0, 4.0]))) == 5.0


def test_max_sends_the_whole_gradient_to_every_tie_as_mxnet():
    """MXNet's _backward_np_max multiplies by the mask x == max (no sharing)."""
    x = np.array([[1.0, 3.0, 3.0], [2.0, 0.0, 1.0]])
    x.attach_grad()
    with autograd.record():
        y = x.max(axis=1)
    y.backward()
    numpy.testing.assert_array_equal(x.grad.asnumpy(), [[0, 1, 1], [1, 0, 0]])


def test_pick_clips_or_wraps_an_index_outside_the_row_as_mxnet():
    x = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    x.attach_grad()
    with autograd.record():
        picked = npx.pick(x, np.array([-1, 7]))  # mode="clip", MXNet's default
    picked.backward()
    assert picked.asnumpy().tolist() == [1.0, 6.0]
    assert x.grad.asnumpy().tolist() == [[1, 0, 0], [0, 0, 1]]  # the gradient goes where it read
    assert npx.pick(x, np.array([-1, 7]), mode="wrap").asnumpy().tolist() == [3.0, 5.0]
    assert npx.pick(x, np.array([1.7, 0.2])).asnumpy().tolist() == [2.0, 4.0]  # cut, as MXNet
    with pytest.raises(ScratchMLPError, match="mode must be 'clip' or 'wrap'"):
        npx.pick(x, np.array([0, 1]), mode="raise")


@pytest.mark.parametrize("labels, found", [([0, 3], "found 3"), ([-1, 0], "found -1"),
                                           ([0.0, 1.5], "found 1.5")])
def test_npx_softmax_cross_entropy_names_a_label_outside_the_classes(labels, found):
    logits = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    with pytest.raises(ScratchMLPError, match=f"labels must be class numbers 0-2.*{found}"):
        npx.softmax_cross_entropy(logits, numpy.array(labels))


def test_mixed_integer_and_float_arrays_take_the_float_type_as_mxnet():
    """MXNet's np.add/multiply/divide: "if only one of the inputs is floating number type, the
    result is that type"; integers divide into float32; the mean of integers is float32.
    NumPy gives float64 for each of these."""
    i, f = np.arange(3, dtype="int32"), np.ones(3)
    for result in (i * f, f + i, f - i, i / f, np.maximum(i, f), (f > 0) * f, f * [1, 2, 3]):
        assert result.dtype == numpy.float32
    assert (i / (i + 1)).dtype == numpy.float32 and (i / 2).dtype == numpy.float32
    assert np.mean(i).dtype == numpy.float32 and i.mean(axis=0).dtype == numpy.float32
    assert np.mean(i, dtype="float64").dtype == numpy.float64
    assert (i * i).dtype == numpy.int32
    assert f.sum(dtype="float64").dtype == numpy.float64
    f.attach_grad()
    with autograd.record():
        y = (f * i).sum()
    y.backward()
    assert f.grad.dtype == numpy.float32 and f.grad.asnumpy().tolist() == [0, 1, 2]


def test_the_cpu_context_works_and_a_gpu_is_one_line():
    import scratchmlp as mx
    from scratchmlp import d2l
    x = np.zeros((2, 3), ctx=npx.cpu())
    assert x.ctx == npx.cpu() == mx.cpu() == d2l.try_gpu() and repr(x.context) == "cpu(0)"
    assert np.random.normal(0, 1, (2,), ctx=mx.cpu()).shape == (2,)
    assert x.as_in_context(npx.cpu()) is x and npx.num_gpus() == 0
    assert x.copyto(npx.cpu()).shape == (2, 3) and d2l.try_all_gpus() == [npx.cpu()]
    for ask in (lambda: npx.gpu(0), lambda: mx.gpu(), lambda: np.ones(2, ctx="gpu"),
                lambda: x.as_in_context("gpu(1)")):
        with pytest.raises(ScratchMLPError, match="CPU only"):
            ask()


def test_npx_batch_flatten_activation_waitall_and_empty():
    x = np.arange(24).reshape(2, 3, 4)
    assert npx.batch_flatten(x).shape == (2, 12) and np.empty((2, 3)).shape == (2, 3)
    numpy.testing.assert_allclose(npx.activation(np.array([0.0]), act_type="softrelu").asnumpy(),
                                  [numpy.log(2)], rtol=1e-6)
    numpy.testing.assert_allclose(npx.activation(np.array([-1.0]), "softsign").asnumpy(), [-0.5])
    with pytest.raises(ScratchMLPError, match="act_type 'gelu'"):
        npx.activation(x, "gelu")
    assert npx.waitall() is None and x.wait_to_read() is None
    assert np.ones_like(x, dtype="int32").dtype == numpy.int32


def test_grad_req_add_accumulates_and_null_keeps_no_gradient_as_mxnet():
    x = np.array([1.0, 2.0])
    x.attach_grad(grad_req="add")
    for _ in range(2):
        with autograd.record():
            y = (x * x).sum()
        y.backward()
    assert x.grad.asnumpy().tolist() == [4, 8]  # 2x, twice
    (dx,) = autograd.grad(_recorded_square(x), [x])
    assert dx.asnumpy().tolist() == [2, 4] and x.grad.asnumpy().tolist() == [4, 8]
    x.attach_grad()  # "write" again: from zero, overwritten at each backward
    with autograd.record():
        y = (x * x).sum()
    y.backward()
    assert x.grad.asnumpy().tolist() == [2, 4]
    x.attach_grad(grad_req="null")
    assert x.grad is None
    with pytest.raises(ScratchMLPError, match="grad_req must be"):
        x.attach_grad(grad_req="sum")


def _recorded_square(x):
    with autograd.record():
        return (x * x).sum()


def test_more_of_mxnets_np_functions_and_methods():
    x = np.array([[3.0, 1.0, 2.0], [0.5, 4.0, -1.0]])
    assert x.min().item() == -1.0 and np.min(x, axis=1).asnumpy().tolist() == [1.0, -1.0]
    assert x.argmin(axis=1).asnumpy().tolist() == [1, 2] and np.argmin(x).item() == 5
    assert x.cumsum(axis=1).asnumpy().tolist() == [[3, 4, 6], [0.5, 4.5, 3.5]]
    assert np.sort(x).asnumpy().tolist()[0] == [1, 2, 3] and np.argsort(x).dtype == numpy.int64
    assert (x // 2).asnumpy().tolist() == [[1, 0, 1], [0, 2, -1]] and (x % 2).dtype == x.dtype
    assert x.flatten().shape == (6,) and x.clip(0, 2).max().item() == 2.0
    assert np.round(np.array([1.26]), 1).dtype == numpy.float32
    assert np.concatenate([x, x], axis=None).shape == (12,) and np.vstack([x, x]).shape == (4, 3)
    assert np.dot(x, 2.0).asnumpy().tolist()[0] == [6, 2, 4] and np.size(x) == 6
    assert abs(x).asnumpy().min() == 0.5 and np.square(x).dtype == numpy.float32
    assert float(np.std(np.array([1.0, 3.0]))) == 1.0 and x.var(axis=0).shape == (3,)
    assert x.astype("float32", copy=False) is x and x.astype("float32") is not x
    assert np.isnan(np.array([numpy.nan, 1.0])).asnumpy().tolist() == [True, False]
    np.random.seed(0)
    rows = np.arange(10).reshape(5, 2)
    np.random.shuffle(rows)  # in place, along the first axis
    assert sorted(rows[:, 0].asnumpy().tolist()) == [0, 2, 4, 6, 8]
    assert (rows[:, 1] - rows[:, 0]).asnumpy().tolist() == [1] * 5
    picks = np.random.choice(5, 3, replace=False)
    assert picks.dtype == numpy.int64 and len(set(picks.asnumpy().tolist())) == 3


def test_an_mxnet_name_we_lack_is_one_line_and_still_an_attribute_error():
    from scratchmlp import d2l, gluon
    from scratchmlp.errors import NotProvided
    from scratchmlp.gluon import nn
    for module, name in ((np, "einsum"), (npx, "sequence_mask"), (gluon, "rnn"),
                         (nn, "Conv2D"), (d2l, "download"), (gluon.loss, "CTCLoss")):
        with pytest.raises(NotProvided, match=f"{name} is not provided") as refused:
            getattr(module, name)
        assert "\n" not in str(refused.value) and isinstance(refused.value, AttributeError)
    assert not hasattr(np, "einsum") and getattr(npx, "nothing", 3) == 3


def test_npx_dropout_trains_only_and_random_seed_repeats_draws():
    import scratchmlp as mx
    x = np.ones(1000)
    assert npx.dropout(x, 0.5) is x  # not training: the identity, as MXNet's
    with autograd.record():
        dropped = npx.dropout(x, 0.5)
    assert set(dropped.asnumpy().tolist()) == {0.0, 2.0}
    assert 0.4 < float((npx.dropout(x, 0.5, mode="always") == 0).mean()) < 0.6
    mx.random.seed(7)
    first = np.random.normal(size=3).asnumpy()
    npx.random.seed(7)
    assert (np.random.normal(size=3).asnumpy() == first).all()


def test_set_recording_set_training_argmax_keepdims_and_format():
    assert autograd.set_training(True) is False and autograd.is_training()
    assert autograd.set_training(False) is True and not autograd.is_training()
    assert autograd.set_recording(True) is False and autograd.is_recording()
    assert autograd.set_recording(False) is True and not autograd.is_recording()
    x = np.array([[1.0, 3.0], [4.0, 2.0]])
    assert np.argmax(x, axis=1, keepdims=True).shape == (2, 1)
    assert x.argmin(axis=0, keepdims=True).asnumpy().tolist() == [[0, 1]]
    assert f"{x.mean():.2f}" == "2.50" and f"{x[0]}" == "[1. 3.]"


def test_a_list_of_axes_and_multinomial_as_in_the_books_preliminaries():
    A = np.arange(20).reshape(5, 4)  # linear-algebra.md: A.sum(axis=[0, 1]) is A.sum()
    assert A.sum(axis=[0, 1]).item() == 190 and A.mean(axis=[0, 1]).item() == 9.5
    assert A.max(axis=[0, 1]).item() == 19 and A.min(axis=[0, 1]).item() == 0
    A.attach_grad()
    with autograd.record():
        y = A.sum(axis=[0, 1])
    y.backward()
    assert A.grad.asnumpy().sum() == 20
    np.random.seed(0)
    counts = np.random.multinomial(10, [1.0 / 6] * 6, size=500)  # probability.md's dice
    assert counts.shape == (500, 6) and counts.dtype == numpy.int64
    assert counts.astype(np.float32).cumsum(axis=0)[-1].sum().item() == 5000


def test_one_hot_of_an_index_outside_the_depth_is_a_row_of_off_values_as_mxnet():
    """MXNet's one_hot kernel sets on_value only where 0 <= index < depth."""
    rows = npx.one_hot(np.array([1, -1, 3, 2.7]), 3)
    assert rows.asnumpy().tolist() == [[0, 1, 0], [0, 0, 0], [0, 0, 0], [0, 0, 1]]
    grid = npx.one_hot(np.array([[1, 0], [2, 5]]), 3, on_value=8, off_value=1, dtype="int32")
    assert grid.dtype == numpy.int32 and grid.asnumpy()[1].tolist() == [[1, 1, 8], [1, 1, 1]]


def test_autograd_backward_of_several_heads_sums_their_gradients_as_mxnet():
    x = np.array([1.0, 2.0])
    x.attach_grad()
    with autograd.record():
        a, b = x * x, 3 * x
    autograd.backward([a, b], [np.array([1.0, 0.0]), None])
    assert x.grad.asnumpy().tolist() == [2 + 3, 0 + 3]
    with autograd.record():
        c = (x * x).sum()
    autograd.backward(c)
    assert x.grad.asnumpy().tolist() == [2, 4]
    with pytest.raises(ScratchMLPError, match="2 heads but 1 head gradients"):
        autograd.backward([a, b], [None])


def test_set_np_dtype_true_makes_float64_the_default_as_mxnet():
    try:
        npx.set_np(dtype=True)
        assert npx.is_np_default_dtype()
        assert np.array([1, 2]).dtype == numpy.float64 and np.zeros(2).dtype == numpy.float64
        assert np.random.normal(size=2).dtype == numpy.float64
        assert (np.arange(3, dtype="int32") / 2).dtype == numpy.float64
    finally:
        npx.set_np()
    assert not npx.is_np_default_dtype() and np.arange(3).dtype == numpy.float32


def test_npx_softmax_temperature_and_d2l_evaluate_accuracy_gpu():
    from scratchmlp import d2l
    x = np.array([[0.0, numpy.log(4.0)]])
    numpy.testing.assert_allclose(npx.softmax(x).asnumpy(), [[0.2, 0.8]], rtol=1e-6)
    numpy.testing.assert_allclose(npx.softmax(x, temperature=2).asnumpy(), [[1 / 3, 2 / 3]],
                                  rtol=1e-6)
    assert npx.softmax(x, dtype="float64").dtype == numpy.float64
    batches = [(np.array([[0.0, 1.0], [1.0, 0.0]]), np.array([1, 1], dtype="int32"))]
    assert d2l.evaluate_accuracy_gpu(lambda X: X, batches, device=npx.cpu()) == 0.5


def test_picking_from_an_empty_axis_or_labelling_no_classes_is_one_line():
    with pytest.raises(ScratchMLPError, match="nothing to pick from an axis of length 0"):
        npx.pick(np.zeros((2, 0)), np.array([0, 0]))
    with pytest.raises(ScratchMLPError, match="at least one class; these have none"):
        npx.softmax_cross_entropy(np.zeros((2, 0)), numpy.array([0, 0]))
