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
    """MXNet needed this to turn on NumPy semantics; scratchmlp always has them. As MXNet's,
    `dtype=True` makes new floating arrays float64 (NumPy's default), `dtype=False` float32."""
    from .engine.array import _default_dtype
    _default_dtype[0] = _np.dtype(_np.float64 if dtype else _np.float32)


def reset_np():
    """Back to float32 defaults (MXNet's reset_np turns NumPy semantics off; here they stay)."""
    set_np()


def is_np_default_dtype() -> bool:
    """Whether new floating arrays are float64 (`set_np(dtype=True)`)."""
    return _default_dtype() == _np.float64


def softmax(x, axis=-1, temperature=None, dtype=None, **unused):
    """exp(x / temperature) normalised along `axis` (MXNet's npx.softmax; temperature 1)."""
    if temperature is not None and temperature != 1:
        x = x / temperature
    out = _ops.exp(log_softmax(x, axis=axis))
    return out if dtype is None else out.astype(dtype)


def one_hot(indices, depth, on_value=1.0, off_value=0.0, dtype=None):
    """Rows of `depth` values: `on_value` at each index, `off_value` elsewhere (float32).

    As MXNet's kernel: a float index is cut to a whole number, and an index outside
    0..depth-1 (e.g. -1) gives a row of `off_value` (it wrapped, or raised IndexError)."""
    index = _np.asarray(_as_data(indices)).astype(_np.intp)
    out = _np.full(index.shape + (depth,), off_value, dtype=dtype or _default_dtype())
    inside = (index >= 0) & (index < depth)
    out[inside, index[inside]] = on_value
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


def dropout(data, p=0.5, mode="training", axes=None, **unused):
    """npx.dropout: inverted dropout with probability `p`, applied while training (inside
    `autograd.record()`) or always with `mode='always'`; otherwise the identity, as MXNet's."""
    from .engine.array import is_training
    from .engine.numpy_like import random
    from .nn.dropout import check_rate, keep_mask
    rate = check_rate(p)
    if axes or mode not in ("training", "always"):
        raise _ops.ScratchMLPError(f"npx.dropout: mode {mode!r} with axes {axes!r} is not "
                                   "supported (mode 'training' or 'always', no axes)")
    if rate == 0 or (mode == "training" and not is_training()):
        return data
    values = _as_data(data)
    return _ops.dropout(data, keep_mask(random.generator, values.shape, rate, values.dtype))


class _Random:
    """npx.random.seed (and mx.random.seed): seeds scratchmlp.np.random's one generator."""

    @staticmethod
    def seed(seed_state, ctx="all", device="all"):
        from .engine.numpy_like import random
        random.seed(seed_state)


random = _Random()


def __getattr__(name):  # an MXNet name we lack: one line (errors.NotProvided), not a traceback
    from .errors import missing_name
    raise missing_name("npx", name)


# ---- npx.save / npx.load (and Gluon's save_parameters): arrays in one .npz file ----------------
def save_arrays(filename, named: dict):
    """`named` (str -> array) written atomically to exactly `filename`, as a NumPy .npz (MXNet
    writes its own binary format; scratchmlp reads and writes .npz only)."""
    from .files import atomic_open
    with atomic_open(filename) as f:
        _np.savez(f, **{k: _np.asarray(_as_data(v)) for k, v in named.items()})


def load_arrays(filename) -> dict:
    """The arrays of a file `save_arrays` wrote, by name; a file that is not one is one line."""
    try:
        with _np.load(filename, allow_pickle=False) as arrays:
            return {k: arrays[k] for k in arrays.files}
    except OSError as e:
        raise _ops.ScratchMLPError(f"{filename}: cannot read it ({e.strerror or e})") from None
    except (ValueError, EOFError, KeyError):
        raise _ops.ScratchMLPError(f"{filename}: not a file of arrays as save writes them "
                                   "(scratchmlp reads and writes .npz, not MXNet's format)") \
            from None


def save(file, arr):
    """npx.save: an array, a list of arrays, or a dict of str -> array, to `file`."""
    if isinstance(arr, dict):
        return save_arrays(file, {f"dict:{k}": v for k, v in arr.items()})
    items = [arr] if isinstance(arr, _Array) else list(arr)
    save_arrays(file, {f"list:{i}": v for i, v in enumerate(items)})


def load(file):
    """npx.load: what npx.save wrote, as MXNet returns it: a list of arrays, or a dict."""
    named = load_arrays(file)
    arrays = {k: _Array(v, dtype=v.dtype) for k, v in named.items()}
    if arrays and all(k.startswith("dict:") for k in arrays):
        return {k[5:]: v for k, v in arrays.items()}
    return [arrays[f"list:{i}"] for i in range(len(arrays)) if f"list:{i}" in arrays]
