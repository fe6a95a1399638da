"""Import matplotlib on first use, headless unless a notebook has chosen a backend."""

from __future__ import annotations

import os
import sys
from pathlib import Path

# Backends that only write files: in a kernel, figures drawn with them are never shown.
FILE_ONLY_BACKENDS = {"agg", "cairo", "pdf", "pgf", "ps", "svg", "template"}


def pyplot():
    matplotlib = _matplotlib()
    if not in_notebook():
        if not os.environ.get("MPLBACKEND"):
            matplotlib.use("Agg")  # files, no window: the CLI runs on servers
    elif matplotlib.get_backend().lower() in FILE_ONLY_BACKENDS:
        _show_inline()
    import matplotlib.pyplot as plt
    return plt


def _matplotlib():
    """matplotlib, even when $MPLBACKEND names no backend it knows (its import then raises
    ValueError): the variable is dropped for this process and the pictures go to files."""
    try:
        import matplotlib
    except ValueError:
        backend = os.environ.pop("MPLBACKEND", None)
        if backend is None:
            raise
        print(f"scratchmlp: note: MPLBACKEND={backend[:40]!r} is not a matplotlib backend; "
              "drawing to files", file=sys.stderr)
        for name in [m for m in sys.modules if m.split(".")[0] == "matplotlib"]:
            del sys.modules[name]  # the failed import left half-made modules behind
        import matplotlib
    return matplotlib


def _show_inline():
    """A headless shell's `MPLBACKEND=Agg` (CI) leaks into the kernels it starts, where the
    curves and image grids would then go nowhere; inline is what a notebook reader expects."""
    from IPython import get_ipython
    shell = get_ipython()
    if shell is not None:
        shell.run_line_magic("matplotlib", "inline")


def in_notebook() -> bool:
    return "ipykernel" in sys.modules


def save_figure(fig, path):
    """`fig` laid out and written to `path` atomically, in the format its suffix names.

    Every text is drawn as written: the pictures' titles, legends and labels hold file and
    folder names, and matplotlib read `$...$` in them as mathematics (a run named
    `m$\\frac{$x` was a ParseSyntaxException traceback in evaluate, predict and compare)."""
    from matplotlib.text import Text

    from ..files import atomic_open
    for text in fig.findobj(Text):
        text.set_parse_math(False)
    fig.tight_layout()
    with atomic_open(path, "wb") as f:
        fig.savefig(f, format=Path(path).suffix.lstrip(".") or "png", dpi=120)
