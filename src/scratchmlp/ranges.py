"""The allowed range of every numeric training setting, stated once.

`TrainConfig` checks each of its fields here; the optimisers (`nn/optim.py`), dropout and a
sweep's search space check their numbers here too, so a notebook call, a config file, a flag and
a search space all meet the same rule and the same message. The message states the fact
(`lr must be a positive number, got -1.0`); the CLI may add which flag to change.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

from .errors import ScratchMLPError


@dataclass(frozen=True)
class Range:
    kind: type  # int (whole numbers) or float (any finite number)
    low: float
    words: str  # the range in words, for the message
    above: bool = False  # low itself excluded
    below: float | None = None  # an upper bound, itself excluded

    def holds(self, value) -> bool:
        kind = numbers.Real if self.kind is float else numbers.Integral  # NumPy's too
        if isinstance(value, bool) or not isinstance(value, kind):
            return False
        if not isinstance(value, numbers.Integral) and not math.isfinite(value):
            return False
        if value < self.low or self.above and value == self.low:
            return False
        return self.below is None or value < self.below


_WHOLE_0 = Range(int, 0, "a whole number 0 or more")
_WHOLE_1 = Range(int, 1, "a positive whole number")

RANGES = {
    "lr": Range(float, 0, "a positive number", above=True),
    # metrics.csv holds a row per epoch and is read back (at most 16 MiB) to resume a run
    "epochs": Range(int, 0, "a whole number from 0 to 100000", below=100_001),
    "batch_size": _WHOLE_1,
    "seed": _WHOLE_0,  # NumPy's generators take no negative seeds
    "momentum": Range(float, 0, "a number in [0, 1)", below=1),
    "weight_decay": Range(float, 0, "a number 0 or more"),
    "dropout": Range(float, 0, "a probability in [0, 1)", below=1),
    "validation": _WHOLE_0,
    "subset": _WHOLE_1,
    "threads": Range(int, 1, "a whole number from 1 to 256", below=257),  # threads, not a typo'd 10**20
    "width": _WHOLE_1,  # of each hidden layer
}


MAX_HIDDEN_LAYERS = 1000  # the engine trains 3000 in minutes; 300,000 never finishes


class SettingError(ScratchMLPError):
    """A setting outside its range, as facts: `name`, `value`, `expected` (what it must be, in
    words) and `fact` (the message without the source a caller may put in front of it; a
    caller may state a fact of its own, `detailed`, instead of "must be ...")."""

    def __init__(self, name: str, value, expected: str, fact: str = None):
        self.name, self.value, self.expected = name, value, expected
        self.detailed = fact is not None
        self.fact = fact or f"{name} must be {expected}, got {shown(value)}"
        super().__init__(self.fact)


def check(name: str, value):
    """`value` when it lies in the range of setting `name`, else a SettingError."""
    limits = RANGES[name]
    if not limits.holds(value):
        raise SettingError(name, value, limits.words)
    return value


def digits(number: int) -> int:
    """How many decimal digits a whole number has, without printing it (Python refuses to
    print one of more than 4,300 digits, and printing thousands of digits is slow)."""
    number = abs(number)
    guess = max(1, int(number.bit_length() * math.log10(2)))
    return guess + (number >= 10 ** guess)


def shown(value) -> str:
    """`value` for a one-line message: its repr, but a whole number of more than 30 digits by
    its size, and a long list or text cut short."""
    if isinstance(value, int) and not isinstance(value, bool) and digits(value) > 30:
        return f"a number of {digits(value):,} digits"
    if isinstance(value, list) and len(value) <= 6:
        return "[" + ", ".join(shown(v) for v in value) + "]"
    if isinstance(value, list):
        return f"[{shown(value[0])}, {shown(value[1])}, ... {len(value):,} values]"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
