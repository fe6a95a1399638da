"""List the functions of src/ by length, longest first (issue 13: none over 60 lines).

Run: `python3 tools/function_lengths.py [--over N] [PATH ...]` (default: src/, N = 0).
A function's length counts its lines from `def` (decorators excluded) to its last line; a
nested function counts inside its parent and on its own row. Standard library only.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIMIT = 60


def function_lengths(paths) -> list:
    """(lines, "file:line name") for every function and method under `paths`."""
    rows = []
    for path in paths:
        files = sorted(Path(path).rglob("*.py")) if Path(path).is_dir() else [Path(path)]
        for file in files:
            tree = ast.parse(file.read_text(encoding="utf-8"), str(file))
            for node in ast.walk(tree):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    where = f"{_relative(file)}:{node.lineno} {node.name}"
                    rows.append((node.end_lineno - node.lineno + 1, where))
    return sorted(rows, key=lambda row: (-row[0], row[1]))


def _relative(file: Path) -> str:
    try:
        return str(file.resolve().relative_to(ROOT))
    except ValueError:
        return str(file)


def main(argv: list) -> int:
    over = 0
    if argv[:1] == ["--over"]:
        over, argv = int(argv[1]), argv[2:]
    for lines, where in function_lengths(argv or [ROOT / "src"]):
        if lines > over:
            print(f"{lines:4d}  {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
