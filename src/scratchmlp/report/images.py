"""Grids of images with titles: d2l's show_images and the chapter's labelled predictions."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._mpl import pyplot
from .curves import _save_atomic


def show_images(imgs, num_rows, num_cols, titles=None, scale=1.5):
    """Plot a list of images (d2l's helper); returns the axes."""
    plt = pyplot()
    fig, axes = plt.subplots(num_rows, num_cols,
                             figsize=(num_cols * scale, num_rows * scale), squeeze=False)
    axes = axes.flatten()
    for i, ax in enumerate(axes):
        ax.axis("off")
        if i < len(imgs):
            ax.imshow(np.asarray(imgs[i]).reshape(28, 28) if np.size(imgs[i]) == 784
                      else np.asarray(imgs[i]), cmap="gray")
            if titles:
                ax.set_title(titles[i], fontsize=8)
    return axes


def prediction_titles(truth, guesses, labels):
    return [f"{labels[t]}\n{labels[p]}" for t, p in zip(truth, guesses)]


def plot_predictions(images, truth, guesses, labels, path, cols: int = None):
    """A grid of images titled "true / predicted"; wrong predictions are drawn in red."""
    n = len(images)
    cols = cols or min(n, 6)
    rows = -(-n // cols)
    axes = show_images(images, rows, cols, prediction_titles(truth, guesses, labels), scale=1.8)
    for ax, t, p in zip(axes, truth, guesses):
        if t != p:
            ax.title.set_color("red")
    fig = axes[0].figure
    fig.suptitle("true label / predicted label", fontsize=9)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    _save_atomic(fig, path)
    pyplot().close(fig)
    return Path(path)
