"""The exercises' pictures: accuracy and final training loss against one setting."""

from __future__ import annotations

import math
from pathlib import Path

from ._mpl import pyplot
from .curves import _save_atomic


def plot_exploration(results: list, path, xlabel: str, xscale: str = "linear",
                     title: str = None, xticks=None):
    """Two panels over x: validation and test accuracy; final training loss. Points that
    diverged are marked with a red cross on the axis and labelled, not dropped."""
    plt = pyplot()
    fig, (acc_ax, loss_ax) = plt.subplots(1, 2, figsize=(8.5, 3.4))
    ok = [r for r in results if r["status"] == "ok"]
    diverged = [r for r in results if r["status"] == "diverged"]
    xs = [r["x"] for r in ok]
    acc_ax.plot(xs, [r["val_acc"] for r in ok], "o-", color="tab:blue", label="validation acc")
    acc_ax.plot(xs, [r["test_acc"] for r in ok], "s--", color="tab:green", label="test acc",
                ms=4)
    acc_ax.plot(xs, [r["train_acc"] for r in ok], "^:", color="tab:purple", label="train acc",
                ms=4)
    loss_ax.plot(xs, [r["train_loss"] for r in ok], "o-", color="tab:orange",
                 label="final training loss")
    accs = [v for r in ok for v in (r["val_acc"], r["test_acc"], r["train_acc"]) if v == v]
    losses = [r["train_loss"] for r in ok if r["train_loss"] == r["train_loss"]]
    low_acc = min(accs, default=0.0) - 0.02
    low_loss = min(losses, default=0.0)
    for ax, y in ((acc_ax, low_acc), (loss_ax, low_loss)):
        if diverged:
            ax.plot([r["x"] for r in diverged], [y] * len(diverged), "x", color="red", ms=9,
                    mew=2, ls="none", label="diverged (loss NaN/inf or over the limit)")
            for r in diverged:
                ax.annotate("diverged", (r["x"], y), textcoords="offset points", xytext=(0, 8),
                            ha="center", va="bottom", rotation=90, fontsize=7, color="red")
        if xscale == "log2":
            ax.set_xscale("log", base=2)
        elif xscale == "log":
            ax.set_xscale("log")
        if xticks is not None:
            ax.set_xticks(xticks)
            ax.set_xticklabels([_tick(t) for t in xticks])
        ax.set_xlabel(xlabel)
        ax.grid(True, alpha=0.4)
        ax.legend(fontsize=7, loc="best")
    acc_ax.set_ylabel("accuracy")
    loss_ax.ticklabel_format(axis="y", useOffset=False, style="plain")
    loss_ax.set_ylabel("training loss (last epoch)")
    if losses and max(losses) / max(min(losses), 1e-9) > 20:
        loss_ax.set_yscale("log")
    else:
        limits = loss_axis_limits(losses)  # the diverged marks sit at min(losses)
        if limits is not None:
            loss_ax.set_ylim(*limits)
    if title:
        fig.suptitle(title, fontsize=9)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    _save_atomic(fig, path)
    plt.close(fig)
    return Path(path)


def loss_axis_limits(losses: list, least: float = 0.1):
    """Limits that span at least `least` of the losses' mean, centred on them, or None when
    they already do. Left to itself matplotlib stretches any spread over the full height, so
    losses of 0.31194 and 0.31175 would look like a steep fall."""
    if not losses:
        return None
    low, high = min(losses), max(losses)
    span = least * (low + high) / 2
    if high - low >= span:
        return None
    middle = (low + high) / 2
    return middle - span / 2 * 1.1, middle + span / 2 * 1.1


def _tick(value) -> str:
    if isinstance(value, float) and not value.is_integer():
        return f"{value:g}"
    return f"{int(value)}" if abs(value) < 1e5 else f"2^{int(math.log2(value))}"
