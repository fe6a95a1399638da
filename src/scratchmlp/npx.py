"""The `npx` functions the book uses; `set_np()` has nothing to switch on."""

from __future__ import annotations

import numpy as _np

from .engine import ops as _ops
from .engine.array import Array as _Array, as_data as _as_data, default_dtype as _default_dtype
from .engine.context import (  # noqa: F401 - MXNet's devices: the CPU only
    Context, cpu, current_context, gpu, num_gpus,
)
from .engine.ops import log_softmax, pick, relu, sigmoid, softmax_cross_entropy  # noqa: F401

current_device = current_context


def set_np(shape=True, array=True, dtype=False):
    """MXNet needed this to turn on NumPy semantics; scratchmlp always has them."""


def softmax(x, axis=-1):
    return _ops.exp(log_softmax(x, axis=axis))


def one_hot(indices, depth, on_value=1.0, off_value=0.0, dtype=None):
    """Rows of `depth` values: `on_value` at each index, `off_value` elsewhere (float32)."""
    index = _np.asarray(_as_data(indices)).astype(_np.intp)
    out = _np.full(index.shape + (depth,), off_value, dtype=dtype or _default_dtype())
    _np.put_along_axis(out, index[..., None], on_value, axis=-1)
    return _Array(out, dtype=out.dtype)


def reshape(a, newshape, reverse=False):
    """npx.reshape for NumPy-style shapes (-1 infers one axis); MXNet's codes -2..-6 are not
    supported."""
    shape = (newshape,) if isinstance(newshape, int) else tuple(newshape)
    if reverse or any(n < -1 for n in shape):
        raise _ops.ScratchMLPError(f"npx.reshape{shape}: only sizes and -1 are supported")
    return _ops.reshape(a, shape)


def waitall():
    """MXNet waits for its asynchronous engine here; NumPy has already computed."""


def batch_flatten(x):
    """Each example (the first axis) flattened to one row: shape (n, -1), as MXNet's."""
    return _ops.reshape(x, (_np.shape(_as_data(x))[0], -1))


ACTIVATIONS = {"relu": relu, "sigmoid": sigmoid, "tanh": _ops.tanh,
              "softrelu": lambda x: _ops.log(_ops.exp(x) + 1.0),
              "softsign": lambda x: x / (_ops.abs(x) + 1.0)}


def activation(data, act_type="relu"):
    """npx.activation: MXNet's act_type relu, sigmoid, tanh, softrelu or softsign."""
    if act_type not in ACTIVATIONS:
        raise _ops.ScratchMLPError(f"activation: act_type {act_type!r} is not one of "
                                   f"{sorted(ACTIVATIONS)}")
    return ACTIVATIONS[act_type](data)
