"""The house rules of issue 13, checked on the source itself: no function in src/ over 60
lines (tools/function_lengths.py lists them), and no command-line flag named in a library
message outside cli/ (library errors carry facts; cli/ turns them into advice with flags)."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src" / "scratchmlp"
sys.path.insert(0, str(ROOT / "tools"))

from function_lengths import LIMIT, function_lengths  # noqa: E402

FLAG = re.compile(r"(?<![\w-])--[a-z][a-z-]*")


def test_no_function_in_src_is_over_60_lines():
    long = [f"{lines} lines: {where}" for lines, where in function_lengths([SRC])
            if lines > LIMIT]
    assert not long, "\n".join(long)


def test_the_length_lister_measures_from_def_to_the_last_line(tmp_path):
    (tmp_path / "m.py").write_text("@decorator\ndef f():\n    x = 1\n\n    return x\n\n\n"
                                   "class C:\n    def g(self):\n        pass\n")
    rows = function_lengths([tmp_path])
    assert [(lines, where.split()[-1]) for lines, where in rows] == [(4, "f"), (2, "g")]


def _strings_outside_docstrings(tree) -> list:
    """(line, text) of every string constant that is not a docstring."""
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                docstrings.add(id(body[0].value))
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and id(node) not in docstrings]


def library_flag_mentions() -> list:
    """file:line and text of each string outside cli/ (docstrings aside) naming a flag."""
    found = []
    for file in sorted(SRC.rglob("*.py")):
        if "cli" in file.relative_to(SRC).parts:
            continue
        tree = ast.parse(file.read_text(encoding="utf-8"))
        for line, text in _strings_outside_docstrings(tree):
            if FLAG.search(text):
                found.append(f"{file.relative_to(ROOT)}:{line}: {text.strip()[:70]}")
    return found


def test_no_library_message_names_a_command_line_flag():
    assert library_flag_mentions() == []


def test_the_flag_finder_sees_flags_in_messages_and_not_in_docstrings(tmp_path):
    tree = ast.parse('"""Run with --lr."""\nraise E(f"lower it (--lr {x})")\ny = "a-b --"\n')
    texts = [text for _, text in _strings_outside_docstrings(tree)]
    assert [t for t in texts if FLAG.search(t)] == ["lower it (--lr "]
