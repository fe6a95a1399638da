"""The book's `d2l` names (MXNet edition, and d2l 0.17.6's aliases), over scratchmlp's rooms.

A reader of *Dive into Deep Learning* finds `load_data_fashion_mnist`, `train_ch3`,
`predict_ch3`, `sgd`, `Accumulator`, `Animator`, `synthetic_data`, `linreg`, `load_array`,
`d2l.reshape`, `d2l.tensor`, ... with the book's signatures and behaviour. Its data iterators
yield `np` arrays (labels int32), as MXNet's do. `d2l.plt` is matplotlib's pyplot, imported on
first use.
"""

from __future__ import annotations

import time

import numpy as _numpy

from . import data as _data, gluon, np
from .data import get_fashion_mnist_labels  # noqa: F401
from .engine import Array
from .engine.array import pause as _pause
from .errors import ScratchMLPError
from .nn.optim import sgd  # noqa: F401
from .report import Animator  # noqa: F401 - matplotlib itself is imported on first use
from .report._mpl import in_notebook, pyplot as _pyplot
from .train.loop import (  # noqa: F401
    Accumulator, accuracy, evaluate_accuracy, predict, train, train_epoch,
)


def __getattr__(name):
    if name == "plt":
        return _pyplot()
    from .errors import missing_name
    raise missing_name("d2l", name)  # one line (errors.NotProvided), not a traceback


# ---- d2l 0.17.6's aliases (its d2l/mxnet.py): the book's tensor functions by one name -------
size = lambda a: a.size  # noqa: E731
transpose = lambda a: a.T  # noqa: E731
ones, zeros, arange, meshgrid, linspace, eye = np.ones, np.zeros, np.arange, np.meshgrid, \
    np.linspace, np.eye
sin, sinh, cos, cosh, tanh, exp, log, abs = np.sin, np.sinh, np.cos, np.cosh, np.tanh, np.exp, \
    np.log, np.abs  # noqa: A001
tensor, normal, rand, matmul = np.array, np.random.normal, np.random.rand, np.dot
int32, float32 = np.int32, np.float32
concat, stack = np.concatenate, np.stack
numpy = lambda x, *args, **kwargs: x.asnumpy(*args, **kwargs)  # noqa: E731
reshape = lambda x, *args, **kwargs: x.reshape(*args, **kwargs)  # noqa: E731
to = lambda x, *args, **kwargs: x.as_in_context(*args, **kwargs)  # noqa: E731
reduce_sum = lambda x, *args, **kwargs: x.sum(*args, **kwargs)  # noqa: E731
reduce_mean = lambda x, *args, **kwargs: x.mean(*args, **kwargs)  # noqa: E731
argmax = lambda x, *args, **kwargs: x.argmax(*args, **kwargs)  # noqa: E731
astype = lambda x, *args, **kwargs: x.astype(*args, **kwargs)  # noqa: E731


# ---- devices: the CPU only (d2l's try_gpu falls back to it, as on a machine without GPUs) -----
from .engine.context import cpu, gpu, num_gpus  # noqa: E402,F401


def try_gpu(i=0):
    """The CPU: scratchmlp has no GPU, and d2l's try_gpu returns cpu() where none is found."""
    return cpu()


def try_all_gpus():
    return [cpu()]


def evaluate_accuracy_gpu(net, data_iter, device=None):
    """d2l's later name for evaluate_accuracy (the device can only be the CPU here)."""
    from .engine.context import checked
    checked(device)
    return evaluate_accuracy(net, data_iter)


def get_dataloader_workers():
    """d2l's: 4 worker processes (scratchmlp's loaders read in the calling process)."""
    return 4


# ---- plotting ---------------------------------------------------------------------------------
def use_svg_display():
    """Draw notebook figures as SVG, as the book does (nothing to do outside a notebook)."""
    if in_notebook():
        from matplotlib_inline import backend_inline
        backend_inline.set_matplotlib_formats("svg")


def set_figsize(figsize=(3.5, 2.5)):
    use_svg_display()
    _pyplot().rcParams["figure.figsize"] = figsize


def set_axes(axes, xlabel, ylabel, xlim, ylim, xscale, yscale, legend):
    axes.set_xlabel(xlabel), axes.set_ylabel(ylabel)
    axes.set_xscale(xscale), axes.set_yscale(yscale)
    axes.set_xlim(xlim), axes.set_ylim(ylim)
    if legend:
        axes.legend(legend)
    axes.grid()


def _one_axis(X) -> bool:
    return (hasattr(X, "ndim") and X.ndim == 1
            or isinstance(X, list) and not hasattr(X[0], "__len__"))


def plot(X, Y=None, xlabel=None, ylabel=None, legend=None, xlim=None, ylim=None,
         xscale="linear", yscale="linear", fmts=("-", "m--", "g-.", "r:"), figsize=(3.5, 2.5),
         axes=None):
    """Plot one or several curves (d2l's helper)."""
    set_figsize(figsize)
    axes = axes if axes else _pyplot().gca()
    X = [X] if _one_axis(X) else X
    if Y is None:
        X, Y = [[]] * len(X), X
    elif _one_axis(Y):
        Y = [Y]
    if len(X) != len(Y):
        X = X * len(Y)
    axes.cla()
    for x, y, fmt in zip(X, Y, fmts):
        axes.plot(*((_numpy.asarray(x),) if len(x) else ()), _numpy.asarray(y), fmt)
    set_axes(axes, xlabel, ylabel, xlim, ylim, xscale, yscale, legend or [])


class Timer:
    """Record running times."""

    def __init__(self):
        self.times = []
        self.start()

    def start(self):
        self.tik = time.time()

    def stop(self):
        self.times.append(time.time() - self.tik)
        return self.times[-1]

    def avg(self):
        return sum(self.times) / len(self.times)

    def sum(self):  # noqa: A003 - d2l's name
        return sum(self.times)

    def cumsum(self):
        return _numpy.array(self.times).cumsum().tolist()


# ---- linear regression ------------------------------------------------------------------------
def synthetic_data(w, b, num_examples):
    """y = Xw + b + noise, N(0, 0.01^2); y as a column."""
    X = normal(0, 1, (num_examples, len(w)))
    y = matmul(X, w) + b
    y += normal(0, 0.01, y.shape)
    return X, reshape(y, (-1, 1))


def linreg(X, w, b):
    """The linear regression model."""
    return matmul(X, w) + b


def squared_loss(y_hat, y):
    return (y_hat - reshape(y, y_hat.shape)) ** 2 / 2


def load_array(data_arrays, batch_size, is_train=True):
    """A Gluon data iterator over arrays (shuffled for training)."""
    dataset = gluon.data.ArrayDataset(*data_arrays)
    return gluon.data.DataLoader(dataset, batch_size, shuffle=is_train)


def evaluate_loss(net, data_iter, loss):
    """The mean loss of `net` over a dataset."""
    metric = Accumulator(2)
    with _pause():
        for X, y in data_iter:
            l = loss(net(X), y)
            metric.add(reduce_sum(l), size(l))
    return metric[0] / metric[1]


# ---- Fashion-MNIST and softmax regression's training ---------------------------------------------
class _Batches:
    """One of scratchmlp's data iterators, yielding its minibatches as `np` arrays with int32
    labels, as MXNet's DataLoader does; its other attributes are the iterator's."""

    def __init__(self, data_iter):
        self._iter = data_iter

    def __iter__(self):
        for X, y in self._iter:
            yield Array(X, dtype=X.dtype), Array(y.astype(_numpy.int32), dtype=_numpy.int32)

    def __len__(self):
        return len(self._iter)

    def __getattr__(self, name):
        return getattr(self._iter, name)


def load_data_fashion_mnist(batch_size, resize=None, data_dir=None, seed=0, data=None):
    """Fashion-MNIST's training and test iterators (images (batch, 1, 28, 28) in [0, 1])."""
    if resize not in (None, 28, (28, 28)):
        raise ScratchMLPError(f"load_data_fashion_mnist: resize={resize!r} is not "
                              "supported (28x28 images only)")
    train_iter, test_iter = _data.load_data_fashion_mnist(batch_size, data_dir=data_dir,
                                                          seed=seed, data=data)
    return _Batches(train_iter), _Batches(test_iter)


def _step_of(updater):
    if isinstance(updater, gluon.Trainer):
        return updater.step
    if not callable(updater):  # was "'float' object is not callable" at the first batch
        raise ScratchMLPError(f"updater must be a gluon.Trainer or a function of the batch "
                              f"size (e.g. lambda batch_size: d2l.sgd(params, lr, batch_size)), "
                              f"got {type(updater).__name__}")
    return updater


def train_epoch_ch3(net, train_iter, loss, updater):
    """One epoch: (mean loss, accuracy); `updater` a function of the batch size or a Trainer."""
    return train_epoch(net, train_iter, loss, _step_of(updater), stop_if_diverged=False)


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

    `updater` is a function of the batch size or a `gluon.Trainer`. As d2l's, it trains on
    through a NaN loss (the rows show it) instead of stopping.

    Returns the per-epoch rows (epoch, train_loss, train_acc, test_acc, seconds, examples_per_s).
    """
    from . import ranges
    if not ranges.RANGES["epochs"].holds(num_epochs):  # 2.5 was a TypeError from range()
        raise ScratchMLPError(f"num_epochs must be {ranges.RANGES['epochs'].words}, got "
                              f"{ranges.shown(num_epochs)}")
    animator = Animator(xlabel="epoch", xlim=[1, num_epochs], ylim=[0.3, 0.9],
                        legend=["train loss", "train acc", "test acc"])

    def show(row):
        animator.add(row["epoch"], (row["train_loss"], row["train_acc"], row["test_acc"]))
        if not in_notebook():
            print(f"epoch {row['epoch']}: train loss {row['train_loss']:.4f}, train acc "
                  f"{row['train_acc']:.4f}, test acc {row['test_acc']:.4f}, "
                  f"{row['seconds']:.2f} s")

    try:
        rows = train(net, train_iter, test_iter, loss, num_epochs, _step_of(updater),
                     on_epoch=show, stop_if_diverged=False)
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
