"""Shared fixtures: the real Fashion-MNIST (skipped with a reason when it is not installed) and
the chapter's network as the chapter writes it.

`make test-fast` (pytest -m "not slow") leaves out every test marked slow: subprocesses, the
notebook, PostgreSQL, long fuzzing, and every test that reads the real data (marked here, from
its use of the `real_data` fixture, so a new one cannot be forgotten).
"""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "real_data" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def real_data():
    """The four arrays of the real Fashion-MNIST, found the way the CLI finds them (no download)."""
    from scratchmlp import ScratchMLPError
    from scratchmlp.data import load
    try:
        return load(download=False)
    except ScratchMLPError as e:
        pytest.skip(f"real Fashion-MNIST not available ({e}); `make test` installs "
                    "Debian's dataset-fashion-mnist where apt works")


class Chapter:
    """The chapter's model cells, written once as the chapter writes them (over its `np`)."""

    num_inputs, num_outputs, num_hiddens = 784, 10, 256

    @staticmethod
    def params(num_hiddens: int = 256):
        """W1, b1, W2, b2: N(0, 0.01) weights and zero biases, with gradients attached."""
        from scratchmlp import np
        num_inputs, num_outputs = Chapter.num_inputs, Chapter.num_outputs
        W1 = np.random.normal(scale=0.01, size=(num_inputs, num_hiddens))
        b1 = np.zeros(num_hiddens)
        W2 = np.random.normal(scale=0.01, size=(num_hiddens, num_outputs))
        b2 = np.zeros(num_outputs)
        params = [W1, b1, W2, b2]
        for param in params:
            param.attach_grad()
        return params

    @staticmethod
    def net(W1, b1, W2, b2):
        """The chapter's `net` (with its `relu`) over the given parameters."""
        from scratchmlp import np
        num_inputs = Chapter.num_inputs

        def relu(X):
            a = np.zeros_like(X)
            return np.maximum(X, a)

        def net(X):
            X = X.reshape((-1, num_inputs))
            H = relu(np.dot(X, W1) + b1)
            return np.dot(H, W2) + b2

        return net


@pytest.fixture(scope="session")
def chapter():
    """The chapter's network: `chapter.params(num_hiddens)` and `chapter.net(W1, b1, W2, b2)`.
    (tests/test_notebook.py keeps its own verbatim copy: it checks the chapter as printed.)"""
    return Chapter
