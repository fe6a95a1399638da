"""Grids of images with titles: d2l's show_images and the chapter's labelled predictions."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._mpl import pyplot, save_figure


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
    save_figure(fig, path)
    pyplot().close(fig)
    return Path(path)


def plot_seen(originals, seen, names, titles, path, cols: int = 6):
    """Each picture as given (top) above the 28x28 image the model saw, titled with its guess."""
    plt = pyplot()
    n = len(seen)
    cols = min(n, cols)
    rows = -(-n // cols)
    fig, axes = plt.subplots(2 * rows, cols, figsize=(cols * 1.9, rows * 4.0), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i, (original, image, name, title) in enumerate(zip(originals, seen, names, titles)):
        top, bottom = axes[2 * (i // cols), i % cols], axes[2 * (i // cols) + 1, i % cols]
        top.imshow(original, cmap="gray" if np.ndim(original) == 2 else None)
        top.set_title(_shorten(name), fontsize=7)
        bottom.imshow(np.asarray(image).reshape(28, 28), cmap="gray", vmin=0, vmax=1)
        bottom.set_title(title, fontsize=8)
    fig.suptitle("your image (top) and what the model saw (bottom): top guess", fontsize=9)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    save_figure(fig, path)
    plt.close(fig)
    return Path(path)


def _shorten(name: str, width: int = 22) -> str:
    return name if len(name) <= width else "..." + name[-(width - 3):]
