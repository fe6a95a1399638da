"""Run d2l's MXNet sections (Markdown) on scratchmlp: every MXNet code cell, in order, in one
namespace, verbatim but for the import lines.

What the harness changes, and nothing else:
- import lines: `import d2l` and `from d2l import mxnet as d2l` become
  `from scratchmlp import d2l`; `mxnet` becomes `scratchmlp` in `from mxnet... import ...`;
- IPython magics (`%matplotlib inline`) are dropped: cells run as plain Python;
- a cell whose last statement is an expression has it evaluated and its repr() taken, as a
  notebook shows it.
Smaller runs come from the caller (tests/test_book.py): fewer epochs for `d2l.train_ch3` and a
subset of Fashion-MNIST, both set outside the cells.
"""

from __future__ import annotations

import ast
import contextlib
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

CELL = re.compile(r"```\{\.python \.input[^}]*\}\n(.*?)```", re.S)
IMPORT_D2L = re.compile(r"^(\s*)(import d2l|from d2l import mxnet as d2l)\s*$")
IMPORT_MXNET = re.compile(r"^(\s*from )mxnet((?:\.\w+)* import .*)$")


def mxnet_cells(markdown: str) -> list:
    """The code cells MXNet runs: untagged ones and those tagged `#@tab` with mxnet or all."""
    cells = []
    for body in CELL.findall(markdown):
        first = body.split("\n", 1)[0].strip()
        if first.startswith("#@tab") and not re.search(r"\b(mxnet|all)\b", first):
            continue
        cells.append(body)
    return cells


def swap_imports(code: str) -> str:
    lines = []
    for line in code.splitlines():
        if line.lstrip().startswith("%"):
            continue
        line = IMPORT_D2L.sub(r"\1from scratchmlp import d2l", line)
        lines.append(IMPORT_MXNET.sub(r"\1scratchmlp\2", line))
    return "\n".join(lines)


@dataclass
class CellRun:
    source: str
    code: str
    stdout: str = ""
    shown: str = None  # repr of the last expression, where the cell ends in one
    value: object = None
    error: str = None


@dataclass
class SectionRun:
    path: Path
    cells: list = field(default_factory=list)

    @property
    def errors(self):
        return [(i, c.error) for i, c in enumerate(self.cells) if c.error]

    @property
    def stdout(self) -> str:
        return "".join(c.stdout for c in self.cells)

    def values(self, kind) -> list:
        return [c.value for c in self.cells if isinstance(c.value, kind)]


def run_cell(code: str, namespace: dict, run: CellRun):
    tree = ast.parse(code)
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            exec(compile(tree, "<cell>", "exec"), namespace)
            if last is not None:
                run.value = eval(compile(ast.Expression(last.value), "<cell>", "eval"), namespace)
                run.shown = repr(run.value)
        except Exception as error:  # noqa: BLE001 - reported per cell
            run.error = f"{type(error).__name__}: {error}"
    run.stdout = out.getvalue()


def run_section(path: Path, namespace: dict = None, stop_at_error=True) -> SectionRun:
    """Every MXNet cell of `path` in order in one namespace (a fresh one unless given)."""
    namespace = {"__name__": "__main__"} if namespace is None else namespace
    section = SectionRun(Path(path))
    for source in mxnet_cells(Path(path).read_text(encoding="utf-8")):
        run = CellRun(source, swap_imports(source))
        section.cells.append(run)
        run_cell(run.code, namespace, run)
        if run.error and stop_at_error:
            break
    return section
