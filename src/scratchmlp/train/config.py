"""A training configuration: the chapter's defaults, checked field by field.

It is what `config.json` in a run folder holds and what `--config FILE` reads; unknown or
mistyped fields are refused with a message that names them.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field

from ..errors import ScratchMLPError
from ..files import read_json


@dataclass
class TrainConfig:
    hidden: list = field(default_factory=lambda: [256])  # widths of the hidden layers
    lr: float = 0.5
    epochs: int = 10
    batch_size: int = 256
    seed: int = 0
    activation: str = "relu"
    init: str = "normal"
    optimizer: str = "sgd"  # sgd (the chapter's), momentum or adam
    momentum: float = 0.9  # the momentum optimiser's coefficient
    weight_decay: float = 0.0  # L2 penalty on the weight matrices, applied in the update
    dropout: float = 0.0  # drop probability after each hidden layer, training only
    schedule: str = "constant"  # learning rate: constant or cosine (over all the run's steps)
    augment: list = field(default_factory=list)  # training-time "shift" and/or "flip"
    validation: int = 0  # training images held out to score each epoch (0: none)
    subset: int | None = None  # train on the first N of the remaining training images
    # Threads the run computed with: recorded in config.json, but no setting: the results are
    # the same bytes at any count (engine/parallel.py), so to_dict() and resume leave it out.
    threads: int | None = field(default=None, compare=False)

    def __post_init__(self):
        self.validate()

    def validate(self):
        _check_type("hidden", self.hidden, list)
        for width in self.hidden:
            if isinstance(width, bool) or not isinstance(width, int) or width <= 0:
                raise ScratchMLPError(f"hidden: layer widths must be positive integers, "
                                      f"got {self.hidden}")
        _check_number("lr", self.lr)
        if not self.lr > 0:
            raise ScratchMLPError(f"lr must be positive, got {self.lr}")
        _check_int("epochs", self.epochs)
        if self.epochs < 0:
            raise ScratchMLPError(f"epochs must be 0 or more, got {self.epochs}")
        _check_int("batch_size", self.batch_size)
        if self.batch_size <= 0:
            raise ScratchMLPError(f"batch_size must be positive, got {self.batch_size}")
        _check_int("seed", self.seed)
        if self.seed < 0:  # NumPy's generators take no negative seeds
            raise ScratchMLPError(f"seed must be 0 or more, got {self.seed}")
        from ..data import augment
        from ..nn import activations, dropout, init, optim, schedule
        activations.get(_check_type("activation", self.activation, str))
        init.get(_check_type("init", self.init, str))
        optim.get(_check_type("optimizer", self.optimizer, str))
        _check_number("momentum", self.momentum)
        if not 0 <= self.momentum < 1:
            raise ScratchMLPError(f"momentum must be in [0, 1), got {self.momentum}")
        _check_number("weight_decay", self.weight_decay)
        if self.weight_decay < 0:
            raise ScratchMLPError(f"weight_decay must be 0 or more, got {self.weight_decay}")
        _check_number("dropout", self.dropout)
        dropout.check_rate(self.dropout)
        schedule.check(_check_type("schedule", self.schedule, str))
        augment.check(_check_type("augment", self.augment, list))
        _check_int("validation", self.validation)
        if self.validation < 0:
            raise ScratchMLPError(f"validation must be 0 or more images, got {self.validation}")
        if self.threads is not None:
            _check_int("threads", self.threads)
            if self.threads <= 0:
                raise ScratchMLPError(f"threads must be a positive number, got {self.threads}")
        if self.subset is not None:
            _check_int("subset", self.subset)
            if self.subset <= 0:
                raise ScratchMLPError(f"subset must be a positive number of images, "
                                      f"got {self.subset}")

    def to_dict(self) -> dict:
        """The settings that decide the results (`threads` is not one of them)."""
        values = dataclasses.asdict(self)
        del values["threads"]
        return values

    def to_json(self) -> str:
        """The settings, then the thread count when it is known (what config.json holds)."""
        values = self.to_dict()
        if self.threads is not None:
            values["threads"] = self.threads
        return json.dumps(values, indent=2) + "\n"

    @classmethod
    def from_dict(cls, values: dict, source: str = "config") -> "TrainConfig":
        if not isinstance(values, dict):
            raise ScratchMLPError(f"{source}: expected a JSON object of settings")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ScratchMLPError(f"{source}: unknown field(s) {', '.join(unknown)}; "
                                  f"known fields: {', '.join(sorted(known))}")
        try:
            return cls(**values)
        except ScratchMLPError as e:
            raise ScratchMLPError(f"{source}: {e}") from None

    @classmethod
    def load(cls, path) -> "TrainConfig":
        return cls.from_dict(read_json(path, "config"), str(path))


_KIND_NAMES = {list: "list", str: "string"}


def _check_type(name, value, kind):
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise ScratchMLPError(f"{name} must be a {_KIND_NAMES.get(kind, kind.__name__)}, "
                              f"got {value!r}")
    return value


def _check_int(name, value):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ScratchMLPError(f"{name} must be an integer, got {value!r}")


def _check_number(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ScratchMLPError(f"{name} must be a finite number, got {value!r}")
