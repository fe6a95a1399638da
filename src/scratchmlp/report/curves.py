"""Training curves: d2l's Animator (live in Jupyter) and a PNG of a run's metrics."""

from __future__ import annotations

from pathlib import Path

from ._mpl import in_notebook, pyplot

CURVES = (("train_loss", "train loss", "-"), ("train_acc", "train acc", "m--"),
          ("test_acc", "test acc", "g-."))


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


def plot_curves(rows, path, title: str = None):
    """The chapter's figure from metric rows: epoch on x; train loss, train acc, test acc."""
    epochs = [r["epoch"] for r in rows]
    animator = Animator(xlabel="epoch", legend=[label for _, label, _ in CURVES],
                        xlim=[1, max(epochs[-1] if epochs else 1, 2)], ylim=[0.0, 1.0],
                        fmts=[fmt for _, _, fmt in CURVES], figsize=(5, 3.5))
    animator.X = [epochs for _ in CURVES]
    animator.Y = [[r[key] for r in rows] for key, _, _ in CURVES]
    animator._draw()
    for ys, (_, _, fmt), line in zip(animator.Y, CURVES, animator.axes.get_lines()):
        scored = [(x, y) for x, y in zip(epochs, ys) if y == y]
        if len(scored) == 1:  # scored once (train --test-once): a lone point needs a marker
            animator.axes.plot(*scored[0], "o", color=line.get_color())
    top = max([1.0] + [v for ys in animator.Y for v in ys if v == v])
    animator.axes.set_ylim(0, top * 1.05)
    if title:
        animator.axes.set_title(title)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    _save_atomic(animator.fig, path)
    animator.close()
    return Path(path)


def _save_atomic(fig, path):
    from ..files import atomic_open
    fig.tight_layout()
    with atomic_open(path, "wb") as f:
        fig.savefig(f, format=Path(path).suffix.lstrip(".") or "png", dpi=120)
