"""Fashion-MNIST as NumPy arrays: the data room knows nothing of the engine."""

from .fashion_mnist import (  # noqa: F401
    LABELS, DataIter, FashionMNIST, get_fashion_mnist_labels, load, load_data_fashion_mnist, locate,
    split_validation,
)
