"""`from scratchmlp import gluon`: the small part of MXNet Gluon the book uses.

A thin layer over scratchmlp's arrays, autograd and optimisers, not a second engine:
`nn` (Sequential, Dense, Dropout), `loss` (L2Loss, SoftmaxCrossEntropyLoss), `data`
(ArrayDataset, DataLoader), `Parameter` and `Trainer`.
"""

from . import data, loss, nn  # noqa: F401
from .parameter import Parameter, ParameterDict  # noqa: F401
from .trainer import Trainer  # noqa: F401


def __getattr__(name):  # an MXNet name we lack: one line (errors.NotProvided), not a traceback
    from ..errors import missing_name
    raise missing_name("gluon", name)
