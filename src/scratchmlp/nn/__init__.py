"""Network pieces: the MLP, activations, the loss, initialisers and optimisers."""

from .losses import SoftmaxCrossEntropyLoss, softmax_cross_entropy  # noqa: F401
from .model import MLP  # noqa: F401
from .optim import SGD, sgd  # noqa: F401
