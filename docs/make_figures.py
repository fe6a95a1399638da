"""Redraw the exercises' pictures in docs/img/ from the result files committed beside them,
with the very functions the commands draw them with (no training).

    .venv/bin/python docs/make_figures.py

- explore-*.png: docs/explore/KIND.csv (the rows of `scratchmlp explore`'s results.csv, as
  tabled in docs/exercises.md) through the command's own `_write_outputs`;
- sweep-stageN-history.png: docs/sweep/stageN-trials.csv (each stage's trials.csv);
- sweep-stageN-importances.png: PED-ANOVA over those complete trials, as `scratchmlp sweep`
  computes it (sweep.export.importances), in an in-memory Optuna study built from the CSV and
  the stage's search space (needs optuna);
- best-curves.png: docs/best-metrics.csv, the final model's metrics.csv.

curves.png and predictions.png come from a real run: `scratchmlp train --out runs/docs` and
copy its two pictures (see docs/make_using_a_model_figures.py for the others).
"""

from __future__ import annotations

import argparse
import csv
import shutil
import tempfile
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
IMG = DOCS / "img"
EXPLORATIONS = {  # picture -> (kind, the settings its command gave)
    "explore-hidden": ("hidden", {}),
    "explore-depth": ("depth", {}),
    "explore-depth-lr0.2": ("depth", {"lr": 0.2}),
    "explore-depth-he": ("depth", {"lr": 0.1, "init": "he"}),
    "explore-lr": ("lr", {}),
}


def explorations():
    from scratchmlp.cli.explore import _write_outputs, points_for
    from scratchmlp.train.config import TrainConfig
    for picture, (kind, settings) in EXPLORATIONS.items():
        results = read_results(DOCS / "explore" / f"{picture.removeprefix('explore-')}.csv")
        args = argparse.Namespace(kind=kind, widths=[r["x"] for r in results] if kind ==
                                  "hidden" else None, depths=None, width=None, lrs=None)
        if kind == "depth":
            args.depths = [r["x"] for r in results]
        elif kind == "lr":
            args.lrs = [r["x"] for r in results]
        points = points_for(args, TrainConfig(validation=10000, **settings))
        with tempfile.TemporaryDirectory() as out:
            _write_outputs(kind, results, Path(out), points)
            shutil.copyfile(Path(out) / f"{kind}.png", IMG / f"{picture}.png")
        print(f"{picture}.png from docs/explore/{picture.removeprefix('explore-')}.csv")


def read_results(path) -> list:
    rows = []
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            x = float(row["x"])
            rows.append({**row, "x": int(x) if x.is_integer() and "lr" not in row["name"]
                         else x, "seconds": float(row["seconds"] or 0),
                         **{k: float(row[k]) for k in ("train_loss", "train_acc", "val_acc",
                                                       "test_acc")}})
    return rows


def sweeps():
    from scratchmlp.report.sweep import plot_history
    for stage in (1, 2, 3):
        rows = list(csv.DictReader(open(DOCS / "sweep" / f"stage{stage}-trials.csv")))
        points = [(int(r["number"]), float(r["value"]) if r["value"] else None, r["state"])
                  for r in rows]
        plot_history(points, IMG / f"sweep-stage{stage}-history.png",
                     title=f"sweep-stage{stage} (study 'scratchmlp'): validation accuracy "
                           "of each trial")
        print(f"sweep-stage{stage}-history.png from docs/sweep/stage{stage}-trials.csv")
        if stage < 3:
            importances(stage, rows)


def importances(stage, rows):
    """The importances as `scratchmlp sweep` computes them, over a study rebuilt from
    trials.csv."""
    import optuna

    from scratchmlp.report.sweep import plot_importances
    from scratchmlp.sweep.export import importances as sweep_importances
    from scratchmlp.sweep.space import load_space
    space = load_space(ROOT / "src" / "scratchmlp" / "recipes" / "sweep" / f"stage{stage}.json")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize")
    complete = [r for r in rows if r["state"] == "complete"]
    for row in complete:
        params, dists = trial_params(row, space)
        study.add_trial(optuna.trial.create_trial(params=params, distributions=dists,
                                                  value=float(row["value"])))
    weights = sweep_importances(study)
    plot_importances(weights, IMG / f"sweep-stage{stage}-importances.png",
                     trials=len(complete))
    print(f"sweep-stage{stage}-importances.png: PED-ANOVA over {len(complete)} trials")


def trial_params(row: dict, space: dict):
    """A trials.csv row as the parameters and distributions Optuna drew them from."""
    from optuna.distributions import (CategoricalDistribution, FloatDistribution,
                                      IntDistribution)
    widths = row["hidden"].split("x")
    values = {**row, "layers": len(widths), "units": int(widths[0])}
    params, dists = {}, {}
    for name, spec in space.items():
        if isinstance(spec, list) and len(spec) > 1:
            value = type(spec[0])(values[name]) if not isinstance(spec[0], str) else values[name]
            params[name], dists[name] = value, CategoricalDistribution(spec)
        elif isinstance(spec, dict) and spec["low"] != spec["high"]:
            kind = IntDistribution if spec.get("int") else FloatDistribution
            cast = int if spec.get("int") else float
            params[name] = cast(float(values[name]))
            dists[name] = kind(cast(spec["low"]), cast(spec["high"]), log=bool(spec.get("log")))
    return params, dists


def best_curves():
    from scratchmlp.report import plot_curves
    from scratchmlp.train.config import TrainConfig
    rows = [{k: (int(v) if k == "epoch" else float(v)) for k, v in row.items()}
            for row in csv.DictReader(open(DOCS / "best-metrics.csv"))]
    c = TrainConfig.load(ROOT / "src" / "scratchmlp" / "recipes" / "best.json")
    title = (f"recipe best: {'-'.join(map(str, [784, *c.hidden, 10]))} {c.activation}, "
             f"{c.optimizer} lr {c.lr:.3g} {c.schedule}, batch {c.batch_size}, dropout "
             f"{c.dropout:.2f}; test scored once, at epoch {rows[-1]['epoch']}")
    plot_curves(rows, IMG / "best-curves.png", title=title)
    print("best-curves.png from docs/best-metrics.csv")


if __name__ == "__main__":
    explorations()
    sweeps()
    best_curves()
