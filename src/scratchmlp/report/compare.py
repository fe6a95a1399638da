"""Several runs on one picture: training loss and accuracies per epoch, one colour per run."""

from __future__ import annotations

from pathlib import Path

from ._mpl import pyplot, save_figure
from .curves import epoch_axis, is_number


def draw_comparison(series: list):
    """`series` = [(name, metric rows)]. Left: training loss; right: test accuracy (solid)
    and validation accuracy (dotted) when scored. Returns the figure."""
    plt = pyplot()
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(10, 4.2))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    epochs = [r["epoch"] for _, rows in series for r in rows if is_number(r.get("epoch"))]
    for k, (name, rows) in enumerate(series):
        color = colors[k % len(colors)]
        _line(loss_ax, rows, "train_loss", name, color, "-")
        _line(acc_ax, rows, "test_acc", f"{name} test", color, "-")
        _line(acc_ax, rows, "val_acc", f"{name} validation", color, ":")
    loss_ax.set_ylabel("training loss (cross-entropy)")
    acc_ax.set_ylabel("accuracy")
    for ax, what in ((loss_ax, "training loss"), (acc_ax, "test (solid) and validation "
                                                          "(dotted) accuracy")):
        ax.set_xlabel("epoch")
        ax.set_title(what, fontsize=9)
        epoch_axis(ax, epochs)
        ax.grid(True, alpha=0.4)
        if ax.get_lines():
            ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2,
                      frameon=False)
    fig.suptitle(f"{len(series)} runs compared", fontsize=10)
    return fig


def _line(ax, rows, key, label, color, style):
    points = [(r["epoch"], r[key]) for r in rows
              if is_number(r.get(key)) and is_number(r.get("epoch"))]
    if points:
        xs, ys = zip(*points)
        lone = len(points) == 1  # one score (a test set scored once): a marker, not a line
        ax.plot(xs, ys, color=color, ls="none" if lone else style,
                marker="o" if lone or len(points) <= 12 else None, ms=6 if lone else 3,
                label=label)


def plot_comparison(series: list, path):
    """draw_comparison, saved to `path` (atomically)."""
    fig = draw_comparison(series)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    save_figure(fig, path)
    pyplot().close(fig)
    return Path(path)
