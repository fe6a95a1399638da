"""`--threads N` changes who computes, never what: the same bytes at 1, 2 and 4 threads.

Real `scratchmlp train` processes on small real IDX files; shapes large enough that the engine
cuts the layer's matmuls into several chunks (hidden 512, batch 256, a short last batch).
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import numpy as np
import pytest

from test_data import write_fashion_dir

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("threads") / "data"
    write_fashion_dir(directory, n_train=1000, n_test=300, seed=3)
    return directory


def train(data_dir, out, threads, *extra):
    cmd = [sys.executable, "-m", "scratchmlp", "train", "--data-dir", str(data_dir),
           "--out", str(out), "--hidden", "512", "--lr", "0.1", "--no-progress",
           "--threads", str(threads), *extra]
    env = {"SCRATCHMLP_VERIFY": "0", "PATH": "/usr/bin:/bin"}  # BLAS threads: the default
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    return out


def weights(run) -> dict:
    with np.load(run / "model.npz") as arrays:
        return {name: arrays[name].tobytes() for name in arrays.files if name != "config"}


def metrics(run) -> list:
    with open(run / "metrics.csv", newline="") as f:
        return [{k: v for k, v in row.items() if k not in ("seconds", "examples_per_s")}
                for row in csv.DictReader(f)]


def test_weights_and_metrics_are_the_same_bytes_at_1_2_and_4_threads(data_dir, tmp_path):
    runs = [train(data_dir, tmp_path / f"t{n}", n, "--epochs", "2") for n in (1, 2, 4)]
    first = weights(runs[0])
    assert set(first) == {"W1", "b1", "W2", "b2"}
    for run in runs[1:]:
        assert weights(run) == first
        assert (run / "model.npz").read_bytes() == (runs[0] / "model.npz").read_bytes()
        assert metrics(run) == metrics(runs[0])
    recorded = [json.loads((run / "config.json").read_text())["threads"] for run in runs]
    assert recorded == [1, 2, 4]


def test_a_resume_at_another_thread_count_continues_bit_for_bit(data_dir, tmp_path):
    straight = train(data_dir, tmp_path / "straight", 2, "--epochs", "2")
    resumed = train(data_dir, tmp_path / "resumed", 1, "--epochs", "1")
    train(data_dir, resumed, 4, "--resume", str(resumed), "--epochs", "2")
    assert weights(resumed) == weights(straight)
    assert (resumed / "model.npz").read_bytes() == (straight / "model.npz").read_bytes()
    assert metrics(resumed) == metrics(straight)
    assert json.loads((resumed / "config.json").read_text())["threads"] == 4


def test_threads_must_be_positive(data_dir, tmp_path):
    cmd = [sys.executable, "-m", "scratchmlp", "train", "--data-dir", str(data_dir),
           "--out", str(tmp_path / "run"), "--threads", "0"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                          env={"SCRATCHMLP_VERIFY": "0", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 2
    assert "--threads must be a whole number from 1 to 256, got 0" in done.stderr


@pytest.mark.parametrize("command", [["evaluate", "run"], ["predict", "run"],
                                     ["explore", "hidden"], ["sweep"]])
def test_every_computing_command_takes_threads(command, capsys):
    from scratchmlp.cli import main
    with pytest.raises(SystemExit):
        main([*command, "--help"])
    assert "--threads N" in capsys.readouterr().out
    if command == ["sweep"]:
        assert main(["sweep", "--threads", "0"]) == 2
        assert "--threads must be a whole number from 1 to 256, got 0" in capsys.readouterr().err
