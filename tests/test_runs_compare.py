"""What scripts and people read from the CLI: `train --json/--quiet`, `predict --json`,
`runs` and `compare`, on real small run folders trained here (tiny IDX files in tmp dirs),
and on run folders broken in every way a disk or a person can break them."""

from __future__ import annotations

import fcntl
import json
import os

import pytest
from reliability_data import (  # noqa: F401  (isolated is an autouse fixture)
    cli, error_line, isolated, write_dataset)

ODD_LR = "0.000570940170389672"


@pytest.fixture
def data(tmp_path, monkeypatch):
    monkeypatch.setenv("SCRATCHMLP_VERIFY", "0")  # our own tiny data, in Fashion-MNIST's format
    return write_dataset(tmp_path / "data")


def train_captured(data, out, *flags):
    """(stdout, stderr) of `scratchmlp train` in this process (works in module fixtures)."""
    import contextlib
    import io

    from scratchmlp.cli import main
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(["train", "--data-dir", str(data), "--out", str(out), *map(str, flags)])
    assert code == 0, stderr.getvalue()
    return stdout.getvalue(), stderr.getvalue()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Real runs trained once for the module, with what train printed: runs/a (2 epochs, 64
    validation images, --json), runs/b (1 epoch, lr ODD_LR, a small weight decay), quiet/q
    (--quiet)."""
    base = tmp_path_factory.mktemp("trained")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(base / "cache"))
        mp.setenv("SCRATCHMLP_SYSTEM_DATA_DIRS", "")
        mp.setenv("SCRATCHMLP_VERIFY", "0")  # our own tiny data, in Fashion-MNIST's format
        data = write_dataset(base / "data")
        printed = {
            "a": train_captured(data, base / "runs" / "a", "--epochs", 2, "--validation", 64,
                                "--json"),
            "b": train_captured(data, base / "runs" / "b", "--epochs", 1, "--lr", ODD_LR,
                                "--weight-decay", "0.0000010123456"),
            "q": train_captured(data, base / "quiet" / "q", "--epochs", 1, "--quiet")}
    return base, printed


@pytest.mark.slow  # the `trained` runs are trained in-process
def test_train_json_is_the_only_thing_on_stdout(trained):
    base, printed = trained
    stdout, stderr = printed["a"]
    summary = json.loads(stdout)  # the whole of stdout is one JSON object
    assert summary["run"] == str(base / "runs" / "a")
    assert summary["epochs_done"] == summary["epochs"] == 2
    assert set(summary["final"]) == {"train_loss", "train_acc", "val_acc", "test_acc"}
    assert all(0 <= summary["final"][k] <= 1 for k in ("train_acc", "val_acc", "test_acc"))
    assert summary["config"]["validation"] == 64
    assert "checkpoint.npz" in summary["files"]
    assert all((base / "runs" / "a" / name).is_file() for name in summary["files"])
    assert "epoch   2/2" in stderr and "training MLP" in stderr  # people's lines: stderr


@pytest.mark.slow  # the `trained` runs are trained in-process
def test_header_rounds_for_reading_and_the_config_keeps_the_exact_value(trained):
    base, printed = trained
    stdout, _ = printed["b"]
    header = stdout.splitlines()[0]
    assert "lr 0.000571," in header and "1 epoch," in header and "1 epochs" not in header
    assert "weight decay 1.01e-06" in header
    config = json.loads((base / "runs" / "b" / "config.json").read_text())
    assert config["lr"] == float(ODD_LR) and config["weight_decay"] == 0.0000010123456
    results = stdout.splitlines()[-1]
    named = results.split(": ", 1)[1].split()
    assert named == ["config.json", "metrics.csv", "model.npz", "checkpoint.npz",
                     "curves.png", "predictions.png"]
    assert sorted(named) == sorted(p.name for p in (base / "runs" / "b").iterdir()
                                   if not p.name.startswith("."))


@pytest.mark.slow  # the `trained` runs are trained in-process
def test_quiet_prints_nothing(trained):
    stdout, stderr = trained[1]["q"]
    assert stdout == ""
    assert all(line.startswith("scratchmlp: note:") for line in stderr.splitlines())


def test_the_header_rounds_numbers_and_counts_epochs_in_words():
    from scratchmlp.cli.train import describe
    from scratchmlp.train.config import TrainConfig
    text = describe(TrainConfig(lr=float(ODD_LR), epochs=1, optimizer="adam",
                                augment=["shift", "flip"], dropout=0.21298765))
    assert "adam lr 0.000571," in text and "1 epoch," in text
    assert "dropout 0.213" in text and "augment shift+flip" in text
    assert ", 2 epochs," in describe(TrainConfig(epochs=2))


@pytest.fixture
def two_runs(trained, tmp_path):
    """A copy of runs/a and runs/b that a test may change."""
    import shutil
    return shutil.copytree(trained[0] / "runs", tmp_path / "runs")


@pytest.mark.slow  # the `trained` runs are trained in-process
def test_predict_json_for_images_and_for_the_test_grid(capsys, data, two_runs, tmp_path):
    from PIL import Image
    Image.new("L", (40, 50), 200).save(tmp_path / "shirt.png")
    code, stdout, err = cli(capsys, "predict", two_runs / "a", tmp_path / "shirt.png",
                            "--top", "2", "--json")
    assert code == 0, err
    (entry,) = json.loads(stdout)["images"]
    assert entry["image"] == str(tmp_path / "shirt.png") and len(entry["top"]) == 2
    assert len(entry["probabilities"]) == 10
    assert sum(entry["probabilities"].values()) == pytest.approx(1, abs=1e-4)
    assert entry["top"][0]["probability"] == max(entry["probabilities"].values())
    code, stdout, err = cli(capsys, "predict", two_runs / "a", "-n", "5", "--json",
                            "--data-dir", data, "--out", tmp_path / "grid.png")
    grid = json.loads(stdout)
    assert code == 0 and grid["images"] == 5 and len(grid["predictions"]) == 5
    assert grid["correct"] == sum(p["true"] == p["predicted"] for p in grid["predictions"])


def runs_json(capsys, directory) -> dict:
    code, stdout, err = cli(capsys, "runs", directory, "--json")
    assert code == 0 and "Traceback" not in err, err
    return {os.path.basename(e["run"]): e for e in map(json.loads, stdout.splitlines())}


@pytest.mark.slow  # the `trained` runs are trained in-process
def test_runs_lists_finished_interrupted_and_running(capsys, two_runs):
    config = two_runs / "b" / "config.json"
    config.write_text(config.read_text().replace('"epochs": 1', '"epochs": 3'))
    with open(two_runs / "a" / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # as a training process holds it, with its PID
        lock.write("4242\n")
        lock.flush()
        entries = runs_json(capsys, two_runs)
        code, table, _ = cli(capsys, "runs", two_runs)
    assert entries["a"]["state"] == "running" and entries["a"]["epochs_done"] == 2
    assert entries["a"]["pid"] == 4242 and "running (pid 4242)" in table
    assert entries["b"]["state"] == "interrupted" and entries["b"]["epochs"] == 3
    assert runs_json(capsys, two_runs)["a"]["state"] == "finished"  # lock released
    lines = table.splitlines()
    assert code == 0 and len(lines) == 3 and lines[0].split()[:3] == ["run", "network",
                                                                     "optimiser"]
    assert "784-256-10 relu" in lines[2] and "sgd lr 0.000571" in lines[2]
    assert " 1/3 " in lines[2]


def break_runs(good, runs):
    """Run folders damaged in the ways a disk, a kill or a person can damage them."""
    import shutil

    def copy(name):
        shutil.copytree(good, runs / name, ignore=shutil.ignore_patterns(".lock"))
        return runs / name
    (copy("garbage") / "config.json").write_text("{ not json")
    (copy("list") / "config.json").write_text("[1, 2]")
    (copy("wrong-field") / "config.json").write_text('{"hidden": "many"}')
    (copy("nested") / "config.json").write_text("[" * 100000)
    metrics = copy("truncated") / "metrics.csv"
    metrics.write_text(metrics.read_text()[:-20])
    (copy("binary") / "metrics.csv").write_bytes(b"\xff\xfe\x00" * 100)
    (copy("no-config") / "config.json").unlink()
    with open(copy("huge") / "metrics.csv", "r+b") as f:
        f.truncate(64 << 20)  # sparse: costs no disk
    os.remove(copy("fifo") / "config.json")
    os.mkfifo(runs / "fifo" / "config.json")  # opening it would block forever
    os.remove(copy("folder") / "config.json")
    (runs / "folder" / "config.json").mkdir()
    copy("new\nline")
    config = copy("twice-lr") / "config.json"  # listed with the second lr, which train refuses
    config.write_text(config.read_text().replace('"lr": ', '"lr": 0.1, "lr": '))
    rows = (copy("epochs-repeated") / "metrics.csv").read_text().splitlines()
    (runs / "epochs-repeated" / "metrics.csv").write_text("\n".join(rows + rows[1:]) + "\n")
    config = copy("epochs-beyond") / "config.json"  # 2 epochs done of 1
    config.write_text(config.read_text().replace('"epochs": 2', '"epochs": 1'))
    rows[-1] = "9" * 26 + rows[-1][rows[-1].index(","):]  # was listed as 999.../2 finished
    (copy("epoch-huge") / "metrics.csv").write_text("\n".join(rows) + "\n")
    return ["garbage", "list", "wrong-field", "nested", "truncated", "binary", "no-config",
            "huge", "fifo", "folder", "twice-lr", "epochs-repeated", "epoch-huge", "epochs-beyond"]


@pytest.mark.slow  # the `trained` runs are trained in-process
def test_a_run_starting_or_a_missing_folder(capsys, two_runs, tmp_path):
    (two_runs / "starting").mkdir()
    with open(two_runs / "starting" / ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # locked, config.json not written yet
        entry = runs_json(capsys, two_runs)["starting"]
    assert entry["state"] == "running" and entry["problem"] == "no config.json"
    assert runs_json(capsys, two_runs)["starting"]["state"] == "unreadable"
    code, _, err = cli(capsys, "runs", tmp_path / "nowhere")
    assert code == 2 and "no such folder" in error_line(err)
    code, stdout, _ = cli(capsys, "runs", two_runs / "a")  # one run folder itself
    assert code == 0 and len(stdout.splitlines()) == 2


@pytest.mark.slow  # the `trained` runs are trained in-process
def test_runs_gives_one_line_per_broken_run_and_never_a_traceback(capsys, two_runs):
    broken = break_runs(two_runs / "a", two_runs)
    entries = runs_json(capsys, two_runs)
    for name in broken:
        assert entries[name]["state"] == "unreadable", name
        assert "\n" not in entries[name]["problem"] and len(entries[name]["problem"]) < 200
    assert entries["new\nline"]["state"] == "finished"
    assert "64 MB" in entries["huge"]["problem"] or "bytes" in entries["huge"]["problem"]
    assert "the key 'lr' appears twice" in entries["twice-lr"]["problem"]
    assert "holds 2 epochs, more than the 1 of" in entries["epochs-beyond"]["problem"]
    for name in ("epochs-repeated", "epoch-huge"):
        assert "not 1, 2, 3, ... in order" in entries[name]["problem"]
    code, table, err = cli(capsys, "runs", two_runs)
    assert code == 0 and "Traceback" not in err
    lines = table.splitlines()
    assert len(lines) == 1 + 2 + len(broken) + 1  # header, a, b, the broken, new\nline
    assert any(line.split()[0].endswith("/new\\nline") for line in lines)


@pytest.mark.slow  # the `trained` runs are trained in-process
def test_compare_tables_the_differences_and_draws_the_curves(capsys, two_runs, tmp_path):
    (two_runs / "bad").mkdir()
    (two_runs / "bad" / "config.json").write_text("{")
    code, stdout, err = cli(capsys, "compare", two_runs / "a", two_runs / "b", two_runs / "bad",
                            "--out", tmp_path / "cmp.png", "--json")
    assert code == 0, err
    result = json.loads(stdout)
    assert result["differences"] == {"lr": [0.5, float(ODD_LR)],
                                     "weight_decay": [0.0, 0.0000010123456],
                                     "epochs": [2, 1], "validation": [64, 0]}
    assert [r["epochs_done"] for r in result["runs"]] == [2, 1]
    assert (tmp_path / "cmp.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "bad: left out: config.json: not a readable JSON config" in err
    code, table, _ = cli(capsys, "compare", two_runs / "a", two_runs / "b", "--no-plot")
    rows = {line.split()[0]: line.split()[1:] for line in table.splitlines()[1:]}
    assert rows["lr"] == ["0.5", "0.000571"] and rows["validation"] == ["64", "0"]
    assert rows["val"][0] == "acc" and rows["val"][2] == "-"  # scored in a only
    assert "batch" not in rows and "seed" not in rows


@pytest.mark.slow  # the `trained` runs are trained in-process
def test_compare_refuses_too_few_runs_and_its_own_files(capsys, two_runs):
    code, _, err = cli(capsys, "compare", two_runs / "a", two_runs / "missing")
    assert code == 2 and "two or more" in error_line(err)
    for argv, words in ((["--out", "x.png", "--no-plot"], "--out and --no-plot contradict"),
                        (["--out", ""], "argument --out: an empty name"),  # was '.: exists'
                        ([""], "argument RUN: an empty name")):
        code, _, err = cli(capsys, "compare", two_runs / "a", two_runs / "b", *argv)
        assert code == 2 and words in error_line(err), argv
    code, _, err = cli(capsys, "runs", "")  # was "no run folders in ", exit 0
    assert code == 2 and "argument DIR: an empty name" in error_line(err)
    before = (two_runs / "a" / "metrics.csv").read_bytes()
    code, _, err = cli(capsys, "compare", two_runs / "a", two_runs / "b",
                       "--out", two_runs / "a" / "metrics.csv")
    assert code == 2 and "cannot draw a .csv picture" in error_line(err)
    assert (two_runs / "a" / "metrics.csv").read_bytes() == before
    (two_runs / "link.png").symlink_to(two_runs / "b" / "config.json")
    for out, words in (("a/curves.png", "is a picture of the run"),
                       ("link.png", "is the file this command reads")):
        code, _, err = cli(capsys, "compare", two_runs / "a", two_runs / "b", "--out",
                           two_runs / out)
        assert code == 2 and words in error_line(err), out


def test_compare_says_a_mistyped_run_folder_does_not_exist(capsys, tmp_path):
    """Not "no config.json", which sent a newcomer looking for a file in a folder that is not
    there."""
    (tmp_path / "model.npz").write_bytes(b"")
    code, _, err = cli(capsys, "compare", tmp_path / "runs" / "a", tmp_path / "model.npz")
    notes = err.splitlines()[:2]
    assert notes[0].endswith("a: left out: no such folder; check the path (scratchmlp runs "
                             "lists them)")
    assert notes[1].endswith("model.npz: left out: not a folder (a run is a folder; give its "
                             "path)")
    assert code == 2 and "0 readable run folder(s) of 2" in error_line(err)


def test_the_comparison_picture_has_labelled_axes_and_one_series_per_run():
    from scratchmlp.report.compare import draw_comparison
    rows = [{"epoch": e, "train_loss": 1 / e, "test_acc": 0.8} for e in (1, 2, 3)]
    fig = draw_comparison([("a", rows), ("b", rows[:1])])
    loss_ax, acc_ax = fig.axes
    assert [l.get_label() for l in loss_ax.get_lines()] == ["a", "b"]
    assert loss_ax.get_xlabel() == acc_ax.get_xlabel() == "epoch"
    assert loss_ax.get_ylabel() and acc_ax.get_ylabel() == "accuracy"
    assert fig._suptitle.get_text() == "2 runs compared"
    assert loss_ax.get_lines()[1].get_linestyle() == "None"  # one epoch: a marker
    assert list(loss_ax.get_xticks()) == [1, 2, 3] and loss_ax.get_xlim()[0] <= 0.6


@pytest.mark.slow  # trains in-process
def test_explore_quiet_prints_nothing_and_still_writes_its_results(capsys, data, tmp_path):
    code, stdout, err = cli(capsys, "explore", "depth", "--depths", "1", "--width", "8",
                            "--epochs", "1", "--validation", "100", "--data-dir", data,
                            "--out", tmp_path / "x", "--quiet")
    assert code == 0 and stdout == "", err
    assert (tmp_path / "x" / "results.csv").is_file() and (tmp_path / "x" / "depth.png").is_file()
