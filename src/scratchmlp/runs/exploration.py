"""One-factor explorations (the chapter's exercises 1-3): train a row of configurations that
differ in one setting, each into its own run folder, and collect one result per point.

Each point lives in OUT/points/<name>/ (a run folder: checkpoints every epoch) and, once done,
its result.json. Running the same exploration again skips finished points and resumes an
interrupted one from its last checkpoint, so an interruption loses at most one epoch.
A point whose loss becomes NaN/inf (or passes `loss_limit`) is stopped at once and recorded
as "diverged".
Choices are made on the validation split; the test set is scored once per point, at its end.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..errors import ScratchMLPError
from ..files import atomic_write_text, read_json
from ..train.config import TrainConfig
from ..train.loop import Diverged
from . import RunFolder, RunFolderError, train_run

RESULT_FIELDS = ["name", "x", "status", "epochs", "train_loss", "train_acc", "val_acc",
                 "test_acc", "seconds", "diverged_at"]


@dataclass
class Point:
    name: str  # folder name, e.g. "hidden-256"
    x: float  # the value on the plot's x axis
    config: TrainConfig


def _result_path(out: Path, point: Point) -> Path:
    return out / "points" / point.name / "result.json"


def load_result(out: Path, point: Point):
    """The stored result of a finished point made with the same configuration, else None
    (a missing, unreadable or odd result.json means: train the point again)."""
    path = _result_path(out, point)
    if not path.is_file():
        return None
    try:
        saved = read_json(path, "result")
    except ScratchMLPError:
        return None
    if not isinstance(saved, dict) or saved.get("config") != point.config.to_dict():
        return None  # other settings: run_point resumes it (more epochs) or refuses
    result = saved.get("result")
    if not _sound(result, point):
        return None
    return {k: float("nan") if v is None else v for k, v in result.items()}  # see run_point


SCORES = ("train_loss", "train_acc", "val_acc", "test_acc", "seconds")


def _sound(result, point: Point) -> bool:
    """A result as run_point writes it for `point`: its own name, x and epochs, a known
    status, scores that are numbers (or null for NaN). A damaged one (a string score) was a
    traceback in the report, so it is trained again instead."""
    import math
    if not isinstance(result, dict) or set(RESULT_FIELDS) - set(result):
        return False
    if (result["name"], result["x"], result["epochs"]) != (point.name, point.x,
                                                           point.config.epochs):
        return False
    if result["status"] not in ("ok", "diverged") or not isinstance(result["diverged_at"], str):
        return False
    scores = [result[k] for k in SCORES]
    return all(v is None or type(v) in (int, float) and math.isfinite(v) and v >= 0
               for v in scores)


def run_point(point: Point, out: Path, data, on_epoch=None, should_stop=None,
              loss_limit: float = None) -> dict:
    """Train one point (or resume it: its folder refuses other settings) into result.json."""
    folder = RunFolder(out / "points" / point.name)
    # a checkpoint means a finished epoch to go on from; else start the point over
    mode = "resume" if (folder.path / "checkpoint.npz").is_file() else "force"
    result = {"name": point.name, "x": point.x, "epochs": point.config.epochs}
    try:
        run = train_run(point.config, folder.path, data, mode=mode, pictures=False,
                        on_epoch=on_epoch, should_stop=should_stop, test="end",
                        loss_limit=loss_limit)
    except Diverged as e:
        result.update(_diverged(e, folder.read_metrics()))
    else:
        last = run.rows[-1] if run.rows else {}
        result.update(status="ok", diverged_at="",
                      train_loss=last.get("train_loss", float("nan")),
                      train_acc=last.get("train_acc", float("nan")),
                      val_acc=last.get("val_acc", float("nan")), test_acc=run.test_acc,
                      seconds=sum(r["seconds"] for r in run.rows))
    strict = {k: None if v != v else v for k, v in result.items()}  # NaN is not JSON: null
    atomic_write_text(_result_path(out, point),
                      json.dumps({"config": point.config.to_dict(), "result": strict},
                                 indent=2, allow_nan=False) + "\n")
    return result


def _diverged(error: Diverged, rows: list) -> dict:
    rows = [r for r in rows if r["epoch"] < error.epoch]
    last = rows[-1] if rows else {}
    why = "NaN/inf loss" if error.limit is None else f"loss {error.loss:.3g} > {error.limit:g}"
    return dict(status="diverged", diverged_at=f"epoch {error.epoch} step {error.step}: {why}",
                train_loss=float("nan"), train_acc=last.get("train_acc", float("nan")),
                val_acc=float("nan"), test_acc=float("nan"),
                seconds=sum(r["seconds"] for r in rows))


def explore(points: list, out, data, on_point_start=None, on_point_done=None, on_epoch=None,
            should_stop=None, loss_limit: float = None) -> list:
    """Every point's result, training only those not finished before."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    names = [p.name for p in points]
    if len(set(names)) != len(names):
        raise ScratchMLPError(f"the same point is listed twice: {names}")
    results = []
    for k, point in enumerate(points, 1):
        result = load_result(out, point)
        skipped = result is not None
        if on_point_start is not None:
            on_point_start(k, point, skipped)
        if result is None:
            result = run_point(point, out, data, on_epoch=on_epoch, should_stop=should_stop,
                               loss_limit=loss_limit)
        results.append(result)
        if on_point_done is not None:
            on_point_done(k, point, result, results, skipped)
    return results


def discard_points(out):
    """Remove OUT/points (a fresh start), refusing, before anything is removed, a points/
    folder that holds anything but this module's point folders (it removed a project's own
    points/ folder, whatever it held), or a point another process is training now."""
    import shutil
    points = Path(out) / "points"
    if not points.is_dir():
        return
    for child in sorted(points.iterdir()):
        _check_discardable(child)
    shutil.rmtree(points)


_POINT_FILES = {"result.json", "config.json", "metrics.csv", "model.npz", "checkpoint.npz",
                ".lock", "curves.png", "predictions.png"}


def _check_discardable(child: Path):
    folder = RunFolder(child)
    names = {p.name for p in child.iterdir()} if child.is_dir() and not child.is_symlink() \
        else None
    if names is None or not child.name.startswith(("hidden-", "depth-", "lr-")) or \
            any(name not in _POINT_FILES and not name.startswith(".") for name in names):
        raise RunFolderError(child, "not_a_point", "not a point of an exploration; only an "
                             "exploration's own points are discarded")
    pid = folder.holder()
    if pid is not None:
        raise RunFolderError(child, "in_use", f"in use by process {pid or 'unknown'}, which "
                             "is training it now")


def best(results: list):
    """The finished point with the highest validation accuracy (the choice never uses test)."""
    scored = [r for r in results if r["status"] == "ok" and r["val_acc"] == r["val_acc"]]
    return max(scored, key=lambda r: r["val_acc"]) if scored else None
