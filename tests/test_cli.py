"""The `scratchmlp` command on the real data: train writes the run folder, evaluate and predict
read it back, the same seed gives the same numbers, and user mistakes are one line + exit 2.

One trained run (1 epoch) is shared by the module; a second one checks reproducibility.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import numpy
import pytest

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHAPTER_DEFAULTS = {"hidden": [256], "lr": 0.5, "batch_size": 256, "seed": 0,
                    "activation": "relu", "init": "normal", "optimizer": "sgd"}


def scratchmlp(*args, check=True):
    """Run the console command as a user would (python -m scratchmlp ...)."""
    done = subprocess.run([sys.executable, "-m", "scratchmlp", *map(str, args)],
                          capture_output=True, text=True, env=dict(os.environ), timeout=900)
    if check:
        assert done.returncode == 0, done.stdout + done.stderr
    return done


def read_rows(run):
    with open(run / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


def assert_png(path):
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, f"{path} is not a PNG"
    assert data[12:16] == b"IHDR"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width > 100 and height > 100


@pytest.fixture(scope="module")
def trained(real_data, tmp_path_factory):
    """`scratchmlp train --epochs 1 --out RUN`, the chapter's other defaults, progress bar on."""
    run = tmp_path_factory.mktemp("cli") / "run"
    done = scratchmlp("train", "--epochs", 1, "--out", run)
    return run, done


@pytest.mark.slow
def test_train_writes_the_run_folder(trained):
    run, done = trained
    for name in ("config.json", "metrics.csv", "model.npz", "curves.png", "predictions.png"):
        assert (run / name).is_file(), name
    config = json.loads((run / "config.json").read_text())
    assert {k: config[k] for k in CHAPTER_DEFAULTS} == CHAPTER_DEFAULTS and config["epochs"] == 1

    header = (run / "metrics.csv").read_text().splitlines()[0].split(",")
    assert header[:5] == ["epoch", "train_loss", "train_acc", "test_acc", "seconds"]
    (row,) = read_rows(run)
    assert row["epoch"] == "1" and float(row["test_acc"]) >= 0.75 and float(row["seconds"]) > 0

    with numpy.load(run / "model.npz", allow_pickle=False) as model:
        assert {"W1", "b1", "W2", "b2"} <= set(model.files)
        assert model["W1"].shape == (784, 256) and model["b1"].shape == (256,)
        assert model["W2"].shape == (256, 10) and model["b2"].shape == (10,)
        assert model["W1"].dtype == numpy.float32
        assert numpy.isfinite(model["W1"]).all()
    assert_png(run / "curves.png")
    assert_png(run / "predictions.png")

    assert "epoch   1/1" in done.stdout and f"results in {run}" in done.stdout
    assert "Traceback" not in done.stderr
    assert "step/s" not in done.stderr  # no bar redraws when the output is not a terminal


def test_the_progress_bar_shows_on_a_terminal(real_data, tmp_path):
    import fcntl
    import pty
    import struct
    import termios
    import threading
    parent, child = pty.openpty()
    # a fresh pseudo-terminal is 0 columns wide, and tqdm draws nothing in 0 columns
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    seen = []

    def drain():  # read while it runs: a full terminal buffer would block the trainer
        while True:
            try:
                chunk = os.read(parent, 65536)
            except OSError:  # Linux: EIO once every writer has closed
                return
            if not chunk:
                return
            seen.append(chunk)

    reader = threading.Thread(target=drain)
    reader.start()
    try:
        done = subprocess.run([sys.executable, "-m", "scratchmlp", "train", "--epochs", "1",
                               "--subset", "2560", "--hidden", "16", "--out", str(tmp_path / "run")],
                              stdout=subprocess.PIPE, stderr=child, text=True, timeout=300)
    finally:
        os.close(child)
        reader.join(timeout=30)
        os.close(parent)
    seen = b"".join(seen)
    assert done.returncode == 0, done.stdout
    assert b"0/10 [" in seen and b"step/s" in seen  # the bar, on the terminal
    assert "epoch   1/1" in done.stdout


@pytest.mark.slow
def test_evaluate_prints_the_last_rows_test_accuracy(trained):
    run, _ = trained
    done = scratchmlp("evaluate", run)
    printed = float(done.stdout.split("test accuracy")[1].split()[0])
    assert printed == pytest.approx(float(read_rows(run)[-1]["test_acc"]), abs=1e-6)
    done_file = scratchmlp("evaluate", run / "model.npz")  # the model file itself works too
    assert done_file.stdout == done.stdout


@pytest.mark.slow
def test_predict_writes_a_png(trained, tmp_path):
    run, _ = trained
    out = tmp_path / "grid.png"
    done = scratchmlp("predict", run, "-n", 6, "--out", out)
    assert_png(out)
    assert "6 test images" in done.stdout and str(out) in done.stdout


@pytest.mark.slow
def test_same_seed_same_numbers(trained, tmp_path):
    run, _ = trained
    again = tmp_path / "again"
    scratchmlp("train", "--epochs", 1, "--out", again, "--no-progress")
    same = ("epoch", "train_loss", "train_acc", "test_acc")  # seconds differ, of course
    assert [{k: r[k] for k in same} for r in read_rows(run)] == \
        [{k: r[k] for k in same} for r in read_rows(again)]
    with numpy.load(run / "model.npz") as first, numpy.load(again / "model.npz") as second:
        assert first.files == second.files
        for name in first.files:
            assert first[name].tobytes() == second[name].tobytes(), name


def test_more_hidden_layers(real_data, tmp_path):
    run = tmp_path / "deep"
    scratchmlp("train", "--hidden", "128,64", "--epochs", 0, "--out", run, "--no-progress")
    with numpy.load(run / "model.npz", allow_pickle=False) as model:
        shapes = {name: model[name].shape for name in model.files if name != "config"}
    assert shapes == {"W1": (784, 128), "b1": (128,), "W2": (128, 64), "b2": (64,),
                      "W3": (64, 10), "b3": (10,)}
    assert json.loads((run / "config.json").read_text())["hidden"] == [128, 64]


def test_a_diverging_run_is_one_line_and_exit_2(real_data, tmp_path):
    done = scratchmlp("train", "--lr", "1e30", "--epochs", 2, "--out", tmp_path / "boom",
                      "--no-progress", check=False)
    assert done.returncode == 2
    errors = done.stderr.strip().splitlines()
    assert len(errors) == 1, errors
    assert errors[0].startswith("scratchmlp: error: training diverged") and "epoch 1" in errors[0]


@pytest.mark.parametrize("args, needle", [
    (["train", "--hidden", "abc"], "--hidden"),
    (["train", "--lr", "-1"], "argument --lr: expected a positive number, got -1.0"),
    (["evaluate", "no-such-run"], "no-such-run"),
])
@pytest.mark.slow
def test_user_mistakes_are_one_line_and_exit_2(tmp_path, args, needle):
    out = ["--out", tmp_path / "run"] if args[0] == "train" else []
    done = scratchmlp(*args, *out, check=False)
    assert done.returncode == 2
    assert needle in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "run").exists()


def test_version_is_looked_up_only_when_asked():
    probe = ("import sys\nfrom scratchmlp.cli import main\ntry:\n    main(['--help'])\n"
             "except SystemExit:\n    pass\nprint('importlib.metadata' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.stdout.splitlines()[-1] == "False"  # --help stays fast
    done = subprocess.run([sys.executable, "-m", "scratchmlp", "--version"],
                          capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.startswith("scratchmlp 0.")


@pytest.mark.parametrize("args, line", [
    (["train", "--hiden", "128"], "unrecognized arguments: --hiden 128 (did you mean --hidden?); "
                                  "see 'scratchmlp train --help'"),
    (["evaluate", "run", "--jsn"], "unrecognized arguments: --jsn (did you mean --json?); "
                                   "see 'scratchmlp evaluate --help'"),
    (["runs", "--xyz"], "unrecognized arguments: --xyz; see 'scratchmlp runs --help'"),
    (["train", "extra"], "unrecognized arguments: extra; see 'scratchmlp train --help'"),
    (["--foo"], "unrecognized arguments: --foo; see 'scratchmlp --help'"),
    (["predict"], "the following arguments are required: RUN; see 'scratchmlp predict --help'"),
    (["trian"], "argument COMMAND: invalid choice: 'trian' (choose from 'train', 'evaluate', "
                "'predict', 'export', 'explore', 'sweep', 'runs', 'compare') (did you mean "
                "train?); see 'scratchmlp --help'"),
    (["explore", "width"], "argument kind: invalid choice: 'width' (choose from 'hidden', "
                           "'depth', 'lr'); see 'scratchmlp explore --help'"),  # not 'depth'
])
def test_a_mistyped_flag_points_to_its_commands_help(capsys, args, line):
    """The first mistakes of a newcomer: the advice is the subcommand's --help (not the
    top-level one), with the nearest flag; predict's IMAGE is optional, so not 'required'."""
    from scratchmlp.cli import main
    with pytest.raises(SystemExit) as stopped:
        main(args)
    assert stopped.value.code == 2
    assert capsys.readouterr().err.strip() == f"scratchmlp: error: {line}"


def test_the_top_level_help_says_where_to_start(capsys):
    from scratchmlp.cli import main
    with pytest.raises(SystemExit):
        main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "Start with 'scratchmlp train'" in text
    assert "'scratchmlp COMMAND --help' lists a command's flags and their defaults" in text


NO_DEFAULT = {("train", "--resume"), ("export", "--onnx"), ("sweep", "--best"),
              ("sweep", "--epochs")}  # nothing is done without them: no default to state


def test_every_flag_that_takes_a_value_states_its_default():
    """A newcomer reading `scratchmlp COMMAND --help` sees what happens without the flag."""
    import argparse
    from scratchmlp.cli import build_parser
    missing = [(name, action.option_strings[0])
               for name, command in build_parser().commands.items()
               for action in command._actions
               if action.option_strings and action.nargs != 0
               and not isinstance(action, argparse._HelpAction)
               and "default" not in (action.help or "")
               and (name, action.option_strings[0]) not in NO_DEFAULT]
    assert missing == []
