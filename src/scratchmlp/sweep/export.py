"""What a sweep leaves behind: trials.csv, the printed table, best.json and two plots."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
from optuna.trial import TrialState

from ..errors import ScratchMLPError
from ..files import atomic_write_text, remove_temp_files, write_csv
from ..report.table import text_table
from ..train.config import TrainConfig

COLUMNS = ["number", "state", "value", "epochs_run", "seconds", "hidden", "activation", "init",
           "optimizer", "lr", "batch_size", "epochs", "weight_decay", "dropout", "schedule",
           "augment"]


def trial_rows(study) -> list:
    """One dict per trial (every state), in trial order."""
    rows = []
    for trial in study.get_trials(deepcopy=False):
        config = trial.user_attrs.get("config")
        config = config if isinstance(config, dict) else {}  # a study of another program
        row = {"number": trial.number, "state": trial.state.name.lower(),
               "value": trial.value if trial.state == TrialState.COMPLETE else None,
               "epochs_run": trial.user_attrs.get("epochs_run"),
               "seconds": trial.user_attrs.get("seconds")}
        for name in COLUMNS[5:]:
            value = config.get(name)
            if name in ("hidden", "augment") and isinstance(value, list):
                value = "x".join(map(str, value)) if name == "hidden" else \
                    ",".join(map(str, value)) or "none"
            row[name] = value
        if trial.user_attrs.get("diverged"):
            row["state"] = "diverged"
        rows.append(row)
    return rows


def _cell(value, name=""):
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4f}" if name in ("value", "dropout") else f"{value:.3g}"
    return str(value)


def write_table(rows: list, path):
    write_csv(path, COLUMNS, rows, float_format=None)


def format_table(rows: list) -> str:
    """A fixed-width text table of the trials (the best first, then by number)."""
    shown = ["number", "state", "value", "epochs_run", "hidden", "activation", "init",
             "optimizer", "lr", "batch_size", "epochs", "weight_decay", "dropout", "schedule",
             "augment"]
    ordered = sorted(rows, key=lambda r: (r["value"] is None, -(r["value"] or 0), r["number"]))
    cells = [[_cell(r[c], c) for c in shown] for r in ordered]
    return text_table(shown, cells)


class NoCompleteTrial(ScratchMLPError):
    pass


def best_config(study) -> TrainConfig:
    """The best trial's configuration as a recipe for the final model: all 60,000 training
    images (no validation hold-out, no subset), the rest exactly as the trial trained."""
    try:
        best = study.best_trial
    except ValueError:
        raise NoCompleteTrial("the study has no complete trial yet; run more trials") from None
    config = best.user_attrs.get("config")
    if not isinstance(config, dict):  # was a KeyError: a study of plain Optuna, same name
        raise ScratchMLPError(f"trial {best.number} holds no scratchmlp configuration (a "
                              "study of another program?)")
    return TrainConfig.from_dict(dict(config, validation=0, subset=None),
                                 f"trial {best.number}")


def importances(study) -> dict:
    """PED-ANOVA importance of each searched parameter ({} when too few trials completed):
    named, as Optuna's default changed between versions (fANOVA, which needs scikit-learn, up
    to 4.x; PED-ANOVA from 5.0), so the picture says which it shows."""
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if len(complete) < 2:
        return {}
    try:
        return optuna.importance.get_param_importances(
            study, evaluator=optuna.importance.PedAnovaImportanceEvaluator())
    except (RuntimeError, ValueError):
        return {}  # e.g. every complete trial has the same parameters


def export(study, out, best_path=None) -> dict:
    """Write trials.csv, best.json (and `best_path`), history.png, importances.png to `out`."""
    from ..report.sweep import plot_history, plot_importances

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for name in ("trials.csv", "best.json", "best-trial.json", "history.png",
                 "importances.png"):  # a sweep killed while it wrote them left these
        remove_temp_files(out / name)
    rows = trial_rows(study)
    write_table(rows, out / "trials.csv")
    written = {"trials": out / "trials.csv"}
    try:
        config = best_config(study)
    except NoCompleteTrial:
        config = None
    except ScratchMLPError as e:  # e.g. a trial of a newer scratchmlp: say why best.json is not
        config, written["no_best"] = None, str(e)
    if config is not None:
        best = study.best_trial
        atomic_write_text(out / "best.json", config.to_json())
        written["best"] = out / "best.json"
        summary = {"trial": best.number, "validation_accuracy": best.value,
                   "epochs_run": best.user_attrs.get("epochs_run"),
                   "seconds": best.user_attrs.get("seconds"), "config": config.to_dict()}
        atomic_write_text(out / "best-trial.json", json.dumps(summary, indent=2) + "\n")
        if best_path is not None:
            Path(best_path).parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(best_path, config.to_json())
            written["best_copy"] = Path(best_path)
    points = [(r["number"], r["value"], r["state"]) for r in rows]
    written["history"] = plot_history(points, out / "history.png",
                                      title=f"{out.name} (study {study.study_name!r}): validation accuracy "
                                            "of each trial")
    weights = importances(study)
    if weights:
        complete = sum(1 for r in rows if r["state"] == "complete")  # what PED-ANOVA fits
        written["importances"] = plot_importances(weights, out / "importances.png",
                                                  trials=complete)
    written["rows"] = rows
    return written
