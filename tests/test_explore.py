"""`scratchmlp explore hidden|depth|lr`: tables, plots, divergence marked, reruns skip work."""

import csv

import pytest

from scratchmlp.cli import main
from scratchmlp.train.config import TrainConfig
from scratchmlp.runs.exploration import Point, explore
from scratchmlp.train.run import Interrupted

SMALL = ["--subset", "600", "--validation", "500", "--no-progress"]


def read_results(folder):
    with open(folder / "results.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_explore_lr_marks_divergence_and_never_crashes(real_data, tmp_path, capsys):
    out = tmp_path / "lr"
    code = main(["explore", "lr", "--lrs", "0.1,1000", "--width", "16", "--epochs", "2",
                 "--out", str(out), *SMALL])
    assert code == 0
    text = capsys.readouterr().out
    assert "point 2 of 2: lr-1000" in text and "DIVERGED epoch 1" in text
    rows = read_results(out)
    assert [r["status"] for r in rows] == ["ok", "diverged"]
    assert rows[1]["diverged_at"].startswith("epoch 1 step ")
    assert 0 < float(rows[0]["val_acc"]) <= 1 and 0 < float(rows[0]["test_acc"]) <= 1
    assert (out / "lr.png").read_bytes()[:4] == b"\x89PNG"
    # the diverged run stopped at once: no finished epoch in its metrics
    with open(out / "points" / "lr-1000" / "metrics.csv", newline="") as f:
        assert list(csv.DictReader(f)) == []
    # its result.json is strict JSON (NaN as null), so a rerun skips the diverged point too
    assert "NaN" not in (out / "points" / "lr-1000" / "result.json").read_text()
    assert main(["explore", "lr", "--lrs", "0.1,1000", "--width", "16", "--epochs", "2",
                 "--out", str(out), *SMALL]) == 0
    assert capsys.readouterr().out.count("already done, skipped") == 2


def test_a_nan_loss_is_diverged_even_without_a_limit(real_data, tmp_path, capsys):
    code = main(["explore", "lr", "--lrs", "1e36,1e38", "--width", "16", "--epochs", "1",
                 "--activation", "tanh", "--loss-limit", "inf", "--out", str(tmp_path / "nan"),
                 *SMALL])
    assert code == 0
    finite, nan = read_results(tmp_path / "nan")
    assert finite["status"] == "ok" and float(finite["train_loss"]) > 1e30  # huge, not NaN
    assert nan["status"] == "diverged" and nan["diverged_at"].endswith("NaN/inf loss")


def test_explore_hidden_reruns_skip_finished_points(real_data, tmp_path, capsys):
    out = tmp_path / "hidden"
    args = ["explore", "hidden", "--widths", "8,16", "--epochs", "1", "--out", str(out), *SMALL]
    assert main(args) == 0
    first = read_results(out)
    assert [r["name"] for r in first] == ["hidden-8", "hidden-16"]
    assert all(r["status"] == "ok" and float(r["train_loss"]) > 0 for r in first)
    capsys.readouterr()
    assert main(args) == 0
    again = capsys.readouterr().out
    assert again.count("already done, skipped") == 2
    assert read_results(out) == first
    assert (out / "hidden.png").is_file()


def test_explore_depth_uses_the_same_width_per_layer(real_data, tmp_path):
    out = tmp_path / "depth"
    assert main(["explore", "depth", "--depths", "1,3", "--width", "12", "--epochs", "1",
                 "--out", str(out), *SMALL]) == 0
    hidden = [TrainConfig.load(out / "points" / name / "config.json").hidden
              for name in ("depth-1", "depth-3")]
    assert hidden == [[12], [12, 12, 12]]
    assert [r["x"] for r in read_results(out)] == ["1", "3"]


def test_explore_refuses_flags_of_another_kind(tmp_path, capsys):
    assert main(["explore", "depth", "--widths", "8", "--out", str(tmp_path / "x")]) == 2
    assert "explore depth takes" in capsys.readouterr().err


def test_an_interrupted_exploration_resumes_to_the_same_numbers(real_data, tmp_path):
    data = real_data
    base = TrainConfig(epochs=2, lr=0.3, validation=500, subset=600, dropout=0.2,
                       augment=["shift"])
    points = [Point(f"hidden-{w}", w, TrainConfig(**{**base.to_dict(), "hidden": [w]}))
              for w in (8, 16)]
    straight = explore(points, tmp_path / "straight", data)

    epochs_seen = []

    def stop_in_second_points_second_epoch():
        return len(epochs_seen) >= 3  # point 1: epochs 1-2; point 2: epoch 1 done

    with pytest.raises(Interrupted):
        explore(points, tmp_path / "cut", data, on_epoch=epochs_seen.append,
                should_stop=stop_in_second_points_second_epoch)
    assert (tmp_path / "cut" / "points" / "hidden-8" / "result.json").is_file()
    assert not (tmp_path / "cut" / "points" / "hidden-16" / "result.json").is_file()
    started = []
    resumed = explore(points, tmp_path / "cut", data, on_epoch=started.append)
    assert [r["epoch"] for r in started] == [2]  # point 1 skipped, point 2 from its epoch 2
    for a, b in zip(straight, resumed):
        assert a["val_acc"] == b["val_acc"] and a["test_acc"] == b["test_acc"]
        assert a["train_loss"] == b["train_loss"]


def test_the_loss_panel_does_not_blow_up_tiny_differences(tmp_path):
    from scratchmlp.report.explore import loss_axis_limits, plot_exploration
    low, high = loss_axis_limits([0.31194, 0.31175])
    assert high - low >= 0.1 * 0.3118  # a 0.06% difference drawn as nearly flat
    assert low < 0.31175 and high > 0.31194
    assert loss_axis_limits([0.45, 0.30]) is None  # a real spread keeps matplotlib's limits
    assert loss_axis_limits([]) is None
    rows = [{"x": 1, "status": "ok", "val_acc": 0.86, "test_acc": 0.85, "train_acc": 0.88,
             "train_loss": 0.31194},
            {"x": 2, "status": "ok", "val_acc": 0.87, "test_acc": 0.86, "train_acc": 0.88,
             "train_loss": 0.31175},
            {"x": 3, "status": "diverged", "val_acc": float("nan"), "test_acc": float("nan"),
             "train_acc": float("nan"), "train_loss": float("nan")}]
    path = plot_exploration(rows, tmp_path / "depth.png", "hidden layers")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("text", ["[1, 2]", '{"config": 1}', "{", '{"a": 1, "a": 2}',
                                  "NaN", '{"config": null, "result": []}'])
def test_an_odd_result_file_means_the_point_is_trained_again(tmp_path, text):
    from scratchmlp.runs.exploration import _result_path, load_result
    point = Point("hidden-8", 8, TrainConfig(hidden=[8], validation=10))
    path = _result_path(tmp_path, point)
    path.parent.mkdir(parents=True)
    path.write_text(text)
    assert load_result(tmp_path, point) is None


def test_a_result_made_with_the_same_config_is_reused(tmp_path):
    import json

    from scratchmlp.runs.exploration import _result_path, load_result
    point = Point("hidden-8", 8, TrainConfig(hidden=[8], validation=10))
    result = _sound_result(point)
    path = _result_path(tmp_path, point)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"config": point.config.to_dict(), "result": result}))
    assert load_result(tmp_path, point) == result
    path.write_text(json.dumps({"config": {**point.config.to_dict(), "lr": 0.1},
                                "result": result}))
    assert load_result(tmp_path, point) is None


def _sound_result(point) -> dict:
    return {"name": point.name, "x": point.x, "status": "ok", "epochs": point.config.epochs,
            "train_loss": 0.5, "train_acc": 0.8, "val_acc": 0.75, "test_acc": 0.7,
            "seconds": 1.5, "diverged_at": ""}


# each was a traceback in the table or plot of the rerun (a str score, a list name, x "zz")
@pytest.mark.parametrize("change", [{"val_acc": "abc"}, {"test_acc": [1]}, {"seconds": "s"},
                                    {"name": ["a"]}, {"x": "zz"}, {"status": 5},
                                    {"diverged_at": 7}, {"train_loss": True},
                                    {"epochs": "many"}, {"val_acc": -1}])
def test_a_result_whose_values_are_damaged_means_the_point_is_trained_again(tmp_path, change):
    import json

    from scratchmlp.runs.exploration import _result_path, load_result
    point = Point("hidden-8", 8, TrainConfig(hidden=[8], validation=10))
    path = _result_path(tmp_path, point)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"config": point.config.to_dict(),
                                "result": {**_sound_result(point), **change}}))
    assert load_result(tmp_path, point) is None


@pytest.mark.slow
def test_a_damaged_result_file_is_retrained_by_the_command(tmp_path, capsys, monkeypatch):
    import json

    from reliability_data import write_dataset
    monkeypatch.setenv("SCRATCHMLP_VERIFY", "0")
    args = ["explore", "depth", "--depths", "1", "--width", "4", "--epochs", "1",
            "--validation", "100", "--data-dir", str(write_dataset(tmp_path / "data")),
            "--out", str(tmp_path / "ex"), "--no-progress"]
    assert main(args) == 0
    first = read_results(tmp_path / "ex")
    path = tmp_path / "ex" / "points" / "depth-1" / "result.json"
    saved = json.loads(path.read_text())
    saved["result"]["val_acc"] = "abc"  # was: ValueError: Unknown format code 'f' for 'str'
    path.write_text(json.dumps(saved))
    capsys.readouterr()
    assert main(args) == 0
    assert "already done" not in capsys.readouterr().out
    assert [r["val_acc"] for r in read_results(tmp_path / "ex")] == [first[0]["val_acc"]]


@pytest.mark.slow
def test_force_discards_only_an_explorations_own_points(tmp_path, capsys, monkeypatch):
    """--force removed OUT/points whatever it held (a project's own points/ folder), and a
    point another process was training; both are refused before anything is removed."""
    import fcntl

    from reliability_data import write_dataset
    monkeypatch.setenv("SCRATCHMLP_VERIFY", "0")
    args = ["explore", "depth", "--depths", "1", "--width", "4", "--epochs", "1",
            "--validation", "100", "--data-dir", str(write_dataset(tmp_path / "data")),
            "--no-progress", "--force", "--out"]
    (tmp_path / "proj" / "points" / "mine").mkdir(parents=True)
    (tmp_path / "proj" / "points" / "mine" / "a.txt").write_text("keep me")
    assert main(args + [str(tmp_path / "proj")]) == 2
    assert "points/mine: not a point of an exploration; only an exploration's own points are " \
           "discarded; choose another --out" in capsys.readouterr().err
    assert (tmp_path / "proj" / "points" / "mine" / "a.txt").read_text() == "keep me"
    assert main(args + [str(tmp_path / "ex")]) == 0
    with open(tmp_path / "ex" / "points" / "depth-1" / ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # as a training process holds it
        capsys.readouterr()
        assert main(args + [str(tmp_path / "ex")]) == 2
        assert "depth-1: in use by process" in capsys.readouterr().err
    assert (tmp_path / "ex" / "points" / "depth-1" / "result.json").is_file()
    assert main(args + [str(tmp_path / "ex")]) == 0  # a finished exploration starts again
    assert "already done" not in capsys.readouterr().out
