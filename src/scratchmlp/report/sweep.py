"""Sweep pictures: the optimisation history and the parameters' importances (matplotlib)."""

from __future__ import annotations

from pathlib import Path

from ._mpl import pyplot
from .curves import _save_atomic


def plot_history(points, path, title: str = None):
    """`points` = (trial number, value or None, state): complete trials as dots, the best so far
    as a line, pruned/failed trials as small marks at the bottom."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.6))
    done = [(n, v) for n, v, _ in points if v is not None]
    others = [(n, s) for n, v, s in points if v is None]
    if done:
        numbers, values = zip(*done)
        ax.plot(numbers, values, "o", color="tab:blue", ms=4, label="complete trial")
        best, line = float("-inf"), []
        for n, v in sorted(done):
            best = max(best, v)
            line.append((n, best))
        ax.step(*zip(*line), where="post", color="tab:red", label="best so far")
        low = min(values)
    else:
        low = 0.0
    if others:
        marks = {"pruned": ("v", "tab:gray"), "diverged": ("x", "black"), "fail": ("x", "tab:orange"),
                 "running": ("|", "tab:green"), "waiting": ("|", "tab:green")}
        for state in sorted({s for _, s in others}):
            xs = [n for n, s in others if s == state]
            marker, color = marks.get(state, (".", "gray"))
            ax.plot(xs, [low - 0.01] * len(xs), marker, color=color, ms=5, ls="none",
                    label=f"{state} trial")
    ax.set_xlabel("trial")
    ax.set_ylabel("validation accuracy")
    ax.grid(True, alpha=0.4)
    ax.legend(fontsize=7, loc="best")
    from matplotlib.ticker import MaxNLocator
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if title:
        ax.set_title(title, fontsize=9)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    _save_atomic(fig, path)
    plt.close(fig)
    return Path(path)


def plot_importances(weights: dict, path, title: str = "parameter importance (fANOVA)"):
    plt = pyplot()
    names = list(weights)[::-1]  # most important on top
    fig, ax = plt.subplots(figsize=(5, 0.35 * len(names) + 1.2))
    ax.barh(names, [weights[n] for n in names], color="tab:blue")
    for y, name in enumerate(names):
        ax.text(weights[name], y, f" {weights[name]:.2f}", va="center", fontsize=7)
    ax.set_xlabel("share of the validation accuracy's variance")
    ax.set_xlim(0, max(weights.values()) * 1.2 if weights else 1)
    ax.set_title(title, fontsize=9)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    _save_atomic(fig, path)
    plt.close(fig)
    return Path(path)
