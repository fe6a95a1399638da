"""The confusion matrix as a picture: true class down, predicted class across, counts in cells."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._mpl import pyplot, save_figure


def plot_confusion(confusion, labels, path, title: str = None):
    """Cells coloured by the share of their true class (so rare errors still show), with counts."""
    plt = pyplot()
    confusion = np.asarray(confusion)
    totals = confusion.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(totals > 0, confusion / np.maximum(totals, 1), 0.0)
    k = len(labels)
    fig, ax = plt.subplots(figsize=(1.0 + 0.62 * k, 0.6 + 0.55 * k))
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    for i in range(k):
        for j in range(k):
            if confusion[i, j]:
                ax.text(j, i, str(confusion[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if share[i, j] > 0.5 else "black")
    ax.set_xticks(range(k), labels, rotation=45, ha="right", rotation_mode="anchor",
                  fontsize=8)
    ax.set_yticks(range(k), labels, fontsize=8)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    if title:
        ax.set_title(title, fontsize=9)
    colorbar = fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    colorbar.set_label("share of the true class", fontsize=8)
    colorbar.ax.tick_params(labelsize=7)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    save_figure(fig, path)
    plt.close(fig)
    return Path(path)
