"""A run: train a configuration into a folder, one checkpoint per epoch, resumable.

The folder holds config.json, metrics.csv, model.npz and checkpoint.npz, each written
atomically after every epoch, so a crash loses at most the epoch in progress. checkpoint.npz
is written last: it is the commit point, and resume trusts metrics.csv only up to its epoch.
Plots are added by the caller (the report room), never from here.
"""

from __future__ import annotations

import csv
import io
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ScratchMLPError
from ..files import atomic_write_text
from ..nn import SoftmaxCrossEntropyLoss, optim
from .config import TrainConfig
from .loop import Diverged, evaluate_accuracy, train
from .modelfile import build_model, load_checkpoint, save_checkpoint, save_model

METRIC_FIELDS = ["epoch", "train_loss", "train_acc", "test_acc", "seconds", "examples_per_s"]
RUN_FILES = ["config.json", "metrics.csv", "model.npz", "checkpoint.npz",
             "curves.png", "predictions.png"]


class Interrupted(ScratchMLPError):
    """Training was stopped by a signal; finished epochs are saved."""

    exit_code = 130  # the shell's convention for "ended by Ctrl-C"


@dataclass
class RunResult:
    directory: Path
    config: TrainConfig
    model: object
    rows: list
    test_iter: object
    valid_iter: object = None
    test_acc: float | None = None  # the last test score, when the test set was scored


def read_metrics(path) -> list:
    path = Path(path)
    if not path.is_file():
        return []
    try:
        with open(path, newline="", encoding="utf-8") as f:
            return [{k: (int(v) if k == "epoch" else float(v)) for k, v in row.items()}
                    for row in csv.DictReader(f)]
    except (OSError, UnicodeDecodeError, csv.Error, ValueError, TypeError) as e:
        raise ScratchMLPError(f"{path}: not a readable metrics file ({e}); restore it or "
                              "start the run again with --force") from None


def write_metrics(path, rows: list):
    buffer = io.StringIO()
    fields = METRIC_FIELDS + (["val_acc"] if any("val_acc" in row for row in rows) else [])
    writer = csv.DictWriter(buffer, fieldnames=fields, extrasaction="ignore",
                            lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (f"{v:.6f}" if isinstance(v, float) else v) for k, v in row.items()})
    atomic_write_text(path, buffer.getvalue())


def check_folder(out: Path, resume: bool, force: bool):
    """Refuse a folder that cannot be used as asked, touching nothing (call it before slow work)."""
    out = Path(out)
    if resume and force:
        raise ScratchMLPError("--resume and --force contradict each other: choose one")
    if resume:
        if not out.is_dir():
            raise ScratchMLPError(f"{out}: no such run folder to resume; check the path")
        if not (out / "config.json").is_file():
            raise ScratchMLPError(f"{out}: no run to resume here (no config.json); "
                                  "start a new run with --out instead")
        return
    if out.exists() and not out.is_dir():
        raise ScratchMLPError(f"{out}: exists and is not a folder; choose another --out")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise ScratchMLPError(f"{out}: already holds files; use --resume {out} to continue that "
                              "run, --force to overwrite it, or another --out")


def prepare_folder(out: Path, resume: bool, force: bool):
    """Make `out` ready: new, resumed, or (with force) cleared of an earlier run's files."""
    check_folder(out, resume, force)
    try:
        if out.is_dir():
            for name in RUN_FILES:
                for stale in out.glob(f".{name}.*.tmp"):  # left by a crash mid-write
                    stale.unlink()
                path = out / name
                if force and not resume:
                    if path.is_dir():
                        shutil.rmtree(path)
                    elif path.exists():
                        path.unlink()
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ScratchMLPError(f"{out}: cannot prepare the run folder ({e.strerror}); "
                              "choose another --out") from None


TEST_MODES = ("epoch", "end", "never")


def fit(config: TrainConfig, out, data, resume: bool = False, force: bool = False,
        on_epoch=None, on_batch=None, should_stop=None, test: str = "epoch",
        loss_limit: float = None) -> RunResult:
    """Train `config` on `data` (a FashionMNIST) into the folder `out`.

    `config.validation` images are held out of the training set (see data.split_validation)
    and scored after every epoch as `val_acc`. `test` says when the test set is scored:
    "epoch" after every epoch (the chapter's curves), "end" once after the last epoch (the
    value lands in the last row), "never" (tuning must not look at it). With `out=None`
    nothing is written: the run lives in memory only (sweep trials). `loss_limit`: see
    train_epoch (a NaN/inf loss always stops the run with Diverged).
    """
    from ..data import DataIter, split_validation
    from ..nn.schedule import learning_rate

    if test not in TEST_MODES:
        raise ValueError(f"test must be one of {TEST_MODES}, got {test!r}")
    if out is not None:
        out = Path(out)
        check_folder(out, resume, force)
    resuming = out is not None and resume and (out / "checkpoint.npz").is_file()
    model = None if resuming else build_model(config)  # too big for memory: refused untouched
    if out is not None:
        prepare_folder(out, resume, force)
    start_epoch, rows, state = 1, [], {}
    if resuming:
        saved = TrainConfig.load(out / "config.json")
        then, now = saved.to_dict(), config.to_dict()
        changed = [f"{k} {then[k]} there, {now.get(k)} here" for k in then
                   if k != "epochs" and then[k] != now.get(k)]
        if changed:
            raise ScratchMLPError(f"{out}: the run was made with other settings "
                                  f"({'; '.join(changed)}); resume it without changing them "
                                  "(only --epochs may change)")
        model, _, done, state = load_checkpoint(out / "checkpoint.npz")
        start_epoch = done + 1
        rows = [row for row in read_metrics(out / "metrics.csv") if row["epoch"] <= done]
        if [row["epoch"] for row in rows] != list(range(1, done + 1)):
            raise ScratchMLPError(f"{out}/metrics.csv does not hold epochs 1-{done} of "
                                  f"checkpoint.npz; restore it or start again with --force")
    if out is not None:
        atomic_write_text(out / "config.json", config.to_json())

    optimizer = optim.build(config.optimizer, model.params, config.lr,
                            weight_decay=config.weight_decay, momentum=config.momentum)
    optimizer.load_state_dict(state)
    train_images, train_labels, valid_images, valid_labels = split_validation(
        data, config.validation, config.subset)
    train_iter = DataIter(train_images, train_labels, config.batch_size,
                          shuffle=True, seed=config.seed, augment=config.augment)
    train_iter.epoch = start_epoch - 1  # the shuffle of epoch k depends on (seed, k) only
    test_iter = DataIter(data.test_images, data.test_labels, config.batch_size)
    # scoring needs no small batches: big ones are faster (the chapter's test batches stay)
    valid_iter = (DataIter(valid_images, valid_labels, max(config.batch_size, 1024))
                  if valid_images is not None else None)

    # the schedule is a function of the update's number, so resuming needs no state for it
    steps_per_epoch, total_steps = len(train_iter), config.epochs * len(train_iter)
    step = [(start_epoch - 1) * steps_per_epoch]

    def update(batch_size):
        optimizer.lr = learning_rate(config.schedule, config.lr, step[0], total_steps)
        optimizer.step(batch_size)
        step[0] += 1

    def saved() -> str:
        last = rows[-1]["epoch"] if rows else 0
        return f"{last} finished epoch(s) saved in {out}" if out else f"{last} finished epoch(s)"

    def step_done(step, loss):
        if on_batch is not None:
            on_batch(step, loss)
        if should_stop is not None and should_stop():
            # The epoch in progress is dropped: resume repeats it from its start, exactly.
            where = f"; continue with: scratchmlp train --resume {out}" if out else ""
            raise Interrupted(f"interrupted: {saved()}{where}")

    def epoch_done(row):
        if not all(np.isfinite(param.data).all() for param in model.params):
            # The loss was finite but the last update overflowed: never save such weights.
            raise Diverged(row["epoch"], len(train_iter), what="the weights")
        rows.append(row)
        if out is not None:
            # metrics.csv and model.npz first, checkpoint.npz last: a crash in between leaves
            # a checkpoint of the previous epoch, and resume redoes this one.
            write_metrics(out / "metrics.csv", rows)
            save_model(out / "model.npz", model, config)
            save_checkpoint(out / "checkpoint.npz", model, config, row["epoch"],
                            optimizer.state_dict())
        if on_epoch is not None:
            on_epoch(row)

    if start_epoch == 1 and out is not None:
        save_model(out / "model.npz", model, config)
        write_metrics(out / "metrics.csv", rows)
    try:
        train(model, train_iter, test_iter if test == "epoch" else None,
              SoftmaxCrossEntropyLoss(), config.epochs, update, on_epoch=epoch_done,
              on_batch=step_done, start_epoch=start_epoch, valid_iter=valid_iter,
              loss_limit=loss_limit)
    except Diverged as e:
        again = " and start again with --force" if out else ""
        raise Diverged(e.epoch, e.step, f"lower the learning rate (now --lr {config.lr:g})"
                       f"{again}; {saved()}", e.what, loss=e.loss, limit=e.limit) from None
    test_acc = None
    if test == "epoch" and rows:
        test_acc = rows[-1]["test_acc"]
    elif test == "end":
        test_acc = evaluate_accuracy(model, test_iter)  # the one look at the test set
        if rows:
            rows[-1]["test_acc"] = test_acc
            if out is not None:
                write_metrics(out / "metrics.csv", rows)
    return RunResult(out, config, model, rows, test_iter, valid_iter, test_acc)


def evaluate_run(run, data) -> float:
    """Test accuracy of the model saved in a run folder (or a model file)."""
    from ..data import DataIter
    from .modelfile import load_model

    run = Path(run)
    path = run / "model.npz" if run.is_dir() else run
    model, config = load_model(path)
    return evaluate_accuracy(model, DataIter(data.test_images, data.test_labels, 1024))
