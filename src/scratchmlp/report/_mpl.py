"""Import matplotlib on first use, headless unless a notebook has chosen a backend."""

from __future__ import annotations

import os
import sys


def pyplot():
    import matplotlib
    if "ipykernel" not in sys.modules and not os.environ.get("MPLBACKEND"):
        matplotlib.use("Agg")  # files, no window: the CLI runs on servers
    import matplotlib.pyplot as plt
    return plt


def in_notebook() -> bool:
    return "ipykernel" in sys.modules
