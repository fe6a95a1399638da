"""The exercises' additions: dropout, weight decay, momentum, Adam, cosine schedule,
augmentation, the validation split, and that the chapter's defaults are untouched.

Gradients are checked against central finite differences in float64.
"""

import json

import numpy as np
import pytest

from gradcheck import numeric_grad
from scratchmlp.data import DataIter, FashionMNIST, split_validation
from scratchmlp.data import augment as aug
from scratchmlp.engine import Array, ops, record, use_dtype
from scratchmlp.errors import ScratchMLPError
from scratchmlp.nn import MLP, optim
from scratchmlp.nn.dropout import keep_mask
from scratchmlp.nn.schedule import learning_rate
from scratchmlp.train.config import TrainConfig
from scratchmlp.train.modelfile import load_checkpoint
from scratchmlp.runs import train_run
from scratchmlp.train.run import fit


def fake_data(n_train=300, n_test=100, seed=0) -> FashionMNIST:
    """Small random 'images' whose label is readable from the pixels, so nets can learn."""
    rng = np.random.default_rng(seed)

    def part(n):
        labels = rng.integers(0, 10, n)
        images = rng.integers(0, 60, (n, 28, 28)).astype(np.uint8)
        for k in range(10):  # a bright bar whose row says the class
            images[labels == k, 2 + 2 * k, 4:24] = 250
        return images, labels.astype(np.int64)

    train_images, train_labels = part(n_train)
    test_images, test_labels = part(n_test)
    return FashionMNIST(train_images, train_labels, test_images, test_labels)


# ---- dropout ---------------------------------------------------------------------------------
def test_dropout_op_gradient_matches_finite_differences():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((4, 5))
    keep = keep_mask(np.random.default_rng(2), a.shape, 0.4, np.float64)
    weights = rng.standard_normal((4, 5))
    x = Array(a.copy())
    x.attach_grad()
    with record():
        out = (ops.dropout(x, keep) * weights).sum()
    out.backward()
    expected = numeric_grad(lambda: float((a * keep * weights).sum()), a)
    np.testing.assert_allclose(x.grad, expected, rtol=1e-6, atol=1e-8)


def test_mlp_with_dropout_gradients_match_finite_differences():
    with use_dtype(np.float64):
        net = MLP(12, [7, 5], 3, activation="tanh", init="xavier", seed=3,
                  dtype=np.float64, dropout=0.3)
        X = np.random.default_rng(4).standard_normal((6, 12))
        y = np.array([0, 1, 2, 1, 0, 2])

        def loss_value():
            net.begin_epoch(5)  # the same masks for every evaluation
            return float(ops.softmax_cross_entropy(net(Array(X)), y).data.sum())

        net.training = True
        net.begin_epoch(5)
        with record():
            loss = ops.softmax_cross_entropy(net(Array(X)), y)
        loss.backward()
        for param in net.params:
            expected = numeric_grad(loss_value, param.data)
            np.testing.assert_allclose(param.grad, expected, rtol=1e-5, atol=1e-7)


def test_dropout_is_inverted_and_only_in_training():
    net = MLP(784, [512], 10, init="he", dropout=0.5, seed=0)
    X = Array(np.random.default_rng(0).random((64, 784), dtype=np.float32))
    net.training = False
    clean = net(X).data
    np.testing.assert_array_equal(net(X).data, clean)  # evaluation: deterministic identity
    mask = keep_mask(np.random.default_rng(0), (200, 1000), 0.5)
    assert set(np.unique(mask)) == {0.0, 2.0}
    assert abs((mask == 0).mean() - 0.5) < 0.01
    assert abs(mask.mean() - 1.0) < 0.02  # survivors scaled by 1/(1-p): the mean is kept
    net.training = True
    noisy = net(X).data
    assert not np.allclose(noisy, clean)
    net.begin_epoch(1)
    first = net(X).data
    net.begin_epoch(1)
    np.testing.assert_array_equal(net(X).data, first)  # masks come from (seed, epoch)
    net.begin_epoch(2)
    assert not np.array_equal(net(X).data, first)
    assert net(X).data.dtype == np.float32


@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5, "0.2", True])
def test_bad_dropout_rates_are_refused(rate):
    with pytest.raises(ScratchMLPError, match="dropout"):
        MLP(4, [3], 2, dropout=rate)


# ---- weight decay and the optimisers ---------------------------------------------------------
def _params64(seed=0):
    rng = np.random.default_rng(seed)
    params = [Array(rng.standard_normal((3, 4)), dtype=np.float64),
              Array(rng.standard_normal(4), dtype=np.float64)]
    for p in params:
        p.attach_grad()
    return params


def test_weight_decay_is_the_gradient_of_an_l2_penalty_on_weights():
    """One SGD step with weight decay equals a step on mean loss + wd/2 * ||W||^2 (weights only)."""
    with use_dtype(np.float64):
        rng = np.random.default_rng(5)
        X, y = rng.standard_normal((8, 3)), rng.integers(0, 4, 8)
        W, b = _params64()
        wd, lr, batch = 0.3, 0.1, len(y)

        def objective():
            logits = X @ W.data + b.data
            shifted = logits - logits.max(axis=1, keepdims=True)
            losses = np.log(np.exp(shifted).sum(axis=1)) - shifted[np.arange(batch), y]
            return losses.mean() + wd / 2 * (W.data ** 2).sum()

        expected_W, expected_b = numeric_grad(objective, W.data), numeric_grad(objective, b.data)
        with record():
            loss = ops.softmax_cross_entropy(ops.matmul(W.__class__(X), W) + b, y)
        loss.backward()
        before_W, before_b = W.data.copy(), b.data.copy()
        optim.SGD([W, b], lr, weight_decay=wd).step(batch)
        np.testing.assert_allclose((before_W - W.data) / lr, expected_W, rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose((before_b - b.data) / lr, expected_b, rtol=1e-6, atol=1e-8)


def test_sgd_without_decay_is_the_chapters_update_bit_for_bit():
    rng = np.random.default_rng(0)
    a = [Array(rng.standard_normal((5, 3)).astype(np.float32)) for _ in range(2)]
    b = [Array(p.data.copy()) for p in a]
    for p, q in zip(a, b):
        p.grad = rng.standard_normal(p.shape).astype(np.float32)
        q.grad = p.grad.copy()
    optim.SGD(a, 0.5).step(256)
    optim.sgd(b, 0.5, 256)
    for p, q in zip(a, b):
        np.testing.assert_array_equal(p.data, q.data)


def _run_steps(opt, params, grads):
    for g in grads:
        for p, gi in zip(params, g):
            p.grad = gi.copy()
        opt.step(4)


def test_momentum_follows_the_heavy_ball_formula():
    params = _params64()
    start = [p.data.copy() for p in params]
    rng = np.random.default_rng(9)
    grads = [[rng.standard_normal(p.shape) for p in params] for _ in range(3)]
    _run_steps(optim.Momentum(params, 0.1, weight_decay=0.01, momentum=0.8), params, grads)
    for i, w in enumerate(start):
        w, v = w.copy(), np.zeros_like(w)
        for g in grads:
            decay = 0.01 * w if w.ndim >= 2 else 0.0
            v = 0.8 * v + g[i] / 4 + decay
            w = w - 0.1 * v
        np.testing.assert_allclose(params[i].data, w, rtol=1e-12)


def test_adam_follows_kingma_and_ba():
    params = _params64()
    start = [p.data.copy() for p in params]
    rng = np.random.default_rng(10)
    grads = [[rng.standard_normal(p.shape) for p in params] for _ in range(4)]
    _run_steps(optim.Adam(params, 0.01), params, grads)
    for i, w in enumerate(start):
        w, m, v = w.copy(), np.zeros_like(w), np.zeros_like(w)
        for t, g in enumerate(grads, 1):
            g = g[i] / 4
            m = 0.9 * m + 0.1 * g
            v = 0.999 * v + 0.001 * g * g
            w = w - 0.01 * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-8)
        np.testing.assert_allclose(params[i].data, w, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", ["momentum", "adam"])
def test_optimiser_state_round_trips_and_is_checked(name):
    params = _params64()
    opt = optim.build(name, params, 0.01)
    rng = np.random.default_rng(0)
    _run_steps(opt, params, [[rng.standard_normal(p.shape) for p in params]] * 2)
    state = {k: np.array(v) for k, v in opt.state_dict().items()}
    twin = optim.build(name, _params64(), 0.01)
    twin.load_state_dict(state)
    for k, v in twin.state_dict().items():
        np.testing.assert_array_equal(v, state[k])
    with pytest.raises(ScratchMLPError, match="optimiser state"):
        twin.load_state_dict({"bogus": np.zeros(3)})
    bad = dict(state)
    first = sorted(k for k in bad if bad[k].ndim)[0]
    bad[first] = np.zeros((7, 7))
    with pytest.raises(ScratchMLPError, match="shape"):
        twin.load_state_dict(bad)


# ---- schedule --------------------------------------------------------------------------------
def test_cosine_schedule_runs_from_the_base_rate_to_zero():
    assert learning_rate("constant", 0.3, 57, 100) == 0.3
    assert learning_rate("cosine", 0.3, 0, 100) == pytest.approx(0.3)
    assert learning_rate("cosine", 0.3, 50, 100) == pytest.approx(0.15)
    assert learning_rate("cosine", 0.3, 100, 100) == pytest.approx(0.0, abs=1e-12)
    rates = [learning_rate("cosine", 1.0, s, 40) for s in range(40)]
    assert all(a > b for a, b in zip(rates, rates[1:]))


# ---- augmentation ----------------------------------------------------------------------------
def _shift_reference(image, dy, dx):
    out = np.zeros_like(image)
    h, w = image.shape
    for r in range(h):
        for c in range(w):
            if 0 <= r - dy < h and 0 <= c - dx < w:
                out[r, c] = image[r - dy, c - dx]
    return out


def test_shift_moves_each_image_by_its_own_offset_with_zero_fill():
    images = np.random.default_rng(0).integers(1, 255, (16, 28, 28)).astype(np.uint8)
    shifted = aug.shift(images, np.random.default_rng(3))
    # recover the offsets the same generator drew, then check against a plain loop
    rng = np.random.default_rng(3)
    top, left = rng.integers(0, 5, 16), rng.integers(0, 5, 16)
    for i in range(16):
        dy, dx = 2 - top[i], 2 - left[i]
        np.testing.assert_array_equal(shifted[i], _shift_reference(images[i], dy, dx))
    assert shifted.dtype == np.uint8 and shifted.shape == images.shape
    assert len({(t, l) for t, l in zip(top, left)}) > 1  # not one offset for the whole batch


def test_flip_mirrors_about_half_of_the_images_left_right():
    images = np.random.default_rng(1).integers(0, 255, (400, 28, 28)).astype(np.uint8)
    flipped = aug.flip(images, np.random.default_rng(2))
    same = [np.array_equal(a, b) for a, b in zip(images, flipped)]
    mirrored = [np.array_equal(a[:, ::-1], b) for a, b in zip(images, flipped)]
    assert all(s or m for s, m in zip(same, mirrored))
    assert 150 < sum(mirrored) < 250


def test_augmented_iterator_is_seeded_by_seed_and_epoch_and_keeps_labels():
    data = fake_data(200)
    plain = DataIter(data.train_images, data.train_labels, 64, shuffle=True, seed=4)
    a = DataIter(data.train_images, data.train_labels, 64, shuffle=True, seed=4,
                 augment=["shift", "flip"])
    b = DataIter(data.train_images, data.train_labels, 64, shuffle=True, seed=4,
                 augment=["shift", "flip"])
    b.epoch = 1  # start at the second epoch, as a resumed run does
    list(a)  # first epoch
    second_a, second_b = list(a), list(b)
    for (xa, ya), (xb, yb) in zip(second_a, second_b):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)
    plain.epoch = 1
    for (xa, ya), (xp, yp) in zip(second_a, plain):
        np.testing.assert_array_equal(ya, yp)  # augmentation leaves the shuffle alone
        assert xa.dtype == np.float32 and 0 <= xa.min() and xa.max() <= 1
    assert any(not np.array_equal(xa, xp) for (xa, _), (xp, _) in zip(second_a, list(
        DataIter(data.train_images, data.train_labels, 64, shuffle=True, seed=4))))
    with pytest.raises(ScratchMLPError, match="augment"):
        DataIter(data.train_images, data.train_labels, 64, augment=["rotate"])


# ---- validation split ------------------------------------------------------------------------
def test_validation_split_is_fixed_disjoint_and_keeps_file_order():
    data = fake_data(1000)
    tr_x, tr_y, va_x, va_y = split_validation(data, 200)
    assert len(tr_y) == 800 and len(va_y) == 200
    again = split_validation(data, 200)
    np.testing.assert_array_equal(again[3], va_y)
    # the images are the training set's, each in exactly one part
    index = {img.tobytes(): i for i, img in enumerate(data.train_images)}
    train_ids = [index[x.tobytes()] for x in tr_x]
    valid_ids = [index[x.tobytes()] for x in va_x]
    assert sorted(train_ids + valid_ids) == list(range(1000))
    assert train_ids == sorted(train_ids)  # file order kept
    sub_x, sub_y, sub_vx, _ = split_validation(data, 200, subset=50)
    np.testing.assert_array_equal(sub_x, tr_x[:50])
    np.testing.assert_array_equal(sub_vx, va_x)  # the subset never changes the validation set
    untouched = split_validation(data, 0)
    assert untouched[0] is data.train_images and untouched[2] is None
    with pytest.raises(ScratchMLPError, match="subset"):
        split_validation(data, 200, subset=801)
    with pytest.raises(ScratchMLPError, match="validation"):
        split_validation(data, 1000)


@pytest.mark.slow  # trains in-process
def test_fit_scores_validation_each_epoch_and_test_only_when_asked(tmp_path):
    data = fake_data(400, 100)
    config = TrainConfig(hidden=[32], epochs=2, batch_size=50, lr=0.1, validation=100)
    never = fit(config, data, test="never")
    assert all(0 <= r["val_acc"] <= 1 for r in never.rows)
    assert all(r["test_acc"] != r["test_acc"] for r in never.rows) and never.test_acc is None
    once = train_run(config, tmp_path / "run", data, test="end")
    assert once.rows[0]["test_acc"] != once.rows[0]["test_acc"]  # NaN: not scored
    assert 0 <= once.rows[-1]["test_acc"] == once.test_acc <= 1
    header = (tmp_path / "run" / "metrics.csv").read_text().splitlines()[0]
    assert header.endswith(",val_acc")
    assert never.rows[-1]["val_acc"] == once.rows[-1]["val_acc"]  # in memory == on disk


# ---- runs: the chapter's numbers kept, resume exact with every addition --------------------
@pytest.mark.slow  # trains in-process
def test_default_fit_is_the_chapters_loop_bit_for_bit(tmp_path):
    from scratchmlp import d2l
    from scratchmlp.nn import SoftmaxCrossEntropyLoss
    data = fake_data(300, 60)
    config = TrainConfig(hidden=[16], epochs=2, batch_size=64)
    result = train_run(config, tmp_path / "run", data)
    net = MLP(784, [16], 10, seed=0)
    train_iter = DataIter(data.train_images, data.train_labels, 64, shuffle=True, seed=0)
    test_iter = DataIter(data.test_images, data.test_labels, 64)
    rows = d2l.train(net, train_iter, test_iter, SoftmaxCrossEntropyLoss(), 2,
                     lambda batch_size: d2l.sgd(net.params, 0.5, batch_size))
    for ours, chapter in zip(result.model.params, net.params):
        np.testing.assert_array_equal(ours.data, chapter.data)
    assert [r["train_loss"] for r in result.rows] == [r["train_loss"] for r in rows]


EVERYTHING = dict(hidden=[24, 16], epochs=3, batch_size=40, lr=0.01, optimizer="adam",
                  dropout=0.3, weight_decay=1e-3, schedule="cosine", augment=["shift", "flip"],
                  validation=60, init="he")


@pytest.mark.slow  # trains in-process
@pytest.mark.parametrize("optimizer", ["adam", "momentum"])
def test_resume_is_exact_with_dropout_augmentation_schedule_and_state(tmp_path, optimizer):
    data = fake_data(300, 60)
    config = TrainConfig(**{**EVERYTHING, "optimizer": optimizer})
    straight = train_run(config, tmp_path / "straight", data)
    first = TrainConfig(**{**EVERYTHING, "optimizer": optimizer})
    calls = []

    def stop_after_first_epoch():
        return len(calls) >= 1

    from scratchmlp.train.run import Interrupted
    with pytest.raises(Interrupted):
        train_run(first, tmp_path / "cut", data, on_epoch=calls.append,
                  should_stop=stop_after_first_epoch)
    _, _, done, state = load_checkpoint(tmp_path / "cut" / "checkpoint.npz")
    assert done == 1 and state  # the optimiser's state is in the checkpoint
    resumed = train_run(config, tmp_path / "cut", data, mode="resume")
    for a, b in zip(straight.model.params, resumed.model.params):
        np.testing.assert_array_equal(a.data, b.data)
    assert [r["val_acc"] for r in straight.rows] == [r["val_acc"] for r in resumed.rows]


def test_config_checks_the_new_fields_and_reads_old_files(tmp_path):
    old = {"hidden": [256], "lr": 0.5, "epochs": 10, "batch_size": 256, "seed": 0,
           "activation": "relu", "init": "normal", "optimizer": "sgd"}
    path = tmp_path / "old.json"
    path.write_text(json.dumps(old))
    config = TrainConfig.load(path)
    assert config == TrainConfig()  # files written before the additions mean the chapter's run
    for field, bad, message in [
            ("dropout", 1.0, "dropout"), ("weight_decay", -1e-4, "weight_decay"),
            ("momentum", 1.0, "momentum"), ("schedule", "step", "schedule"),
            ("augment", ["rotate"], "augment"), ("augment", "shift", "augment"),
            ("validation", -5, "validation"), ("subset", 0, "subset"),
            ("optimizer", "rmsprop", "optimiser"), ("seed", -1, "seed")]:
        with pytest.raises(ScratchMLPError, match=message):
            TrainConfig.from_dict({**old, field: bad})
