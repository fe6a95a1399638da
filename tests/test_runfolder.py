"""The run folder's promises: one writer at a time (a kernel lock, never stale), no command
writes over what it reads or over a run's own files, and a resume refuses any checkpoint or
request that does not fit the run, leaving every byte of the folder as it was."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest
from reliability_data import (  # noqa: F401  (isolated: autouse fixture)
    assert_refused, cli, isolated, snapshot, subprocess_env, weights,
    write_dataset,
)

from scratchmlp.runs import RunFolder, RunFolderError, check_output
from scratchmlp.train.config import TrainConfig
from scratchmlp.train.modelfile import build_model, save_checkpoint

FLAGS = ["--hidden", 16, "--batch-size", 64, "--no-progress"]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp("data"))


@pytest.fixture(autouse=True)
def own_data(monkeypatch):
    monkeypatch.setenv("SCRATCHMLP_VERIFY", "0")  # the tiny set is not the official files


@pytest.fixture
def trained(capsys, data_dir):
    """A finished 2-epoch run in ./run (the tests run in their own tmp folder)."""
    code, _, err = cli(capsys, "train", "--data-dir", data_dir, "--out", "run", "--epochs", 2,
                       *FLAGS)
    assert code == 0, err
    return "run"


def train(capsys, data_dir, *argv):
    return cli(capsys, "train", "--data-dir", data_dir, *argv, *FLAGS)


# ---- one writer: the lock ------------------------------------------------------------------
HOLDER = """
import sys, time
from scratchmlp.runs import RunFolder
folder = RunFolder(sys.argv[1]).acquire()
folder.claim()
print("held", flush=True)
time.sleep(120)
"""


def hold_lock(path, tmp_path) -> subprocess.Popen:
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], text=True,
                              stdout=subprocess.PIPE, env=subprocess_env(tmp_path))
    assert holder.stdout.readline().strip() == "held"
    return holder


@pytest.mark.slow
def test_a_held_folder_is_refused_naming_the_pid_and_a_killed_holder_leaves_no_stale_lock(
        capsys, data_dir, trained, tmp_path):
    holder = hold_lock(trained, tmp_path)
    try:
        before = snapshot(trained)
        for argv in (["--out", trained, "--force"], ["--resume", trained],
                     ["--out", trained]):
            line = assert_refused(train(capsys, data_dir, *argv), f"process {holder.pid}")
            assert "in use" in line or "already holds files" in line, line
        assert snapshot(trained) == before
        assert RunFolder(trained).holder() == holder.pid
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=60)
        holder.stdout.close()
    assert RunFolder(trained).holder() is None  # the kernel released it with the process
    code, _, err = train(capsys, data_dir, "--out", trained, "--force", "--epochs", 1)
    assert code == 0, err


@pytest.mark.slow
def test_force_on_a_folder_being_trained_is_refused_and_the_run_stays_whole(
        capsys, data_dir, tmp_path, monkeypatch):
    """A real second `train --force` while the first trains: refused; the first finishes and
    its config.json and weights belong together."""
    monkeypatch.setenv("SCRATCHMLP_VERIFY", "0")
    slowed = ("import sys, time; import scratchmlp.cli.train as t; from scratchmlp.cli import "
              "main; b = t._Progress.batch\n"
              "def batch(self, step, loss):\n    b(self, step, loss); print('step', flush=True);"
              " time.sleep(0.05)\n"
              "t._Progress.batch = batch; sys.exit(main(sys.argv[1:]))")
    first = subprocess.Popen(
        [sys.executable, "-c", slowed, "train", "--data-dir", str(data_dir), "--out", "run",
         "--epochs", "2", "--hidden", "24", "--batch-size", "64"],
        env=subprocess_env(tmp_path, SCRATCHMLP_VERIFY="0"), text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path)
    try:
        for line in first.stdout:
            if line.startswith("step"):
                break
        assert_refused(train(capsys, data_dir, "--out", "run", "--force", "--epochs", 1),
                       f"run: in use by process {first.pid}")
        out, err = first.communicate(timeout=300)
    finally:
        first.kill()
    assert first.returncode == 0, err
    config = TrainConfig.load(tmp_path / "run" / "config.json")
    assert config.hidden == [24] and config.epochs == 2
    assert weights(tmp_path / "run" / "model.npz")["W1"].shape == (784, 24)


def test_the_lock_is_released_when_the_writer_is_done(tmp_path):
    folder = RunFolder(tmp_path / "run")
    with folder:
        folder.claim()
        assert folder.holder() == os.getpid()
        with pytest.raises(RunFolderError, match="in use by process"):
            RunFolder(tmp_path / "run").acquire()
    assert folder.holder() is None
    with RunFolder(tmp_path / "run"):
        pass


def test_writing_without_the_lock_is_a_bug_not_a_silent_write(tmp_path):
    folder = RunFolder(tmp_path)
    with pytest.raises(RuntimeError, match="without holding"):
        folder.write_config(TrainConfig())
    assert list(tmp_path.iterdir()) == []


# ---- no command writes over what it reads or over a run's own files ------------------------
READ = "is the file this command reads"
OWN = "only training that run writes it"


@pytest.mark.slow  # trains in-process
@pytest.mark.parametrize("target, why", [("model.npz", READ), ("checkpoint.npz", OWN),
                                         ("config.json", OWN), ("metrics.csv", OWN),
                                         # the run's pictures were replaced by ONNX bytes
                                         ("curves.png", "an ONNX model in a .png file"),
                                         ("predictions.png", "name a file ending in .onnx")])
def test_export_never_writes_over_a_runs_own_files(capsys, trained, target, why):
    before = snapshot(trained)
    assert_refused(cli(capsys, "export", trained, "--onnx", f"{trained}/{target}"),
                   f"{trained}/{target}", why)
    assert snapshot(trained) == before


@pytest.mark.slow  # trains in-process
def test_export_never_writes_over_its_input_even_by_another_name(capsys, trained, tmp_path):
    shutil.copy(f"{trained}/model.npz", tmp_path / "copy.npz")
    os.link(tmp_path / "copy.npz", tmp_path / "hardlink.onnx")
    os.symlink(tmp_path / "copy.npz", tmp_path / "symlink.onnx")
    before = (tmp_path / "copy.npz").read_bytes()
    for target in ("copy.npz", "hardlink.onnx", "symlink.onnx", "sub/../copy.npz"):
        (tmp_path / "sub").mkdir(exist_ok=True)
        assert_refused(cli(capsys, "export", tmp_path / "copy.npz", "--onnx", tmp_path / target),
                       "is the file this command reads")
    assert (tmp_path / "copy.npz").read_bytes() == before


@pytest.mark.slow  # trains in-process
@pytest.mark.parametrize("command", ["evaluate", "predict"])
@pytest.mark.parametrize("target, why", [("model.npz", READ), ("checkpoint.npz", OWN)])
def test_pictures_never_replace_a_runs_files_through_a_link(capsys, data_dir, trained,
                                                            command, target, why):
    os.symlink(os.path.abspath(f"{trained}/{target}"), "picture.png")
    before = snapshot(trained)
    assert_refused(cli(capsys, command, trained, "--data-dir", data_dir, "--out",
                       "picture.png"), why)
    assert snapshot(trained) == before


@pytest.mark.slow  # trains in-process
def test_predict_never_draws_over_the_image_it_reads(capsys, trained):
    from PIL import Image
    Image.fromarray(np.full((28, 28), 200, np.uint8)).save("shirt.png")
    before = open("shirt.png", "rb").read()
    assert_refused(cli(capsys, "predict", trained, "shirt.png", "--show", "--out", "shirt.png"),
                   READ)
    assert open("shirt.png", "rb").read() == before


def test_check_output_allows_ordinary_targets(tmp_path):
    (tmp_path / "model.npz").write_bytes(b"not a run's file: no run folder here")
    check_output(tmp_path / "model.onnx", reads=[tmp_path / "model.npz"])
    check_output(tmp_path / "elsewhere" / "model.npz", reads=[])


# ---- resume refuses what does not fit the run, touching nothing ----------------------------
@pytest.mark.slow  # trains in-process
def test_resume_refuses_a_checkpoint_of_another_network(capsys, data_dir, trained, tmp_path):
    other = TrainConfig(hidden=[32], epochs=2, batch_size=64)
    save_checkpoint(tmp_path / "other.npz", build_model(other), other, 1, {})
    shutil.copy(tmp_path / "other.npz", f"{trained}/checkpoint.npz")
    before = snapshot(trained)
    line = assert_refused(train(capsys, data_dir, "--resume", trained, "--epochs", 3),
                          "checkpoint.npz", "W1 has shape (784, 32)", "(784, 16)")
    assert "Traceback" not in line
    assert snapshot(trained) == before


@pytest.mark.slow  # trains in-process
def test_resume_refuses_optimiser_state_of_another_optimiser(capsys, data_dir, trained):
    config = TrainConfig.load(f"{trained}/config.json")
    model = build_model(config)
    state = {"first.0": np.zeros((784, 16), np.float32)}  # Adam-like state in an SGD run
    save_checkpoint(f"{trained}/checkpoint.npz", model, config, 2, state)
    before = snapshot(trained)
    assert_refused(train(capsys, data_dir, "--resume", trained, "--epochs", 3),
                   "checkpoint.npz", "opt.first.0")
    assert snapshot(trained) == before


@pytest.mark.slow  # trains in-process
def test_resume_refuses_an_absurd_epoch_in_the_checkpoint(capsys, data_dir, trained):
    config = TrainConfig.load(f"{trained}/config.json")
    save_checkpoint(f"{trained}/checkpoint.npz", build_model(config), config, 2 ** 40, {})
    before = snapshot(trained)
    assert_refused(train(capsys, data_dir, "--resume", trained, "--epochs", 3),
                   "checkpoint.npz", "epoch 1099511627776")
    assert snapshot(trained) == before


@pytest.mark.slow  # trains in-process
def test_resume_with_fewer_epochs_than_done_is_refused_without_rewriting_config(
        capsys, data_dir, trained):
    before = snapshot(trained)
    assert_refused(train(capsys, data_dir, "--resume", trained, "--epochs", 1),
                   "2 epochs are already done, more than the 1 asked for", "--epochs 2 or more")
    assert snapshot(trained) == before


@pytest.mark.slow  # trains in-process
def test_data_too_small_for_the_config_leaves_no_folder_behind(capsys, data_dir):
    assert_refused(train(capsys, data_dir, "--out", "new", "--subset", 100000), "subset")
    assert not os.path.exists("new")
    assert_refused(train(capsys, data_dir, "--out", "new", "--validation", 60000), "validation")
    assert not os.path.exists("new")
    code, _, err = train(capsys, data_dir, "--out", "new", "--subset", 100, "--epochs", 1)
    assert code == 0, err  # the corrected command is not refused by leftovers


@pytest.mark.slow  # trains in-process
def test_force_with_data_too_small_keeps_the_old_run(capsys, data_dir, trained):
    before = snapshot(trained)
    assert_refused(train(capsys, data_dir, "--out", trained, "--force", "--subset", 100000),
                   "subset")
    assert snapshot(trained) == before


@pytest.mark.slow  # trains in-process
def test_a_folder_holding_only_a_stale_temp_file_is_a_new_run(capsys, data_dir):
    os.mkdir("crashed")
    open("crashed/.model.npz.abc123.tmp", "wb").close()
    assert_refused(train(capsys, data_dir, "--resume", "crashed"), "no run to resume here",
                   "--out")
    code, _, err = train(capsys, data_dir, "--out", "crashed", "--epochs", 1)
    assert code == 0, err
    assert not os.path.exists("crashed/.model.npz.abc123.tmp")


@pytest.mark.parametrize("make, fragment", [
    (lambda: (os.mkdir("run"), os.symlink("/nonexistent", "run/.lock")), ".lock there is not a plain file"),
    (lambda: os.makedirs("run/.lock"), ".lock there is not a plain file"),
    (lambda: os.symlink("nowhere", "run"), "run: is a link to nothing"),
    (lambda: os.mkfifo("run"), "run: exists and is not a folder"),
], ids=["lock-symlink", "lock-folder", "dangling-link", "fifo"])
def test_odd_things_where_the_run_folder_or_its_lock_should_be(capsys, data_dir, make, fragment):
    make()
    before = sorted(os.listdir("."))
    assert_refused(train(capsys, data_dir, "--out", "run", "--epochs", 1), fragment)
    assert sorted(os.listdir(".")) == before
