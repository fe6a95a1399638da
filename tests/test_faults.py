"""Faults lose nothing: atomic writes, Ctrl-C/SIGTERM, SIGKILL and resume, a failing disk.

The signal tests run `python -m scratchmlp train` as a real subprocess on a tiny dataset and
compare the resumed run with an uninterrupted one, bit for bit.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from reliability_data import (  # noqa: F401  (isolated is an autouse fixture)
    assert_refused, cli, isolated, scratchmlp_command, subprocess_env, terminal_signals, weights,
    write_dataset,
)
from scratchmlp import files
from scratchmlp.errors import ScratchMLPError
from scratchmlp.files import atomic_open, atomic_write_bytes
from scratchmlp.train.modelfile import load_checkpoint
from scratchmlp.runs import RunFolder
from scratchmlp.train.metrics import read_metrics

EPOCHS = 6
STEPS_PER_EPOCH = 8  # 512 training images (the tiny set), batches of 64
TRAIN_FLAGS = ["--epochs", EPOCHS, "--hidden", 32, "--batch-size", 64,
               "--seed", 3, "--no-progress"]

# The interrupted runs are `scratchmlp train` with one test-side change: from epoch 2 on, each
# step also sleeps 20 ms, and step 3 of epoch 2 prints a marker. On a fast idle machine the tiny
# run would otherwise finish before the signal lands; the marker says "epoch 1 is saved and we
# are mid-epoch", and the sleeps leave the rest of the run (~0.7 s) for the signal to arrive.
# The sleeps change no number: the result is compared bit for bit with a run without them.
SLOWED_CLI = f"""
import sys, time
import scratchmlp.cli.train as cli_train
from scratchmlp.cli import main
steps, original = 0, cli_train._Progress.batch
def batch(self, step, loss):
    global steps
    original(self, step, loss)
    steps += 1
    if steps == {STEPS_PER_EPOCH} + 3:
        print("mid-epoch 2", flush=True)
    if steps > {STEPS_PER_EPOCH}:
        time.sleep(0.02)
cli_train._Progress.batch = batch
sys.exit(main(sys.argv[1:]))
"""
SCORES = ("epoch", "train_loss", "train_acc", "test_acc")  # the columns that are not timings


# ---- atomic writes -------------------------------------------------------------------------
def leftovers(directory) -> list:
    return sorted(p.name for p in Path(directory).iterdir() if p.name.endswith(".tmp"))


def test_a_write_that_crashes_midway_leaves_the_old_file(tmp_path):
    path = tmp_path / "checkpoint.npz"
    path.write_bytes(b"old checkpoint")
    with pytest.raises(RuntimeError, match="crash"):
        with atomic_open(path) as f:
            f.write(b"half of the new one")
            raise RuntimeError("crash")
    assert path.read_bytes() == b"old checkpoint"
    assert leftovers(tmp_path) == []


def test_a_full_disk_is_a_clear_error_and_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    path.write_bytes(b"old model")

    def no_space(fd):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(files.os, "fsync", no_space)
    with pytest.raises(ScratchMLPError, match="model.npz: cannot write \\(No space left on "
                                              "device\\); check that the folder exists"):
        atomic_write_bytes(path, b"new model")
    monkeypatch.undo()
    assert path.read_bytes() == b"old model"
    assert leftovers(tmp_path) == []


def test_writing_into_a_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(ScratchMLPError, match="nowhere/x.npz: cannot write"):
        atomic_write_bytes(tmp_path / "nowhere" / "x.npz", b"data")


@pytest.mark.slow
def test_sigkill_mid_write_leaves_the_old_file_and_resume_sweeps_the_temp(tmp_path):
    """A real crash: the writer is SIGKILLed between writing the temp file and the rename."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text("{}")
    (run / "checkpoint.npz").write_bytes(b"epoch 3 checkpoint")
    writer = subprocess.Popen(scratchmlp_command()[:1] + ["-c", f"""
import sys, time
from scratchmlp.files import atomic_open
with atomic_open({str(run / "checkpoint.npz")!r}) as f:
    f.write(b"epoch 4 checkp")
    f.flush()
    print("half written", flush=True)
    time.sleep(120)
"""], stdout=subprocess.PIPE, text=True, env=subprocess_env(tmp_path))
    try:
        assert writer.stdout.readline().strip() == "half written"
        writer.send_signal(signal.SIGKILL)
        assert writer.wait(timeout=60) == -signal.SIGKILL
    finally:
        writer.kill()
        writer.stdout.close()
    assert (run / "checkpoint.npz").read_bytes() == b"epoch 3 checkpoint"
    assert len(leftovers(run)) == 1  # the dead writer's temp file, never renamed
    with RunFolder(run) as folder:
        folder.prepare("resume")
    assert leftovers(run) == []
    assert (run / "checkpoint.npz").read_bytes() == b"epoch 3 checkpoint"


# ---- runs ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="module")
def reference(tmp_path_factory, data_dir):
    """The same run, never interrupted, in its own process."""
    base = tmp_path_factory.mktemp("reference")
    done = subprocess.run(scratchmlp_command("train", "--data-dir", data_dir, "--out",
                                             base / "run", *TRAIN_FLAGS),
                          env=subprocess_env(base, SCRATCHMLP_VERIFY="0"),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return base / "run"


def assert_same_run(run, reference):
    """Bit-identical weights and scores, and every epoch exactly once."""
    final, expected = weights(run / "model.npz"), weights(reference / "model.npz")
    assert sorted(final) == sorted(expected)
    for name in expected:
        assert np.array_equal(final[name], expected[name]), name
        assert final[name].dtype == expected[name].dtype
    rows, expected_rows = read_metrics(run / "metrics.csv"), read_metrics(reference / "metrics.csv")
    assert [row["epoch"] for row in rows] == list(range(1, EPOCHS + 1))
    assert [[row[k] for k in SCORES] for row in rows] == \
        [[row[k] for k in SCORES] for row in expected_rows]


def assert_consistent(run) -> int:
    """The folder a fault left: checkpoint, model and metrics agree on the finished epochs."""
    model, _, epoch, _ = load_checkpoint(run / "checkpoint.npz")
    saved = weights(run / "model.npz")
    metrics_epochs = [row["epoch"] for row in read_metrics(run / "metrics.csv")]
    assert metrics_epochs[:epoch] == list(range(1, epoch + 1))
    if metrics_epochs == list(range(1, epoch + 1)):  # no write of the next epoch began
        for name, value in model.state_dict().items():
            assert np.array_equal(saved[name], value)
    return epoch


def start_training(run, data_dir, tmp_path) -> subprocess.Popen:
    """Train in a subprocess; return once epoch 1 is saved and epoch 2 is under way."""
    process = subprocess.Popen(
        [sys.executable, "-c", SLOWED_CLI, "train", "--data-dir", str(data_dir), "--out",
         str(run), *map(str, TRAIN_FLAGS)],
        env=subprocess_env(tmp_path, SCRATCHMLP_VERIFY="0"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=terminal_signals)
    seen = []
    for line in process.stdout:
        seen.append(line)
        if line.startswith("mid-epoch 2"):
            assert any(line.startswith("epoch   1/") for line in seen)
            return process
    process.wait()
    raise AssertionError(f"never reached epoch 2: {''.join(seen)} {process.stderr.read()}")


def resume(run, data_dir, tmp_path):
    done = subprocess.run(scratchmlp_command("train", "--resume", run, "--data-dir", data_dir,
                                             "--no-progress"),
                          env=subprocess_env(tmp_path, SCRATCHMLP_VERIFY="0"),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"-> {run}" in done.stdout
    return done


@pytest.mark.slow
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_stop_signal_saves_and_exits_130_then_resumes_bit_identical(tmp_path, data_dir,
                                                                     reference, stop):
    run = tmp_path / "run"
    process = start_training(run, data_dir, tmp_path)
    process.send_signal(stop)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if not line.startswith("scratchmlp: note:")]
    assert len(lines) == 1 and lines[0].startswith("scratchmlp: interrupted: "), err
    finished = assert_consistent(run)
    assert 1 <= finished < EPOCHS
    assert lines[0] == (f"scratchmlp: interrupted: {finished} finished epoch(s) saved in {run}; "
                        f"continue with: scratchmlp train --resume {run}")
    assert not (run / "curves.png").exists()
    resume(run, data_dir, tmp_path)
    assert_same_run(run, reference)


@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume_is_bit_identical(tmp_path, data_dir, reference):
    run = tmp_path / "run"
    process = start_training(run, data_dir, tmp_path)
    process.send_signal(signal.SIGKILL)  # no handler runs: whatever was on disk is all there is
    process.communicate(timeout=120)
    assert process.returncode == -signal.SIGKILL
    finished = assert_consistent(run)
    assert 1 <= finished < EPOCHS
    done = resume(run, data_dir, tmp_path)
    assert [line.split("/")[0] for line in done.stdout.splitlines() if line.startswith("epoch")] \
        == [f"epoch {e:>3}" for e in range(finished + 1, EPOCHS + 1)]
    assert_same_run(run, reference)


@pytest.mark.slow
def test_failed_checkpoint_write_keeps_the_last_one_and_resume_completes(
        capsys, tmp_path, data_dir, reference, monkeypatch):
    """The disk fills while epoch 2's checkpoint is renamed into place."""
    monkeypatch.setenv("SCRATCHMLP_VERIFY", "0")
    replace, calls = files.os.replace, []

    def failing_replace(src, dst):
        if Path(dst).name == "checkpoint.npz":
            calls.append(dst)
            if len(calls) == 2:
                raise OSError(errno.ENOSPC, "No space left on device")
        return replace(src, dst)
    monkeypatch.setattr(files.os, "replace", failing_replace)
    assert_refused(cli(capsys, "train", "--data-dir", data_dir, "--out", "run", *TRAIN_FLAGS),
                   "run/checkpoint.npz: cannot write (No space left on device)",
                   "has free space")
    monkeypatch.setattr(files.os, "replace", replace)
    assert leftovers("run") == []
    assert assert_consistent(Path("run")) == 1
    # metrics.csv already holds epoch 2 (it is written first); resume trusts it only to epoch 1
    assert [row["epoch"] for row in read_metrics("run/metrics.csv")] == [1, 2]
    code, out, err = cli(capsys, "train", "--resume", "run", "--data-dir", data_dir,
                         "--no-progress")
    assert code == 0, err
    assert_same_run(Path("run"), reference)


@pytest.mark.slow
def test_resume_refuses_metrics_that_lost_epochs(capsys, tmp_path, data_dir, monkeypatch):
    monkeypatch.setenv("SCRATCHMLP_VERIFY", "0")
    flags = ["--data-dir", data_dir, "--hidden", 16, "--no-progress"]
    assert cli(capsys, "train", "--out", "run", "--epochs", 2, *flags)[0] == 0
    lines = Path("run/metrics.csv").read_text().splitlines()
    Path("run/metrics.csv").write_text("\n".join(lines[:2]) + "\n")  # epoch 2's row is gone
    assert_refused(cli(capsys, "train", "--resume", "run", "--epochs", 3, *flags[:2],
                       "--no-progress"),
                   "run/metrics.csv does not hold epochs 1-2 of checkpoint.npz",
                   "start again with --force")
    Path("run/metrics.csv").write_text("epoch,train_loss\n1,abc\n")
    assert_refused(cli(capsys, "train", "--resume", "run", *flags[:2], "--no-progress"),
                   "run/metrics.csv: not a readable metrics file")
    Path("run/metrics.csv").unlink()
    os.mkfifo("run/metrics.csv")  # never opened: not a file of rows
    assert_refused(cli(capsys, "train", "--resume", "run", *flags[:2], "--no-progress"),
                   "run/metrics.csv does not hold epochs 1-2")


@pytest.mark.slow
def test_resume_refuses_a_damaged_checkpoint(capsys, tmp_path, data_dir, monkeypatch):
    monkeypatch.setenv("SCRATCHMLP_VERIFY", "0")
    assert cli(capsys, "train", "--out", "run", "--epochs", 1, "--hidden", 16,
               "--data-dir", data_dir, "--no-progress")[0] == 0
    whole = Path("run/checkpoint.npz").read_bytes()
    Path("run/checkpoint.npz").write_bytes(whole[:100])
    assert_refused(cli(capsys, "train", "--resume", "run", "--epochs", 2, "--data-dir", data_dir),
                   "run/checkpoint.npz: damaged .npz model file")


@pytest.mark.slow
def test_resume_refuses_a_run_whose_checkpoint_is_lost(capsys, tmp_path, data_dir, monkeypatch):
    """It trained again from epoch 1 without a word, replacing model.npz and metrics.csv; a
    crash in epoch 1 (one row, no checkpoint yet) still starts over."""
    monkeypatch.setenv("SCRATCHMLP_VERIFY", "0")
    flags = ["--hidden", 16, "--data-dir", data_dir, "--no-progress"]
    assert cli(capsys, "train", "--out", "run", "--epochs", 2, *flags)[0] == 0
    Path("run/checkpoint.npz").unlink()
    before = {p.name: p.read_bytes() for p in Path("run").iterdir() if p.is_file()}
    assert_refused(cli(capsys, "train", "--resume", "run", "--epochs", 3, *flags),
                   "run/checkpoint.npz is missing, though metrics.csv holds 2 finished epochs",
                   "restore the file, or start again with --force")
    assert {p.name: p.read_bytes() for p in Path("run").iterdir() if p.is_file()} == before
    lines = Path("run/metrics.csv").read_text().splitlines()
    Path("run/metrics.csv").write_text("\n".join(lines[:2]) + "\n")  # epoch 1 only
    assert cli(capsys, "train", "--resume", "run", "--epochs", 3, *flags)[0] == 0


SLOW_LOAD_CLI = """
import sys, time
import scratchmlp.cli.train as cli_train
from scratchmlp.cli import main
def load_data(args):
    print("loading", flush=True)
    time.sleep(60)
cli_train.load_data = load_data
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.slow
def test_sigterm_while_the_data_loads_is_one_line_and_writes_nothing(tmp_path, data_dir):
    run = tmp_path / "run"
    process = subprocess.Popen(
        [sys.executable, "-c", SLOW_LOAD_CLI, "train", "--data-dir", str(data_dir), "--out",
         str(run), *map(str, TRAIN_FLAGS)],
        env=subprocess_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout.readline() == "loading\n"
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 130, err
    assert err.startswith("scratchmlp: interrupted") and len(err.splitlines()) == 1, err
    assert not run.exists()


@pytest.fixture
def ctrl_c_raises():
    """SIGINT as Python sets it up in a terminal, whatever the suite was started with (a
    `make test &` from a script starts it with SIGINT ignored)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_a_second_ctrl_c_stops_at_once(capsys, data_dir, monkeypatch, ctrl_c_raises):
    """The first Ctrl-C asks for a stop after the step; a second one does not wait."""
    from scratchmlp import runs as run_module
    monkeypatch.setenv("SCRATCHMLP_VERIFY", "0")

    def fit_with_two_ctrl_c(*args, should_stop, **kwargs):
        signal.raise_signal(signal.SIGINT)
        assert should_stop()  # the first one only sets the flag
        signal.raise_signal(signal.SIGINT)
        raise AssertionError("the second Ctrl-C did not stop the run")
    monkeypatch.setattr(run_module, "train_run", fit_with_two_ctrl_c)
    code, _, err = cli(capsys, "train", "--data-dir", data_dir, "--out", "run", *TRAIN_FLAGS)
    assert code == 130
    assert err.splitlines()[-1] == ("scratchmlp: interrupted (finished epochs of a run are "
                                    "saved; continue it with scratchmlp train --resume RUN)")
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handlers restored


STARTUP_CTRL_C_CLI = """
import os, signal, sys
import scratchmlp.cli as cli
original = cli.build_parser
def build_parser():
    os.kill(os.getpid(), signal.SIGINT)  # a Ctrl-C while the command starts, before it runs
    return original()
cli.build_parser = build_parser
cli.run()
"""


@pytest.mark.slow
def test_ctrl_c_while_the_command_starts_is_one_line(tmp_path, data_dir):
    """Python's own KeyboardInterrupt traceback came out (found by killing train at random
    moments: about one Ctrl-C in ten landed while the parser was built)."""
    run = tmp_path / "run"
    done = subprocess.run([sys.executable, "-c", STARTUP_CTRL_C_CLI, "train", "--data-dir",
                           str(data_dir), "--out", str(run), *map(str, TRAIN_FLAGS)],
                          env=subprocess_env(tmp_path), capture_output=True, text=True,
                          timeout=60, preexec_fn=terminal_signals)
    assert done.returncode == 130, done.stderr
    assert done.stderr == "scratchmlp: interrupted\n"
    assert not run.exists()


def mount_tmpfs(path, size: str) -> Path:
    path.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()})")
    return path


@pytest.mark.slow
def test_a_disk_that_fills_mid_run_says_what_is_saved_then_resume_completes(
        tmp_path, data_dir, reference):
    """A 300 KiB disk holds epoch 1 (config, metrics, model and checkpoint: 210 KiB) but not
    epoch 2's model beside them. The line said only `cannot write`, not that epoch 1 is safe
    nor how to go on; once space is back, --resume ends bit-identical."""
    disk = mount_tmpfs(tmp_path / "disk", "300k")
    try:
        run = disk / "run"
        env = subprocess_env(tmp_path, SCRATCHMLP_VERIFY="0")
        done = subprocess.run(scratchmlp_command("train", "--data-dir", data_dir, "--out", run,
                                                 *TRAIN_FLAGS), env=env, capture_output=True,
                              text=True, timeout=120)
        lines = [line for line in done.stderr.splitlines() if ": note:" not in line]
        assert done.returncode == 2 and len(lines) == 1, done.stderr
        assert lines[0] == (f"scratchmlp: error: {run}/model.npz: cannot write (No space left "
                            "on device); check that the folder exists, is writable and has "
                            f"free space; 1 finished epoch(s) saved in {run}; continue with: "
                            f"scratchmlp train --resume {run}")
        assert leftovers(run) == [] and assert_consistent(run) == 1
        subprocess.run(["mount", "-o", "remount,size=2m", str(disk)], check=True)
        resume(run, data_dir, tmp_path)
        assert_same_run(run, reference)
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)


@pytest.mark.slow
def test_a_lock_removed_while_training_stops_the_writer_before_it_writes(
        tmp_path, data_dir, reference):
    """`rm RUN/.lock` (taken for a stale lock) let a second `train --force` lock a new file
    and write the same folder: it swept the first writer's temp file, which then failed with
    `cannot write (No such file or directory)` and said its epochs were saved there."""
    run = tmp_path / "run"
    process = start_training(run, data_dir, tmp_path)
    (run / ".lock").unlink()
    out, err = process.communicate(timeout=120)
    lines = [line for line in err.splitlines() if ": note:" not in line]
    assert process.returncode == 2 and len(lines) == 1, err
    assert lines[0] == (f"scratchmlp: error: {run}: .lock was removed or replaced while this "
                        "process held it, so another process may be writing the folder; "
                        "stopped before writing more; leave .lock alone while a run trains; "
                        f"see what the folder holds with scratchmlp runs {run}")
    finished = assert_consistent(run)
    assert 1 <= finished < EPOCHS and leftovers(run) == []
    resume(run, data_dir, tmp_path)
    assert_same_run(run, reference)


@pytest.mark.slow
def test_resume_of_a_config_json_edited_mid_run_blames_the_file(capsys, data_dir, monkeypatch):
    """config.json edited while the run trained (lr 0.5 -> 0.1): the checkpoint disagrees with
    it, and the advice was `resume it without changing them`, though no flag changed."""
    monkeypatch.setenv("SCRATCHMLP_VERIFY", "0")
    flags = ["--data-dir", data_dir, "--no-progress"]
    assert cli(capsys, "train", "--out", "run", "--epochs", 1, "--hidden", 16, *flags)[0] == 0
    config = Path("run/config.json")
    config.write_text(config.read_text().replace('"lr": 0.5', '"lr": 0.1'))
    assert_refused(cli(capsys, "train", "--resume", "run", "--epochs", 2, *flags),
                   "run: the run was made with other settings (lr 0.5 there, 0.1 here) in "
                   "checkpoint.npz (against config.json); restore the file, or start again "
                   "with --force")


@pytest.mark.slow
def test_explore_on_a_disk_that_fills_says_what_is_saved_and_a_rerun_completes(
        tmp_path, data_dir):
    """A 140 KiB disk holds the point's epoch 1 but not epoch 2's model beside it; the line
    said only `cannot write`. Once space is back, the same command ends as a run never
    interrupted (the point's weights bit-identical)."""
    env = subprocess_env(tmp_path, SCRATCHMLP_VERIFY="0")

    def explore(out):
        return subprocess.run(scratchmlp_command(
            "explore", "hidden", "--widths", 16, "--epochs", 3, "--batch-size", 64,
            "--validation", 100, "--data-dir", data_dir, "--no-progress", "--out", out),
            env=env, capture_output=True, text=True, timeout=120)
    assert explore(tmp_path / "reference").returncode == 0
    disk = mount_tmpfs(tmp_path / "disk", "140k")
    try:
        done = explore(disk / "ex")
        lines = [line for line in done.stderr.splitlines() if ": note:" not in line]
        assert done.returncode == 2 and len(lines) == 1, done.stderr
        assert lines[0].endswith("has free space; 1 finished epoch(s) of the point saved; run "
                                 "the same command again to continue"), lines[0]
        subprocess.run(["mount", "-o", "remount,size=2m", str(disk)], check=True)
        assert explore(disk / "ex").returncode == 0
        point = Path("points/hidden-16/model.npz")
        assert (disk / "ex" / point).read_bytes() == (tmp_path / "reference" / point).read_bytes()
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)


def test_a_ctrl_c_ignored_at_the_start_stays_ignored():
    """Under `nohup` or a script's `command &` SIGINT starts ignored: the command keeps it so
    (and SIGTERM, not ignored, still asks for a stop)."""
    from scratchmlp.cli.common import StopFlag

    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with StopFlag() as stop:
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
            signal.raise_signal(signal.SIGINT)
            assert not stop()
            signal.raise_signal(signal.SIGTERM)
            assert stop()
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.mark.slow
def test_resume_of_a_finished_run_restores_a_lost_or_swapped_model(capsys, data_dir,
                                                                   monkeypatch):
    """model.npz deleted, or swapped with another run's, or metrics.csv holding a row past the
    checkpoint: `--resume` of the finished run had no epoch to train, said `done` and left them
    so (evaluate RUN then scored the other run; `runs` called the run unreadable)."""
    monkeypatch.setenv("SCRATCHMLP_VERIFY", "0")
    flags = ["--epochs", 2, "--hidden", 16, "--data-dir", data_dir, "--no-progress"]
    assert cli(capsys, "train", "--out", "run", *flags)[0] == 0
    assert cli(capsys, "train", "--out", "other", "--seed", 7, *flags)[0] == 0
    model, metrics = Path("run/model.npz"), Path("run/metrics.csv")
    trained, rows = model.read_bytes(), metrics.read_bytes()
    past = rows.splitlines(keepends=True)[-1].replace(b"2,", b"3,", 1)  # a row past epoch 2
    for change in (model.unlink, lambda: model.write_bytes(Path("other/model.npz").read_bytes()),
                   lambda: metrics.write_bytes(rows + past)):
        change()
        assert cli(capsys, "train", "--resume", "run", "--data-dir", data_dir,
                   "--no-progress")[0] == 0
        assert model.read_bytes() == trained and metrics.read_bytes() == rows


KILLED_AT_A_RENAME_CLI = """
import os, signal, sys
from scratchmlp import files
from scratchmlp.cli import main
target, seen, real_replace = sys.argv.pop(1), [], files.os.replace
def replace(source, destination):  # SIGKILL right after the rename of `target`, Nth time
    real_replace(source, destination)
    seen.append(os.path.basename(destination))
    name, nth = target.split("#")
    if seen.count(name) == int(nth) and seen[-1] == name:
        os.kill(os.getpid(), signal.SIGKILL)
files.os.replace = replace
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.slow
@pytest.mark.parametrize("target", ["config.json#1", "metrics.csv#3", "model.npz#3",
                                    "checkpoint.npz#2", "curves.png#1", "predictions.png#1"])
def test_sigkill_right_after_each_file_of_an_epoch_is_renamed_then_resume(
        tmp_path, data_dir, reference, target):
    """Every moment between the atomic writes of a run: after config.json, after epoch 2's
    metrics.csv and model.npz (the checkpoint still of epoch 1), after its checkpoint, and
    after each picture. A sweep of all 42 such points (each fsync and each rename of a
    3-epoch run) found nothing; these keep the order of writes honest."""
    run = tmp_path / "run"
    killed = subprocess.run([sys.executable, "-c", KILLED_AT_A_RENAME_CLI, target, "train",
                             "--data-dir", str(data_dir), "--out", str(run),
                             *map(str, TRAIN_FLAGS)],
                            env=subprocess_env(tmp_path, SCRATCHMLP_VERIFY="0"),
                            capture_output=True, text=True, timeout=120)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    resume(run, data_dir, tmp_path)
    assert_same_run(run, reference)
    assert leftovers(run) == [] and (run / "curves.png").is_file()


KILLED_BEFORE_A_RENAME_CLI = """
import os, signal, sys
from scratchmlp import files
from scratchmlp.cli import main
target, real_replace = sys.argv.pop(1), files.os.replace
def replace(source, destination):  # SIGKILL with `target`'s temp file written, not renamed
    if os.path.basename(destination) == target:
        os.kill(os.getpid(), signal.SIGKILL)
    real_replace(source, destination)
files.os.replace = replace
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.slow
@pytest.mark.parametrize("target", ["results.csv", "hidden.png"])
def test_explore_killed_while_writing_its_table_leaves_no_temp_file(tmp_path, data_dir,
                                                                    target):
    """The rerun finished the exploration but kept `.results.csv.RANDOM.tmp` (or the plot's)
    in OUT for good (found by killing explore at each of its writes: 2 of 84 points)."""
    out, env = tmp_path / "ex", subprocess_env(tmp_path, SCRATCHMLP_VERIFY="0")
    argv = ["explore", "hidden", "--widths", "16", "--epochs", "1", "--batch-size", "64",
            "--validation", "100", "--data-dir", str(data_dir), "--no-progress", "--out",
            str(out)]
    killed = subprocess.run([sys.executable, "-c", KILLED_BEFORE_A_RENAME_CLI, target, *argv],
                            env=env, capture_output=True, text=True, timeout=120)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert leftovers(out) != []
    again = subprocess.run(scratchmlp_command(*argv), env=env, capture_output=True, text=True,
                           timeout=120)
    assert again.returncode == 0, again.stderr
    assert leftovers(out) == [] and (out / target).is_file()


@pytest.mark.slow
def test_sweep_killed_while_writing_its_report_leaves_no_temp_file(tmp_path, data_dir):
    """As explore: `.trials.csv.RANDOM.tmp` stayed in OUT for good after a SIGKILL while the
    report was written; the rerun (here --report-only) removes it."""
    out, env = tmp_path / "sw", subprocess_env(tmp_path, SCRATCHMLP_VERIFY="0")
    argv = ["sweep", "--trials", "1", "--epochs", "1", "--validation", "100", "--subset", "200",
            "--space", '{"units": [16], "layers": [1]}', "--data-dir", str(data_dir), "--out",
            str(out)]
    killed = subprocess.run([sys.executable, "-c", KILLED_BEFORE_A_RENAME_CLI, "trials.csv",
                             *argv], env=env, capture_output=True, text=True, timeout=120)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert leftovers(out) != []
    again = subprocess.run(scratchmlp_command(*argv, "--report-only"), env=env,
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert leftovers(out) == [] and (out / "trials.csv").is_file()
