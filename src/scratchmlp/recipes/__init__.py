"""Recipes shipped with the package, found by name wherever scratchmlp is installed.

Training configurations (`scratchmlp train --config NAME`): `chapter`, the d2l chapter's
784-256-10 run, and `best`, the sweep's best recipe (docs/exercises.md says how it was found).
Search spaces (`scratchmlp sweep --space NAME`): `stage1`, `stage2`, `stage3`, the three
stages of that sweep. A path to a file of one's own is always accepted instead.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import ScratchMLPError

HERE = Path(__file__).resolve().parent
KINDS = {"config": HERE, "search space": HERE / "sweep"}


def names(kind: str = "config") -> list:
    """The recipes of a kind ("config" or "search space"), by name."""
    return sorted(p.stem for p in KINDS[kind].glob("*.json"))


def find(text, kind: str = "config") -> Path:
    """`text` as a path when such a file exists, else the shipped recipe of that name
    ("best", or "best.json"); neither is a one-line error listing the recipes."""
    path = Path(text)
    if path.exists() or path.name != str(text):  # a file, or something with a folder in it
        return path
    recipe = KINDS[kind] / (path.name if path.suffix == ".json" else f"{path.name}.json")
    if recipe.is_file():
        return recipe
    raise ScratchMLPError(f"{text}: no such {kind} file, nor a recipe of that name; the "
                          f"recipes are {', '.join(names(kind))}")
