"""Training curves: d2l's Animator (live in Jupyter) and a PNG of a run's metrics."""

from __future__ import annotations

from pathlib import Path

from ._mpl import in_notebook, pyplot, save_figure

class Animator:
    """Plots data in animation, as d2l's: call `add(x, ys)`; redraws live in a notebook."""

    def __init__(self, xlabel=None, ylabel=None, legend=None, xlim=None, ylim=None,
                 xscale="linear", yscale="linear", fmts=("-", "m--", "g-.", "r:"),
                 figsize=(3.5, 2.5)):
        plt = pyplot()
        self.fig, self.axes = plt.subplots(figsize=figsize)
        self.config = dict(xlabel=xlabel, ylabel=ylabel, legend=legend or [], xlim=xlim,
                           ylim=ylim, xscale=xscale, yscale=yscale)
        self.fmts, self.X, self.Y = fmts, None, None
        self._handle = None

    def add(self, x, y):
        y = list(y) if hasattr(y, "__len__") else [y]
        x = list(x) if hasattr(x, "__len__") else [x] * len(y)
        if self.X is None:
            self.X, self.Y = [[] for _ in y], [[] for _ in y]
        for i, (a, b) in enumerate(zip(x, y)):
            if a is not None and b is not None:
                self.X[i].append(a)
                self.Y[i].append(b)
        self._draw()
        if in_notebook():
            from IPython import display
            if self._handle is None:
                self._handle = display.display(self.fig, display_id=True)
            else:
                self._handle.update(self.fig)

    def _draw(self):
        ax, c = self.axes, self.config
        ax.cla()
        for xs, ys, fmt in zip(self.X, self.Y, self.fmts):
            ax.plot(xs, ys, fmt)
        ax.set_xlabel(c["xlabel"]), ax.set_ylabel(c["ylabel"])
        ax.set_xscale(c["xscale"]), ax.set_yscale(c["yscale"])
        if c["xlim"]:
            ax.set_xlim(c["xlim"])
        if c["ylim"]:
            ax.set_ylim(c["ylim"])
        if c["legend"]:
            ax.legend(c["legend"])
        ax.grid(True)

    def save(self, path):
        self.fig.tight_layout()
        self.fig.savefig(path, dpi=120)

    def close(self):
        pyplot().close(self.fig)


# metric, legend label, colour, line style; loss and accuracies share one axis as in the chapter
CURVES = (("train_loss", "train loss", "tab:blue", "-"), ("train_acc", "train acc", "m", "--"),
          ("val_acc", "validation acc", "tab:cyan", ":"), ("test_acc", "test acc", "g", "-."))


def draw_curves(rows, title: str = None):
    """The chapter's figure from metric rows: epoch on x; train loss, train acc, validation
    acc (when the run held images out) and test acc. A metric scored at a single epoch (a
    one-epoch run, `train --test-once`) is a marker, in the legend too. Returns the figure."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5, 3.5))
    epochs = [r["epoch"] for r in rows]
    values = []
    for key, label, color, style in CURVES:
        scored = [(x, r[key]) for x, r in zip(epochs, rows) if is_number(r.get(key))]
        if not scored:
            continue
        xs, ys = zip(*scored)
        values += ys
        if len(scored) == 1:
            label += " (one score)" if len(epochs) > 1 else ""
            ax.plot(xs, ys, color=color, marker="o", ls="none", ms=7, label=label)
        else:
            ax.plot(xs, ys, color=color, ls=style, marker="o" if len(scored) <= 12 else None,
                    ms=4, label=label)
    epoch_axis(ax, epochs)
    ax.set_ylim(0, max([1.0] + values) * 1.05)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss (cross-entropy) / accuracy")
    ax.set_title(wrap_title(title or "training curves"), fontsize=9)
    ax.grid(True, alpha=0.5)
    if values:
        ax.legend(fontsize=8, loc="best")
    return fig


def plot_curves(rows, path, title: str = None):
    """draw_curves, saved to `path` (atomically)."""
    fig = draw_curves(rows, title)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    save_figure(fig, path)
    pyplot().close(fig)
    return Path(path)


def epoch_axis(ax, epochs):
    """Whole-number epoch ticks (none at 1.2 or 1.4) and room around the first and last
    epoch, so no point sits half outside the frame."""
    from matplotlib.ticker import MaxNLocator
    first, last = (min(epochs), max(epochs)) if epochs else (1, 1)
    pad = 0.5 if last - first < 10 else (last - first) * 0.03
    ax.set_xlim(first - pad, last + pad)
    if last - first < 10:
        ax.set_xticks(range(int(first), int(last) + 1))
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))


def wrap_title(text: str, width: int = 60) -> str:
    """A long title on two or three lines instead of clipped at the figure's edge."""
    import textwrap
    return "\n".join(textwrap.wrap(text, width, break_on_hyphens=False)) or text


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and value == value and abs(value) != float("inf")


