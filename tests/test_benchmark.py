"""The epoch benchmark compares like with like: its hand-fused NumPy loop is the same training.

Small synthetic data (no timing here): one epoch of the benchmark's hand-fused NumPy contender
must land on the same weights and metrics as scratchmlp's own training path.
"""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from scratchmlp.data import FashionMNIST

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_epoch.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_epoch", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def data():
    rng = np.random.default_rng(11)
    images = lambda n: rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)  # noqa: E731
    labels = lambda n: rng.integers(0, 10, n).astype(np.int64)  # noqa: E731
    return FashionMNIST(images(50), labels(50), images(20), labels(20))


def test_hand_fused_numpy_trains_exactly_like_scratchmlp(bench, data):
    mine = bench.ScratchRunner(data, hidden=16, batch=8)
    fused = bench.NumpyRunner(data, hidden=16, batch=8)
    for _ in range(2):
        a, b = mine.epoch(), fused.epoch()
        assert a["train_acc"] == pytest.approx(b["train_acc"])
        assert a["test_acc"] == pytest.approx(b["test_acc"])
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-5)
    W1, b1, W2, b2 = (p.data for p in mine.model.params)
    for ours, theirs in ((W1, fused.W1), (b1, fused.b1), (W2, fused.W2), (b2, fused.b2)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-6)
    assert not np.allclose(W1, bench.NumpyRunner(data, 16, 8).W1)  # training moved them


def test_chapter_form_trains_like_the_mlp(bench, data):
    mine, chapter = bench.ScratchRunner(data, 16, 8), bench.ChapterRunner(data, 16, 8)
    a, b = mine.epoch(), chapter.epoch()
    assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-5)


def test_floor_runs_the_epochs_matmuls(bench, data):
    floor = bench.FloorRunner(data, hidden=16, batch=8)
    assert floor.train_sizes == [8] * 6 + [2] and floor.test_sizes == [8, 8, 4]
    floor.epoch()
    assert bench.epoch_flops(60000, 10000, 256)["total"] == pytest.approx(53.2e9, rel=1e-3)
