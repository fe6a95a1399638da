"""The Gluon layer the book's concise sections use, on scratchmlp's arrays and optimisers."""

from __future__ import annotations

import math

import numpy
import pytest

import scratchmlp.nn
from scratchmlp import ScratchMLPError, autograd, d2l, gluon, init, np
from scratchmlp.engine import Array
from scratchmlp.gluon import nn


def test_dense_learns_its_input_size_on_the_first_call_and_keeps_gluons_layout():
    net = nn.Sequential()
    net.add(nn.Dense(4, activation="relu"), nn.Dense(2))
    net.initialize(init.Normal(sigma=0.01))
    with pytest.raises(ScratchMLPError, match="first forward pass"):
        net[0].weight.data()
    X = np.random.normal(size=(5, 1, 3, 2))  # flattened to rows of 6
    out = net(X)
    assert out.shape == (5, 2) and out.dtype == numpy.float32
    W1, b1 = net[0].weight.data(), net[0].bias.data()
    assert W1.shape == (4, 6) and not b1.asnumpy().any()
    W2, b2 = net[1].weight.data().asnumpy(), net[1].bias.data().asnumpy()
    hidden = numpy.maximum(X.asnumpy().reshape(5, 6) @ W1.asnumpy().T + b1.asnumpy(), 0)
    numpy.testing.assert_allclose(out.asnumpy(), hidden @ W2.T + b2, rtol=1e-5, atol=1e-7)
    assert sorted(net.collect_params()) == sorted(
        [p.name for p in (net[0].weight, net[0].bias, net[1].weight, net[1].bias)])
    assert list(net.collect_params(".*bias")) == [net[0].bias.name, net[1].bias.name]


def test_trainer_sgd_with_weight_decay_and_wd_mult_zero_on_the_bias():
    net = nn.Sequential()
    net.add(nn.Dense(1))
    net.initialize(init.Normal(sigma=1))
    X, y = np.random.normal(size=(4, 3)), np.random.normal(size=(4, 1))
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1, "wd": 0.5})
    net.collect_params(".*bias").setattr("wd_mult", 0)
    with autograd.record():
        l = gluon.loss.L2Loss()(net(X), y)
    assert l.shape == (4,)
    l.backward()
    W, b = net[0].weight.data().asnumpy().copy(), net[0].bias.data().asnumpy().copy()
    gW, gb = net[0].weight.grad().asnumpy(), net[0].bias.grad().asnumpy()
    trainer.step(4)
    numpy.testing.assert_allclose(net[0].weight.data().asnumpy(),
                                  W - 0.1 * (gW / 4 + 0.5 * W), rtol=1e-6)
    numpy.testing.assert_allclose(net[0].bias.data().asnumpy(), b - 0.1 * gb / 4, rtol=1e-6)


def test_trainer_refuses_settings_it_does_not_know():
    with pytest.raises(ScratchMLPError, match="clip_gradient"):
        gluon.Trainer({}, "sgd", {"learning_rate": 0.1, "clip_gradient": 1})


def test_dropout_only_while_training():
    drop = nn.Dropout(0.5)
    X = np.ones((100, 10))
    assert drop(X) is X
    with autograd.record():
        out = drop(X).asnumpy()
    assert set(numpy.unique(out)) == {0.0, 2.0}
    assert 0.3 < (out == 0).mean() < 0.7


def test_dataloader_yields_arrays_in_batches_and_shuffles_each_pass():
    features = numpy.arange(20, dtype=numpy.float32).reshape(10, 2)
    labels = numpy.arange(10, dtype=numpy.int32)
    loader = gluon.data.DataLoader(gluon.data.ArrayDataset(features, labels), 4, shuffle=True)
    batches = list(loader)
    assert len(loader) == 3 and [len(y) for _, y in batches] == [4, 4, 2]
    X, y = batches[0]
    assert isinstance(X, Array) and X.dtype == numpy.float32 and y.dtype == numpy.int32
    seen = numpy.concatenate([y.asnumpy() for _, y in batches])
    assert sorted(seen) == list(range(10))
    numpy.testing.assert_array_equal(
        numpy.concatenate([X.asnumpy() for X, _ in batches]), features[seen])


def test_softmax_cross_entropy_loss_takes_int32_labels():
    logits = np.array([[1.0, 2.0, 0.5], [0.0, 0.0, 3.0]])
    labels = np.array([1, 2], dtype=numpy.int32)
    got = gluon.loss.SoftmaxCrossEntropyLoss()(logits, labels).asnumpy()
    e = numpy.exp(logits.asnumpy())
    numpy.testing.assert_allclose(got, -numpy.log(e[[0, 1], [1, 2]] / e.sum(1)), rtol=1e-6)


def test_train_ch3_trains_on_through_a_nan_loss_as_d2ls_does(tmp_path):
    features = numpy.random.default_rng(0).normal(size=(32, 4)).astype(numpy.float32)
    features[5, 1] = numpy.inf  # the weights become NaN on the first update
    labels = numpy.arange(32, dtype=numpy.int32) % 3
    data = d2l.load_array((features, labels), 8)
    net = nn.Sequential()
    net.add(nn.Dense(3))
    net.initialize(init.Normal(sigma=0.01))
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1})
    rows = d2l.train_ch3(net, data, data, gluon.loss.SoftmaxCrossEntropyLoss(), 2, trainer)
    assert len(rows) == 2 and math.isnan(rows[-1]["train_loss"])


def test_d2l_fashion_mnist_batches_are_arrays_with_int32_labels():
    from scratchmlp.data import FashionMNIST
    rng = numpy.random.default_rng(0)
    images = rng.integers(0, 256, (10, 28, 28), dtype=numpy.uint8)
    labels = rng.integers(0, 10, 10).astype(numpy.int64)
    train_iter, test_iter = d2l.load_data_fashion_mnist(
        4, data=FashionMNIST(images, labels, images, labels))
    X, y = next(iter(test_iter))
    assert isinstance(X, Array) and isinstance(y, Array)
    assert X.shape == (4, 1, 28, 28) and X.dtype == numpy.float32 and y.dtype == numpy.int32
    numpy.testing.assert_array_equal(y.asnumpy(), labels[:4])
    X.attach_grad()  # an np array like any other, as MXNet's batches are
    assert len(train_iter) == 3 and len(list(train_iter)) == 3


def _net():
    net = gluon.nn.Sequential()
    net.add(gluon.nn.Dense(3, activation="relu"), gluon.nn.Dense(2))
    net.initialize()
    net(np.zeros((1, 5)))
    return net


_LOGITS = np.zeros((4, 5))
_CE = gluon.loss.SoftmaxCrossEntropyLoss()


# A notebook user's mistakes: each was a NumPy IndexError/ValueError/ZeroDivisionError from
# deep inside, or (label -1, 1.5, lr NaN, predict n=-3) a silently wrong result.
@pytest.mark.parametrize("call, words", [
    (lambda: _CE(_LOGITS, np.array([0, 1, 2, 10])), "labels must be class numbers 0-4 (one "
     "per column of the logits), found 10"),
    (lambda: _CE(_LOGITS, np.array([0, 1, 2, -1])), "found -1"),  # was the last class
    (lambda: _CE(_LOGITS, np.array([0, 1, 2, 1.5])), "found 1.5 (not a whole number)"),
    (lambda: _CE(_LOGITS, np.array([0, 1, 2, float("nan")])), "found nan"),
    (lambda: _CE(_LOGITS, ["a", "b", "c", "d"]), "got <U1 values"),
    (lambda: scratchmlp.nn.softmax_cross_entropy(_LOGITS, np.array([5, 0, 0, 0])), "found 5"),
    (lambda: scratchmlp.nn.SoftmaxCrossEntropyLoss()(_LOGITS, [0, 0, 0, -2]), "found -2"),
    (lambda: _net()(np.zeros((4, 7))), "Dense(5 -> 3, Activation(relu)): input of shape (4, 7) "
     "has 7 values per row, the layer takes 5"),
    (lambda: gluon.nn.Dense(0), "Dense: units must be a whole number 1 or more, got 0"),
    (lambda: gluon.nn.Dense(2.5), "got 2.5"),  # was silently 2
    (lambda: gluon.nn.Dense(3, in_units=-1), "in_units must be a whole number 0 or more"),
    (lambda: gluon.Trainer(_net().collect_params(), "sgd", {"learning_rate": float("nan")}),
     "Trainer: learning_rate must be a positive number, got nan"),
    (lambda: gluon.Trainer(_net().collect_params(), "sgd").set_learning_rate(-1),
     "learning_rate must be a positive number, got -1"),
    (lambda: gluon.Trainer(_net().collect_params(), "sgd").step(0),
     "Trainer.step: batch_size must be a positive number"),
    (lambda: d2l.load_data_fashion_mnist(10, resize=64), "resize=64 is not supported"),
    (lambda: d2l.predict_ch3(_net(), [(np.zeros((2, 5)), np.array([1, 0]))], n=0),
     "predict: n must be a positive whole number, got 0"),
    (lambda: d2l.train_ch3(_net(), [], [], _CE, 1, 0.1),  # the lr where the updater goes
     "updater must be a gluon.Trainer or a function of the batch size"),
    (lambda: d2l.train_ch3(_net(), [], [], _CE, 2.5, lambda n: None), "num_epochs must be a "
     "whole number from 0 to 100000, got 2.5"),
    (lambda: d2l.train_epoch_ch3(_net(), [], _CE, lambda n: None),  # ZeroDivisionError
     "the training iterator yielded no examples"),
    (lambda: d2l.get_fashion_mnist_labels([3, 11]), "labels are classes 0-9, found 11"),
    (lambda: d2l.get_fashion_mnist_labels([-1]), "found -1"),  # was 'ankle boot'
    (lambda: d2l.sgd([np.ones(3)], 0.1, 1), "sgd: a parameter has no gradient; call "
     "attach_grad()"),
    (lambda: gluon.data.DataLoader(gluon.data.ArrayDataset(_LOGITS, numpy.arange(4)), 2.5),
     "DataLoader: batch_size must be a positive whole number, got 2.5"),  # was taken as 2
    (lambda: gluon.loss.SoftmaxCrossEntropyLoss(axis=5)(_LOGITS, [0, 0, 0, 0]),
     "SoftmaxCrossEntropyLoss: axis 5 is outside predictions of shape (4, 5)"),
])
def test_a_notebook_users_mistake_is_one_line(call, words):
    with pytest.raises(ScratchMLPError) as refused:
        call()
    assert words in str(refused.value) and "\n" not in str(refused.value)


def test_float_labels_that_are_whole_numbers_are_accepted_as_mxnets():
    labels = np.array([0, 4, 2, 1], dtype="float32")
    assert numpy.allclose(_CE(_LOGITS, labels).asnumpy(), math.log(5))


def test_gluon_takes_mxnet_contexts_and_params_is_a_property():
    import warnings
    from scratchmlp import ScratchMLPError, d2l, init, npx
    net = nn.Sequential()
    net.add(nn.Dense(3, activation="softrelu", in_units=2))
    net.initialize(init.Normal(0.01), ctx=d2l.try_gpu())
    assert list(net[0].params) == [net[0].weight.name, net[0].bias.name]  # Gluon 1.x property
    assert net[0].weight.data(npx.cpu()).shape == (3, 2) and net[0].weight.list_ctx() == [npx.cpu()]
    before = net[0].weight.data().asnumpy()
    with pytest.warns(UserWarning, match="already initialized"):
        net.initialize(init.Constant(1.0))  # kept, as Gluon (which warns) keeps it
    assert (net[0].weight.data().asnumpy() == before).all()
    with pytest.raises(ScratchMLPError, match="CPU only"):
        net.initialize(ctx=npx.gpu(0), force_reinit=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        net.initialize(init.Constant(1.0), force_reinit=True)
    assert (net[0].weight.data().asnumpy() == 1).all()


def test_parameter_grad_req_add_and_null_with_the_trainer():
    net = nn.Sequential()
    net.add(nn.Dense(1, in_units=2))
    net.initialize(init.Constant(1.0))
    net.collect_params().setattr("grad_req", "add")
    X, y = np.array([[1.0, 2.0]]), np.array([[0.0]])
    for _ in range(2):
        with autograd.record():
            l = gluon.loss.L2Loss()(net(X), y)
        l.backward()
    assert net[0].weight.grad().asnumpy().tolist() == [[6.0, 12.0]]  # (3 * [1, 2]) twice
    net[0].bias.grad_req = "null"
    assert net[0].bias.grad() is None
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1})
    trainer.step(1)
    assert net[0].bias.data().asnumpy().tolist() == [0.0]  # skipped, as Gluon skips it
    numpy.testing.assert_allclose(net[0].weight.data().asnumpy(), [[0.4, -0.2]], rtol=1e-6)
    net.collect_params().zero_grad()
    assert not net[0].weight.grad().asnumpy().any()
    with pytest.raises(ScratchMLPError, match="grad_req must be"):
        net[0].weight.grad_req = "sum"


def test_loss_sample_weight_column_labels_huber_and_sigmoid_bce_as_gluon():
    from gradcheck import assert_grads
    pred, y = np.array([[0.0, 3.0], [1.0, 1.0]]), np.array([[0.5, 0.0], [1.0, 3.0]])
    weighted = gluon.loss.L2Loss()(pred, y, np.array([[2.0], [0.0]]))
    assert weighted.asnumpy().tolist() == [2 * (0.125 + 4.5) / 2, 0.0]
    ce = gluon.loss.SoftmaxCrossEntropyLoss()
    logits = np.array([[1.0, 2.0, 3.0], [1.0, 1.0, 1.0]])
    numpy.testing.assert_allclose(ce(logits, np.array([[2], [0]])).asnumpy(),
                                  ce(logits, np.array([2, 0])).asnumpy())
    numpy.testing.assert_allclose(ce(logits, np.array([2, 0]), np.array([[0.0], [1.0]])).asnumpy(),
                                  [0.0, numpy.log(3)], rtol=1e-6)
    huber = gluon.loss.HuberLoss(rho=1)(pred, y)  # |d| = .5, 3 -> .125, 2.5; 0, 2 -> 0, 1.5
    numpy.testing.assert_allclose(huber.asnumpy(), [1.3125, 0.75])
    bce = gluon.loss.SigmoidBinaryCrossEntropyLoss()
    numpy.testing.assert_allclose(bce(np.array([[0.0, 50.0]]), np.array([[1.0, 1.0]])).asnumpy(),
                                  [numpy.log(2) / 2], rtol=1e-6)
    numpy.testing.assert_allclose(
        gluon.loss.SigmoidBCELoss(from_sigmoid=True)(np.array([[0.5]]), np.array([[1.0]]))
        .asnumpy(), [numpy.log(2)], rtol=1e-6)
    rng = numpy.random.default_rng(3)
    x, target = rng.uniform(-2, 2, (3, 4)), rng.uniform(0, 1, (3, 4))
    x[numpy.abs(numpy.abs(x - target) - 1) < 0.05] += 0.2  # away from Huber's kink at rho
    assert_grads(lambda p: gluon.loss.HuberLoss()(p, target), x)
    assert_grads(lambda p: gluon.loss.SigmoidBinaryCrossEntropyLoss()(p, target), x)


def test_dataloader_rollover_and_gluon_reprs_names_and_initializer_names():
    loader = gluon.data.DataLoader(gluon.data.ArrayDataset(np.arange(5)), 2, last_batch="rollover")
    first = [b.asnumpy().tolist() for b in loader]
    assert first == [[0, 1], [2, 3]] and len(loader) == 3  # 4 rolled over: 1 + 5 rows next
    assert [b.asnumpy().tolist() for b in loader] == [[4, 0], [1, 2], [3, 4]]
    net = nn.Sequential()
    net.add(nn.Dense(4, activation="relu"), nn.Dropout(0.5), nn.Dense(2, in_units=4,
                                                                   weight_initializer="ones"))
    assert repr(net) == ("Sequential(\n  (0): Dense(None -> 4, Activation(relu))\n"
                         "  (1): Dropout(p = 0.5, axes=())\n  (2): Dense(4 -> 2, linear)\n)")
    assert net[0].name == net[0].prefix[:-1]
    net.initialize(init.Normal(0.01))
    assert (net[2].weight.data().asnumpy() == 1).all()  # the layer's own initializer wins
    with pytest.raises(ScratchMLPError, match="initializer 'gauss'"):
        nn.Dense(2, in_units=2, weight_initializer="gauss").initialize()
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1})
    with autograd.record():
        out = net(np.ones((1, 3)))
    out.backward()
    trainer.step(1)
    net.collect_params(".*bias").setattr("lr_mult", 2.0)
    with pytest.raises(ScratchMLPError, match="lr_mult"):
        trainer.step(1)  # was silently ignored once the trainer had stepped


def test_parameter_reprs_and_set_data_of_another_shape_as_gluon():
    net = nn.Sequential()
    net.add(nn.Dense(3))
    net.initialize()
    weight = net[0].weight
    assert repr(weight) == f"Parameter {weight.name} (shape=(3, -1), dtype=float32)"
    net(np.ones((2, 4)))
    assert repr(net.collect_params()) == (f"(\n  Parameter {weight.name} (shape=(3, 4), "
                                          f"dtype=float32)\n  Parameter {net[0].bias.name} "
                                          "(shape=(3,), dtype=float32)\n)")
    weight.set_data(np.ones((3, 4)))
    assert (weight.data().asnumpy() == 1).all()
    with pytest.raises(ScratchMLPError, match=r"has shape \(3, 4\); set_data got values of shape "
                                              r"\(4,\)"):
        weight.set_data(np.zeros(4))  # NumPy would have broadcast it into every row


@pytest.mark.parametrize("optimizer, settings", [("sgd", {}), ("sgd", {"momentum": 0.9}),
                                                 ("adam", {})])
def test_a_stale_gradient_is_refused_or_skipped_as_gluon(optimizer, settings):
    from scratchmlp.gluon.trainer import StaleGradient
    used, unused = nn.Dense(1, in_units=2), nn.Dense(1, in_units=2)
    used.initialize(init.Constant(1.0))
    unused.initialize(init.Constant(1.0))
    params = {**used.collect_params(), **unused.collect_params()}
    trainer = gluon.Trainer(params, optimizer, {"learning_rate": 0.1, **settings})
    with pytest.raises(StaleGradient, match=f"parameter {unused.weight.name} has not been "
                                            "updated by backward"):
        _backward(used)
        trainer.step(1)  # the unused layer never had a backward(): Gluon raises
    trainer.step(1, ignore_stale_grad=True)  # the backward above is still fresh
    assert (unused.weight.data().asnumpy() == 1).all()  # skipped
    moved = used.weight.data().asnumpy().copy()
    assert (moved != 1).all()
    with pytest.raises(UserWarning):  # a second step without backward() in between
        trainer.step(1)
    trainer.step(1, ignore_stale_grad=True)  # everything stale: nothing moves
    assert (used.weight.data().asnumpy() == moved).all()
    _backward(used)
    trainer.step(1, ignore_stale_grad=True)
    assert (used.weight.data().asnumpy() != moved).all()


def _backward(layer):
    with autograd.record():
        out = layer(np.ones((1, 2))).sum()
    out.backward()


def test_custom_blocks_as_in_d2l_model_construction():
    """Gluon 1.x: attributes register children and parameters, `_children` is an ordered dict,
    `params.get(name, shape=...)` and `params.get_constant` make parameters."""
    class MLP(nn.Block):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.hidden = nn.Dense(16, activation="relu")
            self.output = nn.Dense(3)

        def forward(self, X):
            return self.output(self.hidden(X))

    class MySequential(nn.Block):
        def add(self, block):
            self._children[block.name] = block

        def forward(self, X):
            for block in self._children.values():
                X = block(X)
            return X

    class MyDense(nn.Block):
        def __init__(self, units, in_units, **kwargs):
            super().__init__(**kwargs)
            self.weight = self.params.get("weight", shape=(in_units, units))
            self.bias = self.params.get("bias", shape=(units,))
            self.fixed = self.params.get_constant("fixed", np.ones((units,)))

        def forward(self, x):
            return np.dot(x, self.weight.data()) + self.bias.data() + self.fixed.data()

    X = np.random.uniform(size=(2, 5))
    mlp = MLP()
    mlp.initialize()
    assert mlp(X).shape == (2, 3) and len(mlp.collect_params()) == 4
    assert repr(mlp).startswith("MLP(\n  (hidden): Dense(5 -> 16, Activation(relu))")
    seq = MySequential()
    seq.add(nn.Dense(4, activation="relu"))
    seq.add(MyDense(2, in_units=4))
    seq.initialize(init.Constant(0.5))
    assert seq(X).shape == (2, 2) and len(seq.collect_params()) == 5
    mine = list(seq._children.values())[1]
    assert list(mine.params) == [mine.prefix + n for n in ("weight", "bias", "fixed")]
    trainer = gluon.Trainer(seq.collect_params(), "sgd", {"learning_rate": 0.1})
    with autograd.record():
        out = seq(X).sum()
    out.backward()
    trainer.step(2)
    assert (mine.fixed.data().asnumpy() == 1).all() and (mine.weight.data().asnumpy() != 0.5).all()


def test_parameters_section_initializers_precedence_custom_init_and_shared_params(capsys):
    """d2l's parameters section: an init given to param.initialize wins over the layer's own,
    net.initialize's applies where the layer has none, MyInit's _init_weight fills in place,
    and Dense(params=shared.params) shares the parameters."""
    net = nn.Sequential()
    net.add(nn.Dense(8, activation="relu"), nn.Dense(1))
    net.initialize()
    net(np.random.uniform(size=(2, 4)))
    net.initialize(init=init.Constant(1), force_reinit=True)
    assert (net[0].weight.data().asnumpy() == 1).all() and not net[0].bias.data().asnumpy().any()
    net[0].bias.initialize(init=init.Constant(3), force_reinit=True)
    assert (net[0].bias.data().asnumpy() == 3).all()

    class MyInit(init.Initializer):
        def _init_weight(self, name, data):
            print("Init", name, data.shape)
            data[:] = np.random.uniform(-10, 10, data.shape)
            data *= np.abs(data) >= 5

    net.initialize(MyInit(), force_reinit=True)
    assert capsys.readouterr().out.splitlines() == [f"Init {net[0].weight.name} (8, 4)",
                                                    f"Init {net[1].weight.name} (1, 8)"]
    values = numpy.abs(net[0].weight.data().asnumpy())
    assert ((values == 0) | (values >= 5)).all()
    shared = nn.Dense(8, activation="relu")
    net = nn.Sequential()
    net.add(nn.Dense(8, activation="relu"), shared,
            nn.Dense(8, activation="relu", params=shared.params), nn.Dense(10))
    net.initialize()
    net(np.random.uniform(size=(2, 20)))
    net[1].weight.data()[0, 0] = 100
    assert net[2].weight is net[1].weight and net[2].weight.data()[0, 0].item() == 100
    assert len(net.collect_params()) == 6


def test_save_and_load_parameters_and_npx_save_load_as_d2l_read_write(tmp_path):
    from scratchmlp import npx

    class MLP(nn.Block):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.hidden = nn.Dense(8, activation="relu")
            self.output = nn.Dense(3)

        def forward(self, x):
            return self.output(self.hidden(x))

    x, y = np.arange(4), np.zeros(4)
    npx.save(tmp_path / "x-file", x)
    (x2,) = npx.load(tmp_path / "x-file")  # a list, as MXNet's
    npx.save(tmp_path / "mydict", {"x": x, "y": y})
    loaded = npx.load(tmp_path / "mydict")
    assert x2.asnumpy().tolist() == [0, 1, 2, 3] and sorted(loaded) == ["x", "y"]
    net = MLP()
    net.initialize()
    X = np.random.uniform(size=(2, 5))
    Y = net(X)
    net.save_parameters(tmp_path / "mlp.params")
    clone = MLP()  # other counters in its names; no initialize() needed
    clone.load_parameters(tmp_path / "mlp.params")
    assert (clone(X) == Y).all()
    other = nn.Sequential()
    other.add(nn.Dense(3))
    with pytest.raises(ScratchMLPError, match="mlp.params has no '0.bias'"):
        other.load_parameters(tmp_path / "mlp.params")
    (tmp_path / "text").write_text("not arrays")
    with pytest.raises(ScratchMLPError, match="not a file of arrays"):
        npx.load(tmp_path / "text")


def test_lr_mult_and_wd_mult_scale_each_parameters_step_as_gluon():
    """MXNet's SGD: w -= learning_rate * lr_mult * (grad / batch_size + wd * wd_mult * w)."""
    layer = nn.Dense(1, in_units=2)
    layer.initialize(init.Constant(1.0))
    layer.bias.lr_mult = 2.0
    layer.weight.wd_mult = 0.5
    trainer = gluon.Trainer(layer.collect_params(), "sgd", {"learning_rate": 0.1, "wd": 0.2})
    _backward(layer)  # d(sum(x W^T + b)) = x = [1, 1] for W, 1 for b
    trainer.step(1)
    numpy.testing.assert_allclose(layer.weight.data().asnumpy(), [[1 - 0.1 * (1 + 0.1)] * 2],
                                  rtol=1e-6)
    numpy.testing.assert_allclose(layer.bias.data().asnumpy(), [0 - 0.2 * 1], rtol=1e-6)
    trainer.set_learning_rate(0.05)
    _backward(layer)
    trainer.step(1)
    numpy.testing.assert_allclose(layer.bias.data().asnumpy(), [-0.2 - 0.1 * (1 + 0.2 * -0.2)],
                                  rtol=1e-6)
    layer.bias.lr_mult = -1
    with pytest.raises(ScratchMLPError, match="lr_mult/wd_mult changed"):
        trainer.step(1, ignore_stale_grad=True)


def test_trainer_adam_is_mxnets_update_and_default_learning_rate():
    """MXNet's Adam: lr_t = lr * sqrt(1 - b2^t) / (1 - b1^t), w -= lr_t * m / (sqrt(v) + eps)
    with eps added before the bias correction; its default learning rate is 0.001."""
    layer = nn.Dense(1, in_units=1, use_bias=False)
    layer.initialize(init.Constant(1.0))
    trainer = gluon.Trainer(layer.collect_params(), "adam")
    assert trainer.learning_rate == 0.001
    with autograd.record():
        out = layer(np.array([[1e-7]])).sum()
    out.backward()
    trainer.step(1)
    g, b1, b2, eps = 1e-7, 0.9, 0.999, 1e-8
    lr_t = 0.001 * numpy.sqrt(1 - b2) / (1 - b1)
    want = 1 - lr_t * (1 - b1) * g / (numpy.sqrt((1 - b2) * g * g) + eps)  # 1 - 0.00024
    numpy.testing.assert_allclose(layer.weight.data().asnumpy(), [[want]], rtol=1e-6)


def test_msraprelu_is_gaussian_xavier_with_he_magnitude():
    np.random.seed(0)
    values = init.MSRAPrelu(slope=0)((400, 600))  # std sqrt(2 / ((600 + 400) / 2))
    assert values.dtype == numpy.float32 and abs(values.mean()) < 1e-3
    numpy.testing.assert_allclose(values.std(), numpy.sqrt(2 / 500), rtol=0.01)
    layer = nn.Dense(3, in_units=4, weight_initializer="msraprelu")
    layer.initialize()
    assert layer.weight.data().shape == (3, 4)
