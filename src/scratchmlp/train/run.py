"""A training run in memory, in the shape of d2l's Trainer: prepare, fit, fit_epoch.

The Trainer writes no files and prints nothing. It reports through plain values: `on_epoch`
hears each finished epoch's row, `on_batch` each step, and `save(trainer)` is called after
every epoch whose weights are finite, before `on_epoch`. A run folder (scratchmlp.runs) saves
through that hook; a sweep trial passes none and keeps everything in memory.

A run can start from where another stopped: `Start` is what resuming hands back (the model,
the next epoch, the finished rows, the optimiser's state). Everything else a resumed run needs
is a function of (config, epoch): the shuffle, the dropout masks and the learning rate.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..errors import ScratchMLPError
from ..nn import SoftmaxCrossEntropyLoss, optim
from ..nn.schedule import learning_rate
from .config import TrainConfig
from .loop import Diverged, evaluate_accuracy, train_epoch
from .modelfile import build_model

TEST_MODES = ("epoch", "end", "never")


class Interrupted(ScratchMLPError):
    """Training was stopped by a signal; `epochs_done` finished epochs are kept."""

    exit_code = 130  # the shell's convention for "ended by Ctrl-C"

    def __init__(self, message: str = None, epochs_done: int = 0):
        self.epochs_done = epochs_done
        super().__init__(message or f"interrupted: {epochs_done} finished epoch(s) kept")


@dataclass
class Start:
    """Where a run begins: a fresh one (no model yet, epoch 1) or a resumed one."""
    model: object = None
    epoch: int = 1  # the next epoch to train
    rows: list = field(default_factory=list)  # metrics of epochs 1 .. epoch-1
    optimizer_state: dict = field(default_factory=dict)


@dataclass
class RunResult:
    config: TrainConfig
    model: object
    rows: list
    test_iter: object
    valid_iter: object = None
    test_acc: float | None = None  # the last test score, when the test set was scored
    directory: object = None  # the run folder, when the run was saved in one


class Trainer:
    """Train `config` on `data` (a FashionMNIST).

    `config.validation` images are held out of the training set (data.split_validation) and
    scored after every epoch as `val_acc`. `test` says when the test set is scored: "epoch"
    after every epoch (the chapter's curves), "end" once after the last epoch (the value lands
    in the last row), "never" (tuning must not look at it). `loss_limit`: see train_epoch (a
    NaN/inf loss always stops the run with Diverged). `should_stop()` is asked after every
    step; when it says yes the epoch in progress is dropped and Interrupted is raised.
    """

    def __init__(self, config: TrainConfig, data, test: str = "epoch", loss_limit=None,
                 on_epoch=None, on_batch=None, should_stop=None, save=None):
        if test not in TEST_MODES:
            raise ValueError(f"test must be one of {TEST_MODES}, got {test!r}")
        self.config, self.data, self.test, self.loss_limit = config, data, test, loss_limit
        self.on_epoch, self.on_batch, self.should_stop, self.save = (
            on_epoch, on_batch, should_stop, save)
        self.loss = SoftmaxCrossEntropyLoss()

    def prepare(self, start: Start = None):
        """Model, optimiser, iterators and step count for a run beginning at `start`."""
        from ..data import DataIter, split_validation
        start = start or Start()
        config = self.config
        train_images, train_labels, valid_images, valid_labels = split_validation(
            self.data, config.validation, config.subset)
        self.model = start.model if start.model is not None else build_model(config)
        self.optimizer = optim.build(config.optimizer, self.model.params, config.lr,
                                     weight_decay=config.weight_decay, momentum=config.momentum)
        self.optimizer.load_state_dict(start.optimizer_state)
        self.train_iter = DataIter(train_images, train_labels, config.batch_size,
                                   shuffle=True, seed=config.seed, augment=config.augment)
        self.train_iter.epoch = start.epoch - 1  # the shuffle of epoch k depends on (seed, k)
        self.test_iter = DataIter(self.data.test_images, self.data.test_labels,
                                  config.batch_size)
        # scoring needs no small batches: big ones are faster (the chapter's test batches stay)
        self.valid_iter = (DataIter(valid_images, valid_labels, max(config.batch_size, 1024))
                           if valid_images is not None else None)
        self.first_epoch, self.rows = start.epoch, list(start.rows)
        # the schedule is a function of the update's number: resuming needs no state for it
        self.step = (start.epoch - 1) * len(self.train_iter)
        self.total_steps = config.epochs * len(self.train_iter)
        return self

    def fit(self) -> RunResult:
        """Every epoch from the start to config.epochs; then the test set once if asked."""
        for epoch in range(self.first_epoch, self.config.epochs + 1):
            self.fit_epoch(epoch)
        test_acc = self.rows[-1]["test_acc"] if self.test == "epoch" and self.rows else None
        if self.test == "end":
            test_acc = evaluate_accuracy(self.model, self.test_iter)  # the one look at test
            if self.rows:
                self.rows[-1]["test_acc"] = test_acc
                if self.save is not None:
                    self.save(self)
        return RunResult(self.config, self.model, self.rows, self.test_iter, self.valid_iter,
                         test_acc)

    def fit_epoch(self, epoch: int) -> dict:
        """One epoch: train, score, check the weights, save, report. Returns its row."""
        started = time.perf_counter()
        train_loss, train_acc = train_epoch(
            self.model, self.train_iter, self.loss, self._update, on_batch=self._step_done,
            epoch=epoch, loss_limit=self.loss_limit)
        row = {"epoch": epoch, "train_loss": train_loss, "train_acc": train_acc,
               "test_acc": (evaluate_accuracy(self.model, self.test_iter)
                            if self.test == "epoch" else float("nan"))}
        if self.valid_iter is not None:
            row["val_acc"] = evaluate_accuracy(self.model, self.valid_iter)
        seconds = time.perf_counter() - started
        row.update(seconds=seconds, examples_per_s=(len(self.train_iter.labels) / seconds
                                                    if seconds > 0 else float("nan")))
        if not all(np.isfinite(param.data).all() for param in self.model.params):
            # The loss was finite but the last update overflowed: never keep such weights.
            raise Diverged(epoch, len(self.train_iter), what="the weights")
        self.rows.append(row)
        if self.save is not None:
            self.save(self)
        if self.on_epoch is not None:
            self.on_epoch(row)
        return row

    def _update(self, batch_size: int):
        self.optimizer.lr = learning_rate(self.config.schedule, self.config.lr, self.step,
                                          self.total_steps)
        self.optimizer.step(batch_size)
        self.step += 1

    def _step_done(self, step: int, loss: float):
        if self.on_batch is not None:
            self.on_batch(step, loss)
        if self.should_stop is not None and self.should_stop():
            # The epoch in progress is dropped: resuming repeats it from its start, exactly.
            raise Interrupted(epochs_done=len(self.rows))


def fit(config: TrainConfig, data, start: Start = None, **options) -> RunResult:
    """Train `config` on `data` in memory (options: see Trainer); nothing is written."""
    return Trainer(config, data, **options).prepare(start).fit()
