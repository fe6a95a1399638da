"""Write notebooks/mlp-scratch.ipynb and notebooks/mlp-concise.ipynb: the d2l chapter and its
concise version, cell for cell, on scratchmlp.

The chapters' text and statements are kept; only the imports change (in the scratch chapter
Gluon's loss is named by what it uses instead, in the concise one the import line is
scratchmlp's one line). The notebooks are written without outputs (they stay out of git).
Run: `.venv/bin/python tools/make_notebook.py` (both) or `... make_notebook.py PATH NAME`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOK = NOTEBOOKS / "mlp-scratch.ipynb"

CELLS = [
    ("md", """\
# Implementation of Multilayer Perceptron from Scratch

Now that we know how multilayer perceptrons (MLPs) work in theory,
let's implement them. First, we import the required packages.

*scratchmlp edition:* the book imports `d2l` and MXNet's `np`, `npx` and `gluon`.
Here the same names come from `scratchmlp`, which runs on NumPy with its own autograd,
and the loss that Gluon provided comes from `scratchmlp.nn`.
The book's `npx.set_np()` switched MXNet to NumPy semantics;
scratchmlp always has them, so that call is gone."""),
    ("code", """\
from scratchmlp import autograd, d2l, np
from scratchmlp.nn import SoftmaxCrossEntropyLoss
# No npx.set_np(): scratchmlp always has NumPy semantics."""),
    ("md", """\
To compare against the results
we previously achieved with vanilla softmax regression,
we continue to use the Fashion-MNIST image classification dataset."""),
    ("code", """\
batch_size = 256
train_iter, test_iter = d2l.load_data_fashion_mnist(batch_size)"""),
    ("md", """\
## Initialize Model Parameters

Recall that this dataset contains 10 classes and that
each image consists of a $28 \\times 28 = 784$ grid of pixel values.
Since we'll be discarding the spatial structure (for now),
we can just think of this as a classification dataset
with $784$ input features and $10$ classes.
In particular we will implement our MLP
with one hidden layer and $256$ hidden units.
Note that we can regard both of these choices as *hyperparameters*
that could be set based on performance on validation data.
Typically, we'll choose layer widths as powers of $2$
to make everything align nicely in memory.

Again, we will represent our parameters with several `ndarray`s.
Note that we now have one weight matrix and one bias vector *per layer*.
As always, we must call `attach_grad` to allocate memory for the gradients with respect to these parameters."""),
    ("code", """\
num_inputs, num_outputs, num_hiddens = 784, 10, 256

W1 = np.random.normal(scale=0.01, size=(num_inputs, num_hiddens))
b1 = np.zeros(num_hiddens)
W2 = np.random.normal(scale=0.01, size=(num_hiddens, num_outputs))
b2 = np.zeros(num_outputs)
params = [W1, b1, W2, b2]

for param in params:
    param.attach_grad()"""),
    ("md", """\
## Activation Function

To make sure we know how everything works,
we will use the `maximum` function to implement ReLU ourselves,
instead of invoking `npx.relu` directly (`scratchmlp.npx.relu` here)."""),
    ("code", """\
def relu(X):
    return np.maximum(X, 0)"""),
    ("md", """\
## The model

As in softmax regression, we will `reshape` each 2D image
into a flat vector of length  `num_inputs`.
Finally, we can implement our model with just a few lines of code."""),
    ("code", """\
def net(X):
    X = X.reshape(-1, num_inputs)
    H = relu(np.dot(X, W1) + b1)
    return np.dot(H, W2) + b2"""),
    ("md", """\
## The Loss Function

For better numerical stability and because we already know
how to implement softmax regression completely from scratch
in *Implementation of Softmax Regression from Scratch*,
we will use an integrated function
for calculating the softmax and cross-entropy loss:
where the book uses Gluon's `SoftmaxCrossEntropyLoss`,
we use its scratchmlp twin, `scratchmlp.nn.SoftmaxCrossEntropyLoss`,
which likewise takes logits and integer labels and returns one loss per example.
Recall that we discussed some of these intricacies
in *Multilayer Perceptrons*.
We encourage the interested reader to examine the source code
for `scratchmlp.nn.SoftmaxCrossEntropyLoss` for more details
(`src/scratchmlp/nn/losses.py`; its log-sum-exp forward and its gradient
sit side by side in `src/scratchmlp/engine/ops.py`)."""),
    ("code", """\
loss = SoftmaxCrossEntropyLoss()"""),
    ("md", """\
## Training

Steps for training the MLP are no different than for softmax regression.
In the `d2l` package, we directly call the `train_ch3` function, whose implementation was introduced
in *Implementation of Softmax Regression from Scratch*.
We set the number of epochs to $10$ and the learning rate to $0.5$.

(Here `d2l` is `scratchmlp.d2l`: `train_ch3` draws the curves live
and returns one row of metrics per epoch, shown below the plot.)"""),
    ("code", """\
num_epochs, lr = 10, 0.5
d2l.train_ch3(net, train_iter, test_iter, loss, num_epochs,
             lambda batch_size: d2l.sgd(params, lr, batch_size))"""),
    ("md", """\
To see how well we did, let's apply the model to some test data.
If you're interested, compare the result to corresponding linear model
in *Implementation of Softmax Regression from Scratch*."""),
    ("code", """\
d2l.predict_ch3(net, test_iter)"""),
    ("md", """\
This looks a bit better than our previous result, a good sign that we're on the right path.

## Summary

We saw that implementing a simple MLP is easy, even when done manually.
That said, with a large number of layers, this can get messy
(e.g. naming and keeping track of the model parameters, etc).

## Exercises

1. Change the value of the hyper-parameter `num_hiddens` in order to see how this hyperparameter influences your results.
1. Try adding a new hidden layer to see how it affects the results.
1. How does changing the learning rate change the result?
1. What is the best result you can get by optimizing over all the parameters (learning rate, iterations, number of hidden layers, number of hidden units per layer)?

## [Discuss](https://discuss.mxnet.io/t/2339)"""),
    ("md", """\
### The exercises from the command line

Each exercise has a `scratchmlp` command that trains on the real data
and writes a run folder with curves and a table of results
(run them in a terminal, or here with a leading `!`; `scratchmlp --help` lists them):

1. `num_hiddens`: `scratchmlp explore hidden`
1. another hidden layer: `scratchmlp explore depth`
   (a single deeper net: `scratchmlp train --hidden 256,128`)
1. the learning rate: `scratchmlp explore lr`
1. the best over all of them: `scratchmlp sweep`"""),
]


CONCISE_CELLS = [
    ("md", """\
# Concise Implementation of Multilayer Perceptron

Now that we learned how multilayer perceptrons (MLPs) work in theory, let's implement them. We begin, as always, by importing modules.

*scratchmlp edition:* the book imports `d2l` and MXNet's `gluon`, `npx`, `init` and `gluon.nn`.
Here the same names come from `scratchmlp` in one import line; its `gluon` is a small layer
over scratchmlp's own arrays, autograd and optimisers, on NumPy.
`npx.set_np()` stays as the book writes it (scratchmlp always has NumPy semantics)."""),
    ("code", """\
from scratchmlp import autograd, d2l, gluon, init, np, npx
from scratchmlp.gluon import nn
npx.set_np()"""),
    ("md", """\
## The Model

The only difference from our softmax regression implementation
is that we add two `Dense` (fully-connected) layers instead of one.
The first is our hidden layer, which has *256* hidden units
and uses the ReLU activation function."""),
    ("code", """\
net = nn.Sequential()
net.add(nn.Dense(256, activation='relu'),
        nn.Dense(10))
net.initialize(init.Normal(sigma=0.01))"""),
    ("md", """\
Again, note that as always, Gluon automatically
infers the missing input dimensions to each layer.

Training the model follows the exact same steps as in our softmax regression implementation.

(Here `d2l.train_ch3` draws the curves live and returns one row of metrics per epoch,
shown below the plot.)"""),
    ("code", """\
batch_size, num_epochs = 256, 10
train_iter, test_iter = d2l.load_data_fashion_mnist(batch_size)
loss = gluon.loss.SoftmaxCrossEntropyLoss()
trainer = gluon.Trainer(net.collect_params(), 'sgd', {'learning_rate': 0.5})
d2l.train_ch3(net, train_iter, test_iter, loss, num_epochs, trainer)"""),
    ("md", """\
## Exercises

1. Try adding a few more hidden layers to see how the result changes.
1. Try out different activation functions. Which ones work best?
1. Try out different initializations of the weights.

## [Discuss](https://discuss.mxnet.io/t/2340)"""),
]

CHAPTERS = {"mlp-scratch": CELLS, "mlp-concise": CONCISE_CELLS}


def build(name: str = "mlp-scratch") -> nbformat.NotebookNode:
    cells = [new_markdown_cell(text) if kind == "md" else new_code_cell(text)
             for kind, text in CHAPTERS[name]]
    for number, cell in enumerate(cells, 1):
        cell.id = f"cell-{number:02d}"  # stable ids: a rebuild changes only what changed
    nb = new_notebook(cells=cells, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)",
                       "language": "python"},
        "language_info": {"name": "python"},
    })
    nbformat.validate(nb)
    return nb


def write(path: Path, name: str):
    path.parent.mkdir(parents=True, exist_ok=True)
    text = nbformat.writes(build(name)) + "\n"
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    print(f"wrote {path}")


def main(argv=None) -> int:
    if argv:
        write(Path(argv[0]), argv[1] if len(argv) > 1 else "mlp-scratch")
    else:
        for name in CHAPTERS:
            write(NOTEBOOKS / f"{name}.ipynb", name)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
