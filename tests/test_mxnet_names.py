"""docs/mxnet-to-scratchmlp.md: every name in its table exists where the table says, and the
table covers every MXNet/d2l name the notebook's code uses."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "mxnet-to-scratchmlp.md"
NOTEBOOK = ROOT / "notebooks" / "mlp-scratch.ipynb"


def table_rows():
    """(chapter cell, scratchmlp cell, defined-in cell) for each row of the names table."""
    rows = []
    for line in DOC.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| `") and len(cells) == 3:
            rows.append(tuple(cells))
    return rows


def first_code(text: str) -> str:
    return re.search(r"`([^`]+)`", text).group(1)


def resolve(dotted: str):
    """Import the longest module prefix of `dotted`, then walk the attributes after it."""
    parts = dotted.removesuffix("()").split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for name in parts[cut:]:
            obj = getattr(obj, name)
        return obj
    raise ModuleNotFoundError(dotted)


def defining_module(obj) -> str:
    if hasattr(obj, "__objclass__"):  # a slot such as Array.grad
        return obj.__objclass__.__module__
    return obj.__name__ if type(obj).__name__ == "module" else obj.__module__


ROWS = table_rows()


def test_table_has_the_names_the_brief_asks_for():
    chapter = {first_code(row[0]) for row in ROWS}
    for name in ("npx.set_np()", "gluon.loss.SoftmaxCrossEntropyLoss()", "autograd.record()",
                 "param.attach_grad()", "l.backward()", "param.grad", "d2l.train_ch3",
                 "d2l.predict_ch3", "d2l.sgd", "d2l.Accumulator", "d2l.Animator",
                 "d2l.accuracy", "d2l.evaluate_accuracy", "d2l.get_fashion_mnist_labels",
                 "d2l.show_images", "d2l.load_data_fashion_mnist"):
        assert name in chapter


@pytest.mark.parametrize("chapter, ours, module", ROWS, ids=[first_code(r[0]) for r in ROWS])
def test_each_name_exists_where_the_table_says(chapter, ours, module):
    obj = resolve(first_code(ours))
    assert defining_module(obj) == first_code(module)


def test_table_covers_the_notebooks_mxnet_names():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = "\n".join(cell.source for cell in nb.cells if cell.cell_type == "code")
    code = "\n".join(line for line in code.splitlines() if not line.startswith("from "))
    used = set(re.findall(r"\b(?:d2l|np)\.\w+(?:\.\w+)*", code))
    used |= {"." + m for m in re.findall(r"\w\.(attach_grad|reshape)\(", code)}
    chapter_column = " ".join(row[0] for row in ROWS)
    missing = sorted(name for name in used if name not in chapter_column)
    assert used and missing == []
