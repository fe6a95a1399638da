"""The chapter's `d2l` names, as thin aliases over scratchmlp's rooms.

A reader of *Dive into Deep Learning* finds `load_data_fashion_mnist`, `train_ch3`,
`predict_ch3`, `sgd`, `Accumulator`, `Animator`, ... with the book's signatures and behaviour.
"""

from __future__ import annotations

from .data import get_fashion_mnist_labels, load_data_fashion_mnist  # noqa: F401
from .nn.optim import sgd  # noqa: F401
from .report import Animator  # noqa: F401 - matplotlib itself is imported on first use
from .report._mpl import in_notebook
from .train.loop import (  # noqa: F401
    Accumulator, accuracy, evaluate_accuracy, predict, train, train_epoch,
)

train_epoch_ch3 = train_epoch


class History(list):
    """What train_ch3 returns: one row (a dict) per epoch. A notebook cell ending in train_ch3
    shows it as a short table whose last line is the final result, not as a dump of dicts."""

    def __repr__(self):
        if not self:
            return "History([])"
        lines = ["epoch  train loss  train acc  test acc  seconds"]
        lines += [f"{r['epoch']:5d}  {r['train_loss']:10.4f}  {r['train_acc']:9.4f}  "
                  f"{r['test_acc']:8.4f}  {r['seconds']:7.2f}" for r in self]
        return "\n".join(lines)


def train_ch3(net, train_iter, test_iter, loss, num_epochs, updater):
    """Train and plot train loss, train acc and test acc per epoch (live in Jupyter).

    Returns the per-epoch rows (epoch, train_loss, train_acc, test_acc, seconds, examples_per_s).
    """
    animator = Animator(xlabel="epoch", xlim=[1, num_epochs], ylim=[0.3, 0.9],
                        legend=["train loss", "train acc", "test acc"])

    def show(row):
        animator.add(row["epoch"], (row["train_loss"], row["train_acc"], row["test_acc"]))
        if not in_notebook():
            print(f"epoch {row['epoch']}: train loss {row['train_loss']:.4f}, train acc "
                  f"{row['train_acc']:.4f}, test acc {row['test_acc']:.4f}, "
                  f"{row['seconds']:.2f} s")

    try:
        rows = train(net, train_iter, test_iter, loss, num_epochs, updater, on_epoch=show)
    finally:
        if in_notebook():
            animator.close()  # its last frame stays in the output; no duplicate at cell end
    return History(rows)


def show_images(imgs, num_rows, num_cols, titles=None, scale=1.5):
    from .report import show_images as _show
    return _show(imgs, num_rows, num_cols, titles, scale)


def predict_ch3(net, test_iter, n=6):
    """Show the first `n` test images titled with the true and the predicted label.

    Returns None, as d2l's does, so a notebook cell shows the images and no axes repr.
    """
    images, truth, guesses = predict(net, test_iter, n)
    trues, preds = get_fashion_mnist_labels(truth), get_fashion_mnist_labels(guesses)
    titles = [t + "\n" + p for t, p in zip(trues, preds)]
    show_images(images, 1, n, titles=titles[0:n])
