"""Finite-difference gradient checks in float64 against the engine's backward().

`check_grads(fn, *inputs)` differentiates `L = sum(head * fn(*inputs))` for a random head
gradient (a random head catches transposed or misplaced gradients that a head of ones would
sum away) both ways: with `backward(head)` and with central differences, one coordinate at a
time. It returns the relative error max|a - n| / max(1e-12, max|a| + max|n|) over all inputs.
"""

from __future__ import annotations

import numpy as np

from scratchmlp.engine import Array, record, use_dtype

TOLERANCE = 1e-6


def relative_error(analytic, numeric) -> float:
    analytic, numeric = np.asarray(analytic), np.asarray(numeric)
    scale = np.max(np.abs(analytic), initial=0.0) + np.max(np.abs(numeric), initial=0.0)
    return float(np.max(np.abs(analytic - numeric), initial=0.0) / max(1e-12, scale))


def _leaves(values):
    leaves = []
    for value in values:
        leaf = Array(np.array(value, dtype=np.float64), dtype=np.float64)
        leaf.attach_grad()
        leaves.append(leaf)
    return leaves


def analytic_grads(fn, inputs, head):
    """The engine's gradients of sum(head * fn(*inputs)) for each input."""
    leaves = _leaves(inputs)
    with record():
        out = fn(*leaves)
    assert out.dtype == np.float64, f"the op computed in {out.dtype}, not float64"
    out.backward(head)
    for leaf in leaves:
        assert leaf.grad.shape == leaf.shape, (leaf.grad.shape, leaf.shape)
        assert leaf.grad.dtype == np.float64, leaf.grad.dtype
    return [leaf.grad.copy() for leaf in leaves]


def numeric_grad(f, x: np.ndarray, eps=1e-6) -> np.ndarray:
    """d f() / d x by central differences, one coordinate at a time; `f` reads the float64
    array `x`, which is changed in place and restored."""
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        saved = x[i]
        x[i] = saved + eps
        up = f()
        x[i] = saved - eps
        down = f()
        x[i] = saved
        grad[i] = (up - down) / (2 * eps)
    return grad


def numeric_grads(fn, inputs, head, eps=1e-6):
    """Central differences of sum(head * fn(*inputs)) with respect to each input."""
    values = [np.array(x, dtype=np.float64) for x in inputs]

    def objective():
        return float(np.sum(head * fn(*[Array(v, dtype=np.float64) for v in values]).data))

    return [numeric_grad(objective, value, eps) for value in values]


def check_grads(fn, *inputs, seed=0, eps=1e-6) -> float:
    """Largest relative error between backward() and central differences over all inputs."""
    with use_dtype(np.float64):
        shape = fn(*[Array(np.asarray(x, np.float64), dtype=np.float64) for x in inputs]).shape
        head = np.random.default_rng(seed).standard_normal(shape)
        analytic = analytic_grads(fn, inputs, head)
        numeric = numeric_grads(fn, inputs, head, eps)
    # All-zero gradients would make the comparison vacuous (one input's may be: then its
    # analytic gradient must be exactly zero too).
    assert any(np.any(n != 0) for n in numeric), "numeric gradients are all zeros; other inputs"
    return max(relative_error(a, n) for a, n in zip(analytic, numeric))


def assert_grads(fn, *inputs, seed=0, eps=1e-6, tolerance=TOLERANCE):
    error = check_grads(fn, *inputs, seed=seed, eps=eps)
    assert error < tolerance, f"relative error {error:.3e} >= {tolerance:g}"
    return error
