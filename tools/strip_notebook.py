"""Clear outputs and execution counts from notebooks, in place: they stay out of git.

Run: `.venv/bin/python tools/strip_notebook.py notebooks/*.ipynb`.
`--check` changes nothing and exits 1 when a notebook has outputs (for hooks and CI).
Standard library only (a notebook is JSON), so it runs in any Python 3, no Jupyter needed.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path


def dirty_cells(nb: dict) -> list:
    """Indexes of the code cells that carry outputs or an execution count."""
    return [i for i, cell in enumerate(nb.get("cells", [])) if cell.get("cell_type") == "code"
            and (cell.get("outputs") or cell.get("execution_count") is not None)]


def strip(nb: dict) -> dict:
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code":
            cell["outputs"], cell["execution_count"] = [], None
    return nb


def read(path: Path) -> dict:
    """The notebook in `path`, or SystemExit with one line saying why it is not one."""
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as e:
        raise SystemExit(f"strip_notebook: {path}: not a readable notebook ({e})") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list) \
            or nb.get("nbformat") != 4:
        raise SystemExit(f"strip_notebook: {path}: not a notebook of format 4")
    return nb


def write(path: Path, nb: dict):
    """Jupyter's own layout (one-space indent, sorted keys), through a temp file and a rename."""
    text = json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def main(argv) -> int:
    check = "--check" in argv
    paths = [Path(a) for a in argv if a != "--check"]
    if not paths:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    found = 0
    for path in paths:
        nb = read(path)
        cells = dirty_cells(nb)
        if not cells:
            continue
        found += 1
        if check:
            print(f"{path}: outputs in cells {cells}; run tools/strip_notebook.py {path}")
            continue
        write(path, strip(nb))
        print(f"{path}: cleared {len(cells)} cells")
    return 1 if check and found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
