"""A training configuration: the chapter's defaults, checked field by field.

It is what `config.json` in a run folder holds and what `--config FILE` reads; unknown or
mistyped fields are refused with a message that names them.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field

from .. import ranges
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
        """Every field in its range (scratchmlp.ranges: the one statement of each range), every
        name known, and a network whose weights fit in this machine's memory."""
        _check_type("hidden", self.hidden, list)
        if len(self.hidden) > ranges.MAX_HIDDEN_LAYERS:
            raise ranges.SettingError("hidden", self.hidden, f"at most "
                                      f"{ranges.MAX_HIDDEN_LAYERS} hidden layers", fact=(
                                          f"hidden: {len(self.hidden):,} hidden layers, more "
                                          f"than the {ranges.MAX_HIDDEN_LAYERS} this trains"))
        for width in self.hidden:
            if not ranges.RANGES["width"].holds(width):
                raise ranges.SettingError("hidden", self.hidden, "a list of positive whole "
                                          "numbers (the layer widths)")
        for name in _NUMBERS:
            value = getattr(self, name)
            if value is not None or name not in _OPTIONAL:
                ranges.check(name, value)
        self._check_names()
        self._check_size()

    def _check_names(self):
        """Each name known; an unknown one is a SettingError of its field (the message as the
        table states it), so the command line can name the flag that set it."""
        from ..data import augment
        from ..nn import activations, init, optim, schedule
        for name, kind, check in (("activation", str, activations.get), ("init", str, init.get),
                                  ("optimizer", str, optim.get), ("schedule", str, schedule.check),
                                  ("augment", list, augment.check)):
            value = _check_type(name, getattr(self, name), kind)
            try:
                check(value)
            except ScratchMLPError as e:
                raise ranges.SettingError(name, value, "a known name", fact=str(e)) from None

    @property
    def sizes(self) -> list:
        """Layer sizes of the network: 784 pixels in, the hidden widths, 10 classes out."""
        return [784, *self.hidden, 10]

    def _check_size(self):
        """Refused before anything is allocated: a network whose float32 weights and their
        gradients (the least a training run holds) need more bytes than the machine has."""
        from ..nn.model import parameter_count
        count = parameter_count(self.sizes)
        need, have = 8 * count, _memory_bytes()
        if need > have:
            raise ranges.SettingError(
                "hidden", self.hidden, "widths whose network fits in memory",
                f"hidden {ranges.shown(self.hidden)}: a model of {_amount(count)} parameters "
                f"does not fit in memory (its float32 weights and gradients need "
                f"{_amount(need // 10 ** 9)} GB, this machine has {have // 10 ** 9:,} GB); "
                "choose smaller hidden layer widths")

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
            e.args = (f"{source}: {e}",)  # the same error (a SettingError keeps its fields)
            raise e from None

    @classmethod
    def load(cls, path) -> "TrainConfig":
        return cls.from_dict(read_json(path, "config"), str(path))


_KIND_NAMES = {list: "list", str: "string"}


def _check_type(name, value, kind):
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise ScratchMLPError(f"{name} must be a {_KIND_NAMES.get(kind, kind.__name__)}, "
                              f"got {value!r}")
    return value


_NUMBERS = ("lr", "epochs", "batch_size", "seed", "momentum", "weight_decay", "dropout",
            "validation", "subset", "threads")
_OPTIONAL = ("subset", "threads")  # None: not set


def _amount(number: int) -> str:
    """A whole number for a message: with thousands separators, or its size when huge."""
    return f"{number:,}" if ranges.digits(number) <= 30 else f"about 10^{ranges.digits(number) - 1}"


def _memory_bytes() -> int:
    """This machine's physical memory (no limit known: the 64-bit address space)."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return 1 << 64
