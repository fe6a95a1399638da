"""The benchmark's contenders compare like with like, and its drivers' arithmetic is right.

Small synthetic data (no timing here): one epoch of the hand-fused NumPy contender must land on
the same weights and metrics as scratchmlp's own training path; PyTorch's (when torch imports)
on the same metrics from the same weights.
"""

import os
import sys
from pathlib import Path

import numpy as np
import pytest

from scratchmlp.data import FashionMNIST

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import bench_epoch  # noqa: E402
import bench_scaling  # noqa: E402
import contenders  # noqa: E402
import workers  # noqa: E402


@pytest.fixture(scope="module")
def bench():
    return contenders


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


@pytest.mark.parametrize("kind", ["numpy-chunks", "numpy-columns"])
def test_the_ceilings_train_like_the_hand_fused_loop_at_any_thread_count(bench, data, kind):
    """The two ceilings under scratchmlp's rule do the same work as the plain hand-fused loop
    (same metrics, weights within float32 rounding: they only sum in other groupings) and
    give the same bytes at 1, 2 and 3 threads."""
    from scratchmlp.engine import parallel

    plain = bench.NumpyRunner(data, hidden=16, batch=8)
    expected = [plain.epoch() for _ in range(2)]
    weights = []
    try:
        for threads in (1, 2, 3):
            parallel.set_threads(threads)
            runner = bench.build(kind, data, 16, 8)
            got = [runner.epoch() for _ in range(2)]
            for a, b in zip(got, expected):
                assert a["train_acc"] == pytest.approx(b["train_acc"])
                assert a["test_acc"] == pytest.approx(b["test_acc"])
                assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-5)
            np.testing.assert_allclose(runner.W1, plain.W1, rtol=1e-4, atol=1e-6)
            weights.append([runner.W1, runner.b1, runner.W2, runner.b2])
    finally:
        parallel.set_threads(None)
    for other in weights[1:]:
        assert all(np.array_equal(a, b) for a, b in zip(weights[0], other))
    assert not np.array_equal(weights[0][0], bench.NumpyRunner(data, 16, 8).W1)  # they trained


def test_chapter_form_trains_like_the_mlp(bench, data):
    mine, chapter = bench.ScratchRunner(data, 16, 8), bench.ChapterRunner(data, 16, 8)
    a, b = mine.epoch(), chapter.epoch()
    assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-5)


def test_floor_runs_the_epochs_matmuls(bench, data):
    floor = bench.FloorRunner(data, hidden=16, batch=8)
    assert floor.train_sizes == [8] * 6 + [2] and floor.test_sizes == [8, 8, 4]
    floor.epoch()
    assert bench.epoch_flops(60000, 10000, 256)["total"] == pytest.approx(53.2e9, rel=1e-3)


def test_torch_contender_does_the_same_work(bench, data):
    torch = pytest.importorskip("torch")
    mine, theirs = bench.ScratchRunner(data, 16, 8), bench.TorchRunner(data, 16, 8)
    with torch.no_grad():  # the same starting weights (torch stores W transposed)
        for layer, (W, b) in zip([theirs.net[1], theirs.net[3]],
                                 [mine.model.params[:2], mine.model.params[2:]]):
            layer.weight.copy_(torch.from_numpy(W.data.T.copy()))
            layer.bias.copy_(torch.from_numpy(b.data.copy()))
    a, b = mine.epoch(), theirs.epoch()
    assert b["train_loss"] == pytest.approx(a["train_loss"], rel=1e-4)
    assert b["train_acc"] == pytest.approx(a["train_acc"])
    assert b["test_acc"] == pytest.approx(a["test_acc"])


def test_a_contender_runs_at_the_thread_count_it_is_given(data):
    assert workers.threads_of("scratchmlp@1", 4) == 1
    assert workers.threads_of("scratchmlp", 4) == 4
    assert isinstance(contenders.build("scratchmlp@1", data, 16, 8), contenders.ScratchRunner)


def test_paired_ratio_and_summary():
    records = {"a": {"epochs": [{"seconds": 2.0, "cpu_seconds": 1.0, "test_acc": 0.5},
                                {"seconds": 4.0, "cpu_seconds": 2.0, "test_acc": 0.6},
                                {"seconds": 9.0, "cpu_seconds": 3.0, "test_acc": 0.7}],
                     "peak_rss_mb": 10.0},
               "b": {"epochs": [{"seconds": 1.0, "cpu_seconds": 1.0}, {"seconds": 1.0,
                                 "cpu_seconds": 1.0}, {"seconds": 3.0, "cpu_seconds": 1.0}],
                     "peak_rss_mb": 5.0}}
    assert workers.paired_ratio(records, "a", "b") == 3.0  # median of 2, 4, 3
    assert workers.paired_ratio(records, "a", "b", "cpu_seconds") == 2.0
    summary = workers.summarise(records, 60000, 10000, 256)
    assert summary["a"]["median_s"] == 4.0 and summary["a"]["final"] == {"test_acc": 0.7}


def test_linear_fit_recovers_a_line():
    a, b, r2 = bench_scaling.linear_fit([(1, 3.0), (2, 5.0), (4, 9.0)])
    assert (a, b, r2) == pytest.approx((1.0, 2.0, 1.0))


def test_busy_processes_are_ended_after_the_block():
    with bench_epoch.busy_processes(2) as pids:
        assert len(pids) == 2 and all(os.path.exists(f"/proc/{pid}") for pid in pids)
    assert not any(os.path.exists(f"/proc/{pid}") for pid in pids)


def test_the_handoff_driver_measures_each_way_it_names():
    import bench_handoff

    from scratchmlp.engine import parallel
    try:
        result = bench_handoff.run(calls=3)
    finally:
        parallel.set_threads(None)
    for key in ("ping_pong_us", "whole_1_thread_us", "chunks_1_thread_us", "pool_us",
                "openblas_2_threads_us"):
        assert result[key] > 0
    assert 0 <= result["helper_ran_a_chunk"] <= 1


def test_tables_carry_the_date_load_and_threads_of_every_figure():
    import tables

    machine = {"cpu": "CPU X", "cores": 2, "load": 0.5, "date": "2026-11-30 10:00 UTC"}
    epoch = {"machine_before": machine, "machine_after": dict(machine, load=0.75), "threads": 2,
             "rounds": 3, "epoch": {"scratchmlp": {
                 "median_s": 0.7, "min_s": 0.65, "cpu_median_s": 1.1, "examples_per_s": 85000,
                 "peak_rss_mb": 99, "final": {"test_acc": 0.8115}}},
             "ratios": {"torch/scratchmlp": 0.9}, "cpu_ratios": {"torch/scratchmlp": 1.2}}
    text = "\n".join(tables.tables(epoch))
    assert text.startswith("**2 thread(s)**, 2026-11-30 10:00 UTC, CPU X, 2 cores, "
                           "load average 0.50 before / 0.75 after")
    assert "| scratchmlp | 0.700 | 0.650 | 1.100 | 85,000 | 99 | 0.8115 |" in text
    assert "| torch/scratchmlp | 0.90 | 1.20 |" in text
    handoff = {"machine": machine, "calls": 5, "pool_us": 812.4, "helper_ran_a_chunk": 0.8}
    assert "| pool | 812 |" in tables.tables(handoff)
    with pytest.raises(ValueError):
        tables.tables({"something": "else"})


@pytest.mark.parametrize("text", ["", "{", '{"a": 1}', "[1, 2]"])
def test_tables_of_a_file_that_is_no_result_is_one_line(tmp_path, capsys, text):
    import tables

    path = tmp_path / "r.json"
    path.write_text(text)
    assert tables.main([str(path), str(tmp_path / "missing.json")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"tables: {path}: cannot make tables of it") and err.count("\n") == 1


@pytest.mark.parametrize("value", ["0", "-3", "2.5", "x", "10000000"])
def test_a_benchmark_count_out_of_range_is_argparse_one_line(capsys, value):
    import bench_handoff

    with pytest.raises(SystemExit) as stop:
        bench_handoff.main(["--calls", value])
    assert stop.value.code == 2
    assert "error: argument --calls: " in capsys.readouterr().err.strip().splitlines()[-1]
