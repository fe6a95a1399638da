"""Learning-rate schedules: a function of the step, so a resumed run needs no extra state.

`constant` keeps the base rate. `cosine` anneals it over the run's total number of updates,
lr(s) = base * (1 + cos(pi * s / total)) / 2 for update s = 0 .. total - 1: the full rate at the
first update, falling smoothly to near zero at the last.
"""

from __future__ import annotations

import math

from ..errors import ScratchMLPError

SCHEDULES = ("constant", "cosine")


def check(name: str) -> str:
    if name not in SCHEDULES:
        raise ScratchMLPError(f"unknown learning-rate schedule {name!r}; "
                              f"choose one of {', '.join(SCHEDULES)}")
    return name


def learning_rate(name: str, base: float, step: int, total: int) -> float:
    """The rate for update number `step` (0-based) of `total`."""
    if name == "constant" or total <= 0:
        return base
    if name == "cosine":
        return base * 0.5 * (1 + math.cos(math.pi * min(step, total) / total))
    check(name)
