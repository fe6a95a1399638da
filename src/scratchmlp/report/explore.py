"""The exercises' pictures: accuracy and final training loss against one setting."""

from __future__ import annotations

import math
from pathlib import Path

from ._mpl import pyplot, save_figure


def draw_exploration(results: list, xlabel: str, xscale: str = "linear", title: str = None,
                     xticks=None):
    """Two panels over x: validation, test and train accuracy; final training loss. A point
    that diverged has no value: it is a red dotted line across the whole panel, labelled, so
    it cannot be read as a score. Returns the figure."""
    plt = pyplot()
    fig, (acc_ax, loss_ax) = plt.subplots(1, 2, figsize=(8.5, 4.2))
    ok = [r for r in results if r["status"] == "ok"]
    xs = [r["x"] for r in ok]
    acc_ax.plot(xs, [r["val_acc"] for r in ok], "o-", color="tab:blue", label="validation acc")
    acc_ax.plot(xs, [r["test_acc"] for r in ok], "s--", color="tab:green", label="test acc",
                ms=4)
    acc_ax.plot(xs, [r["train_acc"] for r in ok], "^:", color="tab:purple", label="train acc",
                ms=4)
    loss_ax.plot(xs, [r["train_loss"] for r in ok], "o-", color="tab:orange",
                 label="final training loss")
    diverged = [r["x"] for r in results if r["status"] == "diverged"]
    for ax in (acc_ax, loss_ax):
        _mark_diverged(ax, diverged)
        _x_axis(ax, xlabel, xscale, xticks)
        ax.grid(True, alpha=0.4)
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2,
                  frameon=False)  # under the panel: never over a point or a mark
    acc_ax.set_ylabel("accuracy")
    acc_ax.set_title("accuracy after the last epoch", fontsize=9)
    loss_ax.set_title("training loss of the last epoch", fontsize=9)
    loss_ax.ticklabel_format(axis="y", useOffset=False, style="plain")
    loss_ax.set_ylabel("training loss (cross-entropy)")
    _loss_scale(loss_ax, [r["train_loss"] for r in ok if r["train_loss"] == r["train_loss"]])
    if title:
        fig.suptitle(title, fontsize=9)
    return fig


def plot_exploration(results: list, path, xlabel: str, xscale: str = "linear",
                     title: str = None, xticks=None):
    """draw_exploration, saved to `path` (atomically)."""
    fig = draw_exploration(results, xlabel, xscale, title, xticks)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    save_figure(fig, path)
    pyplot().close(fig)
    return Path(path)


DIVERGED_LABEL = "diverged: no value (loss NaN/inf or over the limit)"


def _mark_diverged(ax, xs: list):
    """A vertical line over the panel's full height (axes coordinates in y): not a value."""
    for k, x in enumerate(xs):
        ax.axvline(x, color="red", ls=":", lw=1.5, label=DIVERGED_LABEL if k == 0 else None)
        ax.text(x, 0.5, " diverged ", transform=ax.get_xaxis_transform(), rotation=90,
                ha="center", va="center", fontsize=7, color="red",
                bbox=dict(facecolor="white", edgecolor="none", pad=1))


def _x_axis(ax, xlabel: str, xscale: str, xticks):
    if xscale == "log2":
        ax.set_xscale("log", base=2)
    elif xscale == "log":
        ax.set_xscale("log")
    if xticks is not None:
        ax.set_xticks(xticks)
        ax.set_xticklabels([_tick(t) for t in xticks])
    ax.set_xlabel(xlabel)


def _loss_scale(ax, losses: list):
    if losses and max(losses) / max(min(losses), 1e-9) > 20:
        ax.set_yscale("log")
    else:
        limits = loss_axis_limits(losses)
        if limits is not None:
            ax.set_ylim(*limits)


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
