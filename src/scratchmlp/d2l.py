"""The chapter's `d2l` names, as thin aliases over scratchmlp's rooms.

A reader of *Dive into Deep Learning* finds `load_data_fashion_mnist`, `train_ch3`,
`predict_ch3`, `sgd`, `Accumulator`, `Animator`, ... with the book's signatures and behaviour.
"""

from __future__ import annotations

from .data import get_fashion_mnist_labels, load_data_fashion_mnist  # noqa: F401
from .nn.optim import sgd  # noqa: F401
from .train.loop import (  # noqa: F401
    Accumulator, accuracy, evaluate_accuracy, predict, train, train_epoch,
)

train_epoch_ch3 = train_epoch


def train_ch3(net, train_iter, test_iter, loss, num_epochs, updater):
    """Train and plot train loss, train acc and test acc per epoch (live in Jupyter)."""
    from .report import Animator
    from .report._mpl import in_notebook
    animator = Animator(xlabel="epoch", xlim=[1, num_epochs], ylim=[0.3, 0.9],
                        legend=["train loss", "train acc", "test acc"])

    def show(row):
        animator.add(row["epoch"], (row["train_loss"], row["train_acc"], row["test_acc"]))
        if not in_notebook():
            print(f"epoch {row['epoch']}: train loss {row['train_loss']:.4f}, train acc "
                  f"{row['train_acc']:.4f}, test acc {row['test_acc']:.4f}, "
                  f"{row['seconds']:.2f} s")

    rows = train(net, train_iter, test_iter, loss, num_epochs, updater, on_epoch=show)
    if in_notebook():
        animator.close()  # its last frame stays in the output; no duplicate at cell end
    return rows


def show_images(imgs, num_rows, num_cols, titles=None, scale=1.5):
    from .report import show_images as _show
    return _show(imgs, num_rows, num_cols, titles, scale)


def predict_ch3(net, test_iter, n=6):
    """Show the first `n` test images titled with the true and the predicted label."""
    images, truth, guesses = predict(net, test_iter, n)
    trues, preds = get_fashion_mnist_labels(truth), get_fashion_mnist_labels(guesses)
    titles = [t + "\n" + p for t, p in zip(trues, preds)]
    return show_images(images, 1, n, titles=titles[0:n])
