"""Clear outputs and execution counts from notebooks, in place: they stay out of git.

Run: `.venv/bin/python tools/strip_notebook.py notebooks/*.ipynb`.
`--check` changes nothing and exits 1 when a notebook has outputs (for hooks and CI).
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat


def dirty_cells(nb) -> list:
    """Indexes of the code cells that carry outputs or an execution count."""
    return [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
            and (cell.get("outputs") or cell.get("execution_count") is not None)]


def strip(nb):
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nb


def main(argv) -> int:
    check = "--check" in argv
    paths = [Path(a) for a in argv if a != "--check"]
    if not paths:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    found = 0
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        cells = dirty_cells(nb)
        if not cells:
            continue
        found += 1
        if check:
            print(f"{path}: outputs in cells {cells}; run tools/strip_notebook.py {path}")
            continue
        nbformat.validate(strip(nb))
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")
        tmp.replace(path)
        print(f"{path}: cleared {len(cells)} cells")
    return 1 if check and found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
