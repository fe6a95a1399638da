"""The array type with `.grad` and its operators, the recording switch, and the backward pass.

An `Array` wraps a NumPy ndarray (`.data`). Its operators (`+ - * / ** @`, indexing, `.sum()`,
`.reshape()`, ...) are the differentiable ops defined below the class, each a forward beside
its gradient rules; the other ops (activations, the fused layer, losses) are in `ops.py`,
made the same way with `op`.

Results of ops made while `record()` is on, from inputs that need a gradient, remember their
inputs and the rules that send a gradient back to each one: either one vector-Jacobian
product (VJP) per input, a row of the gradient table, or for a fused op one function that
returns all its inputs' gradients as a tuple. `backward()` walks that graph once in reverse
topological order and undoes NumPy broadcasting for every input in one place. Semantics
follow MXNet's: a non-scalar result is summed (head gradient of ones) and every `backward()`
overwrites `.grad`.
"""

from __future__ import annotations

import contextlib
import functools
import threading

import numpy as np

from ..errors import ScratchMLPError
from . import context as _context, parallel

_state = threading.local()
_default_dtype = [np.dtype(np.float32)]  # MXNet's default; float64 on request (gradient checks)


def is_recording() -> bool:
    return getattr(_state, "recording", False)


def is_training() -> bool:
    """True inside `record()` (and `train_mode()`): layers such as dropout are on, as in MXNet."""
    return getattr(_state, "training", False)


@contextlib.contextmanager
def _switch(recording=None, training=None):
    previous = is_recording(), is_training()
    if recording is not None:
        _state.recording = recording
    if training is not None:
        _state.training = training
    try:
        yield
    finally:
        _state.recording, _state.training = previous


def record(train_mode: bool = True):
    """Record the ops in this block so that `backward()` can differentiate them; by default
    also in training mode (`is_training()` is True), as MXNet's `autograd.record()`."""
    return _switch(recording=True, training=train_mode)


def pause(train_mode: bool = False):
    """Stop recording inside a `record()` block (e.g. to compute a metric)."""
    return _switch(recording=False, training=train_mode)


def set_recording(is_recording: bool) -> bool:  # noqa: F811 - MXNet's names
    """Turn recording on or off; returns the previous state (MXNet's autograd.set_recording)."""
    previous, _state.recording = getattr(_state, "recording", False), bool(is_recording)
    return previous


def set_training(train_mode: bool) -> bool:
    """Turn training mode on or off; returns the previous state (MXNet's)."""
    previous, _state.training = is_training(), bool(train_mode)
    return previous


def train_mode():
    """Training mode (dropout on) without changing whether ops are recorded."""
    return _switch(training=True)


def predict_mode():
    """Prediction mode (dropout off) without changing whether ops are recorded."""
    return _switch(training=False)


def default_dtype() -> np.dtype:
    return _default_dtype[0]


@contextlib.contextmanager
def use_dtype(dtype):
    """Make new floating arrays `dtype` inside the block (`float64` for gradient checks)."""
    previous = _default_dtype[0]
    _default_dtype[0] = np.dtype(dtype)
    try:
        yield
    finally:
        _default_dtype[0] = previous


def as_data(value, dtype=None) -> np.ndarray:
    """The ndarray behind an Array, or a new ndarray in the default float dtype."""
    if isinstance(value, Array):
        return value.data if dtype is None else value.data.astype(dtype, copy=False)
    array = np.asarray(value, dtype=dtype)
    if dtype is None and array.dtype.kind == "f" and array.dtype != default_dtype():
        array = array.astype(default_dtype())
    return array


# ---- making ops: the bookkeeping every op shares ------------------------------------------
def op(forward=None, *, arithmetic: bool = False):
    """Turn `forward(*ndarrays, **options) -> (out, rules)` into a differentiable op on Arrays.

    `rules` is either a tuple with one VJP per positional input (`g -> that input's gradient`;
    None for an input that takes none), or, for a fused op, one function
    `backward(g, needed) -> tuple of input gradients` (`needed[i]`: input i wants one).
    Arrays are unwrapped, the graph is recorded only while `record()` is on and an input needs
    a gradient, and rules of inputs that need none are never run. `arithmetic` ops take
    numbers on every side, so integer and boolean NumPy constants are cast to the Arrays'
    float dtype too (other ops take integer labels, masks, indices as given).
    """
    if forward is None:
        return functools.partial(op, arithmetic=arithmetic)
    constant_kinds = "fiub" if arithmetic else "f"

    @functools.wraps(forward)
    def differentiable(*inputs, **options):
        out, rules = forward(*_unwrap(inputs, constant_kinds), **options)
        result = _wrap(out if type(out) is np.ndarray else np.asarray(out))
        if is_recording():
            parents = tuple(x if isinstance(x, Array) and x.requires_grad else None
                            for x in inputs)
            if any(parent is not None for parent in parents):
                result._parents, result._rules = parents, rules
        return result

    return differentiable


def _wrap(data: np.ndarray) -> "Array":
    result = Array.__new__(Array)  # skip __init__'s dtype conversion: ops keep their dtype
    result.data, result.grad, result._grad_attached = data, None, False
    result._parents, result._rules = (), ()
    return result


def _unwrap(inputs, kinds: str = "f") -> list:
    """The ndarrays behind the inputs. A NumPy constant of one of `kinds` takes the Arrays' float
    dtype, as a Python float does (and as MXNet casts scalars): float32 * np.float64(0.5) and
    float32 * np.arange(3) stay float32."""
    raw = [x.data if isinstance(x, Array) else x for x in inputs]
    for x, r in zip(inputs, raw):  # the common case, float Arrays and Python numbers: no cast
        if x is not r:
            if kinds != "f" and r.dtype.kind in "iub":  # an integer Array in arithmetic
                return _cast_constants(inputs, raw, kinds)
        elif (isinstance(x, (np.ndarray, np.generic)) and x.dtype.kind in kinds
              or kinds != "f" and isinstance(x, (list, tuple))):
            return _cast_constants(inputs, raw, kinds)
    return raw


def _cast_constants(inputs, raw, kinds: str) -> list:
    """Cast to the Arrays' float dtype. For arithmetic, an integer or boolean Array beside a
    float one is cast too: MXNet's promotion rule "if only one of the inputs is floating, the
    result is that type" (int32 array * float32 array is float32; NumPy makes it float64)."""
    raw = [np.asarray(r) if isinstance(r, (list, tuple)) else r for r in raw]  # a list operand
    floats = [x.data.dtype for x in inputs if isinstance(x, Array) and x.data.dtype.kind == "f"]
    if floats:
        target = floats[0] if len(floats) == 1 else np.result_type(*floats)
        for i, r in enumerate(raw):
            if (isinstance(r, (np.ndarray, np.generic)) and r.dtype.kind in kinds
                    and r.dtype != target):
                raw[i] = r.astype(target)
    return raw


def _input_grads(node: "Array", grad: np.ndarray):
    """The gradients `node`'s rules send to its inputs (None for an input that needs none)."""
    rules = node._rules
    if callable(rules):  # a fused op: all of them at once
        return rules(grad, tuple(parent is not None for parent in node._parents))
    return [None if parent is None else rule(grad) for parent, rule in zip(node._parents, rules)]


def _constant(x):
    return x.data if isinstance(x, Array) else x


def _index(key):
    """An index made of Arrays as NumPy takes it: float index arrays (np.array([0, 2]) is
    float32, as in MXNet) are cast to integers, as MXNet does."""
    key = _constant(key)
    if isinstance(key, np.ndarray) and key.dtype.kind == "f":
        return key.astype(np.int64)
    return key


_SPENT = "spent"  # the rules of a node whose graph a backward() has used up


class Array:
    """An n-dimensional array that can take part in reverse-mode differentiation."""

    __slots__ = ("data", "grad", "_grad_attached", "_parents", "_rules", "__weakref__")
    __array_ufunc__ = None  # make `ndarray + Array` call Array.__radd__ instead of NumPy

    def __init__(self, data, dtype=None):
        self.data = as_data(data, dtype)
        self.grad = None
        self._grad_attached = False
        self._parents = ()  # inputs this result was computed from (only while recording)
        self._rules = ()  # how the gradient goes back to them (see `op`)

    # ---- autograd -----------------------------------------------------------------
    def attach_grad(self, grad_req: str = "write", stype=None):
        """Allocate `.grad` (zeros) and mark this array as a leaf whose gradient backward()
        writes. As MXNet's `grad_req`: "write" overwrites `.grad` at each backward(), "add"
        adds to it (zero it yourself, e.g. `x.grad[:] = 0`), "null" keeps no gradient."""
        if grad_req not in ("write", "add", "null") or stype not in (None, "default"):
            raise ScratchMLPError(f"attach_grad: grad_req must be 'write', 'add' or 'null' "
                                  f"(dense storage), got {grad_req!r}")
        self._parents, self._rules = (), ()
        if grad_req == "null":
            self.grad, self._grad_attached = None, False
            return
        self.grad = _wrap(np.zeros_like(self.data))  # an Array, as in MXNet
        self._grad_attached = "add" if grad_req == "add" else True

    @property
    def requires_grad(self) -> bool:
        return self._grad_attached or bool(self._parents)

    def detach(self) -> "Array":
        return Array(self.data, dtype=self.data.dtype)

    def backward(self, out_grad=None, retain_graph: bool = False, train_mode: bool = True):
        """Differentiate this result with respect to every leaf that has `attach_grad()`.

        As in MXNet, the graph is used up: a second backward() through it raises unless the
        first was given `retain_graph=True`. (`train_mode` is MXNet's; it changes nothing.)
        """
        order = self._graph()
        grads, handed_out = {id(self): self._head(out_grad)}, set()
        for node in reversed(order):
            grad = grads.pop(id(node), None)
            if grad is None:
                continue
            if node._grad_attached == "add" and isinstance(node.grad, Array):
                node.grad.data = node.grad.data + grad  # grad_req "add"; shapes equal here
            elif node._grad_attached:
                _write_grad(node, _own_copy(grad, node.data, handed_out))
            for parent, parent_grad in zip(node._parents, _input_grads(node, grad)):
                if parent is None:
                    continue
                if parent_grad.shape != parent.data.shape:  # the op broadcast this input
                    parent_grad = unbroadcast(parent_grad, parent.data.shape)
                key = id(parent)
                grads[key] = parent_grad if key not in grads else grads[key] + parent_grad
        if not retain_graph:
            for node in order:
                if node._parents:
                    node._rules = _SPENT  # frees what the rules kept (activations, masks)

    def _graph(self) -> list:
        """The recorded graph behind this result, each node after its inputs; refused when
        there is none or an earlier backward() used it up."""
        if not self.requires_grad:
            raise ScratchMLPError(
                "backward() on an array that was not computed inside autograd.record() "
                "from parameters with attach_grad()"
            )
        order = _topological_order(self)
        if any(node._rules is _SPENT for node in order):
            raise ScratchMLPError("backward() through a graph that an earlier backward() used "
                                  "up; call the first one as backward(retain_graph=True)")
        return order

    def _head(self, out_grad) -> np.ndarray:
        if out_grad is None:
            return np.ones_like(self.data)
        # a copy: the head may end up as a leaf's .grad, which must not alias the caller's
        head = np.array(as_data(out_grad), dtype=self.data.dtype)
        if head.shape != self.shape:
            raise ScratchMLPError(f"backward(out_grad): out_grad has shape {head.shape}, "
                                  f"the array it differentiates has shape {self.shape}")
        return head

    # ---- arithmetic operators: the ops below the class -------------------------------
    def __add__(self, other):
        return add(self, other)

    def __radd__(self, other):
        return add(other, self)

    def __sub__(self, other):
        return subtract(self, other)

    def __rsub__(self, other):
        return subtract(other, self)

    def __mul__(self, other):
        return multiply(self, other)

    def __rmul__(self, other):
        return multiply(other, self)

    def __truediv__(self, other):
        return divide(self, other)

    def __rtruediv__(self, other):
        return divide(other, self)

    def __pow__(self, other):
        return power(self, other)

    def __rpow__(self, other):
        return power(other, self)

    def __matmul__(self, other):
        return matmul(self, other)

    def __rmatmul__(self, other):
        return matmul(other, self)

    def __neg__(self):
        return negative(self)

    def __getitem__(self, key):
        if isinstance(key, tuple):
            return getitem(self, tuple(_index(k) for k in key))
        return getitem(self, _index(key))

    # ---- comparisons: plain boolean Arrays, no gradient ---------------------------------
    def __eq__(self, other):
        return Array(np.equal(self.data, _constant(other)))

    def __ne__(self, other):
        return Array(np.not_equal(self.data, _constant(other)))

    def __lt__(self, other):
        return Array(np.less(self.data, _constant(other)))

    def __le__(self, other):
        return Array(np.less_equal(self.data, _constant(other)))

    def __gt__(self, other):
        return Array(np.greater(self.data, _constant(other)))

    def __ge__(self, other):
        return Array(np.greater_equal(self.data, _constant(other)))

    __hash__ = object.__hash__

    # ---- methods: differentiable ones are the ops below the class ------------------------
    def sum(self, axis=None, keepdims=False, dtype=None) -> "Array":
        return sum(self, axis=axis, keepdims=keepdims, dtype=dtype)

    def mean(self, axis=None, keepdims=False, dtype=None) -> "Array":
        return mean(self, axis=axis, keepdims=keepdims, dtype=dtype)

    def max(self, axis=None, keepdims=False) -> "Array":
        return max(self, axis=axis, keepdims=keepdims)

    def exp(self) -> "Array":
        return exp(self)

    def log(self) -> "Array":
        return log(self)

    def reshape(self, *shape, **kwargs) -> "Array":
        return reshape(self, kwargs.get("shape", shape[0] if len(shape) == 1 else shape))

    def transpose(self, *axes) -> "Array":
        return transpose(self, (axes[0] if len(axes) == 1 else axes) or None)

    @property
    def T(self) -> "Array":  # noqa: N802 - NumPy's name
        return transpose(self)

    def argmax(self, axis=None, keepdims=False) -> "Array":
        return Array(np.argmax(self.data, axis=axis, keepdims=keepdims))

    def argmin(self, axis=None, keepdims=False) -> "Array":
        return Array(np.argmin(self.data, axis=axis, keepdims=keepdims))

    # methods MXNet's ndarray has, over the ops in ops.py (imported here: ops imports this)
    def min(self, axis=None, keepdims=False) -> "Array":
        from .ops import min as minimum_of
        return minimum_of(self, axis=axis, keepdims=keepdims)

    def var(self, axis=None, keepdims=False, ddof=0) -> "Array":
        from .ops import var
        return var(self, axis=axis, keepdims=keepdims, ddof=ddof)

    def std(self, axis=None, keepdims=False, ddof=0) -> "Array":
        from .ops import std
        return std(self, axis=axis, keepdims=keepdims, ddof=ddof)

    def cumsum(self, axis=None, dtype=None) -> "Array":
        from .ops import cumsum
        return cumsum(self, axis=axis, dtype=dtype)

    def clip(self, a_min=None, a_max=None) -> "Array":
        from .ops import clip
        return clip(self, a_min, a_max)

    def squeeze(self, axis=None) -> "Array":
        from .ops import squeeze
        return squeeze(self, axis)

    def flatten(self) -> "Array":
        return reshape(self, (-1,))

    def __abs__(self):
        from .ops import abs as absolute
        return absolute(self)

    # floor division and remainder: integer-valued, no gradient (as the comparisons)
    def __floordiv__(self, other):
        return _wrap(np.asarray(np.floor_divide(self.data, _constant(other))))

    def __rfloordiv__(self, other):
        return _wrap(np.asarray(np.floor_divide(_constant(other), self.data)))

    def __mod__(self, other):
        return _wrap(np.asarray(np.mod(self.data, _constant(other))))

    def __rmod__(self, other):
        return _wrap(np.asarray(np.mod(_constant(other), self.data)))

    def any(self, axis=None) -> "Array":
        return Array(np.any(self.data, axis=axis))

    def all(self, axis=None) -> "Array":
        return Array(np.all(self.data, axis=axis))

    # ---- conversions and shape ------------------------------------------------------
    def __array__(self, dtype=None, copy=None):
        if dtype is not None and dtype != self.data.dtype:
            return self.data.astype(dtype)
        return self.data.copy() if copy else self.data

    def asnumpy(self) -> np.ndarray:
        return self.data.copy()

    def item(self):
        return self.data.item()

    def tolist(self):
        return self.data.tolist()

    def __float__(self):  # any one-element array, e.g. 1x1, as in MXNet
        return float(self.data.item())

    def __int__(self):
        return int(self.data.item())

    def __bool__(self):
        return bool(self.data)

    def __len__(self):
        return len(self.data)

    def __iter__(self):
        for i in range(len(self.data)):
            yield self[i]

    def __str__(self):  # print(x) shows [1. 1.], as MXNet's
        return str(self.data)

    def __format__(self, spec):  # f"{loss:.3f}" of a one-element array formats its number
        if spec and self.data.size == 1:
            return format(self.data.item(), spec)
        return format(str(self), spec)

    def __repr__(self):
        """NumPy's repr, with the dtype shown as MXNet shows it: for every dtype but float32
        (its default) and bool."""
        text = repr(self.data)
        plain = self.data.dtype in (np.float32, np.bool_)
        if "dtype=" in text:
            return text[:text.rindex(",")] + ")" if self.data.dtype == np.float32 else text
        return text if plain else f"{text[:-1]}, dtype={self.data.dtype})"

    def as_in_context(self, context=None) -> "Array":  # one device here: the CPU
        _context.checked(context)
        return self

    as_in_ctx = to_device = as_in_context

    @property
    def ctx(self):
        """The array's device, as MXNet's `x.ctx`: always `cpu(0)` here."""
        return _context.cpu()

    context = device = ctx

    def copyto(self, other):
        """MXNet's copyto: into another array (returned), or to a context (a copy)."""
        if isinstance(other, Array):
            other[:] = self
            return other
        _context.checked(other)
        return self.copy()

    def wait_to_read(self):
        """MXNet waits for its asynchronous engine here; NumPy has already computed."""

    shape = property(lambda self: self.data.shape)
    dtype = property(lambda self: self.data.dtype)
    ndim = property(lambda self: self.data.ndim)
    size = property(lambda self: self.data.size)

    def astype(self, dtype, copy=True) -> "Array":
        """A copy in `dtype`; with `copy=False` this array itself when it is in `dtype` already
        (MXNet's)."""
        if not copy and self.data.dtype == np.dtype(dtype):
            return self
        return Array(self.data.astype(dtype), dtype=dtype)

    def copy(self) -> "Array":
        return Array(self.data.copy(), dtype=self.data.dtype)

    # ---- in-place writes: outside record() only, like MXNet's sgd `param[:] = ...` --
    def _write(self, method, other):
        if is_recording() and self.requires_grad:
            raise ScratchMLPError("in-place change of an array that is being recorded; "
                                  "update parameters outside autograd.record()")
        getattr(self.data, method)(as_data(other))
        return self

    def __setitem__(self, key, value):
        if is_recording() and self.requires_grad:
            raise ScratchMLPError("in-place change of an array that is being recorded; "
                                  "update parameters outside autograd.record()")
        key = tuple(_index(k) for k in key) if isinstance(key, tuple) else _index(key)
        self.data[key] = as_data(value)

    def __iadd__(self, other):
        return self._write("__iadd__", other)

    def __isub__(self, other):
        return self._write("__isub__", other)

    def __imul__(self, other):
        return self._write("__imul__", other)

    def __itruediv__(self, other):
        return self._write("__itruediv__", other)


# ---- the ops behind the operators: each forward beside its gradient rules -----------------
def _same(g):
    return g


@op(arithmetic=True)
def add(a, b):
    return np.add(a, b), (_same, _same)


@op(arithmetic=True)
def subtract(a, b):
    return np.subtract(a, b), (_same, np.negative)


@op(arithmetic=True)
def multiply(a, b):
    return np.multiply(a, b), (lambda g: g * b, lambda g: g * a)


def _whole(x) -> bool:
    """An integer or boolean array or number (float arrays, the common case, answer first)."""
    kind = x.dtype.kind if isinstance(x, (np.ndarray, np.generic)) else None
    return kind in ("b", "i", "u") if kind else isinstance(x, int)


@op(arithmetic=True)
def divide(a, b):
    if _whole(a) and _whole(b):  # MXNet: integers divide into the default float
        a, b = np.asarray(a, dtype=default_dtype()), np.asarray(b, dtype=default_dtype())
    return np.divide(a, b), (lambda g: g / b, lambda g: -g * a / (b * b))


@op
def negative(a):
    return np.negative(a), (np.negative,)


@op(arithmetic=True)
def power(a, b):
    out = np.power(a, b)
    return out, (lambda g: g * b * np.power(a, b - 1), lambda g: g * out * np.log(a))


@op(arithmetic=True)
def matmul(a, b):
    """NumPy's matmul; 1-d operands are promoted and batch dimensions broadcast."""
    a, b = np.asarray(a), np.asarray(b)
    if a.ndim == 0 or b.ndim == 0:
        raise ScratchMLPError("matmul/dot of a scalar: use * instead")
    out = parallel.matmul(a, b)  # 2-d: chunks on threads, bytes independent of their number
    if a.ndim == 1 and b.ndim == 1:
        return out, (lambda g: g * b, lambda g: g * a)
    if b.ndim == 1:  # (..., m, k) @ (k,) -> (..., m)
        return out, (lambda g: g[..., None] * b,
                     lambda g: a.reshape(-1, a.shape[-1]).T @ g.reshape(-1))
    if a.ndim == 1:  # (k,) @ (..., k, n) -> (..., n)
        return out, (lambda g: (b @ g[..., None])[..., 0],
                     lambda g: a[:, None] * g[..., None, :])
    # BLAS reads the transposed views directly: no copies.
    return out, (lambda g: parallel.matmul(g, np.swapaxes(b, -1, -2)),
                 lambda g: parallel.matmul(np.swapaxes(a, -1, -2), g))


@op
def exp(a):
    out = np.exp(a)
    return out, (lambda g: g * out,)


@op
def log(a):
    return np.log(a), (lambda g: g / a,)


# ---- reductions and shape (note: `sum` and `max` shadow the builtins in this module) ----------
def _expand(g, shape, axis, keepdims):
    if axis is not None and not keepdims:
        g = np.expand_dims(g, axis)
    return np.broadcast_to(g, shape)


def _axes(axis):
    """A list of axes as NumPy takes it, a tuple (MXNet takes `A.sum(axis=[0, 1])`)."""
    return tuple(axis) if isinstance(axis, list) else axis


@op
def sum(a, axis=None, keepdims=False, dtype=None):  # noqa: A001 - mirrors numpy's name
    axis = _axes(axis)
    return np.sum(a, axis=axis, keepdims=keepdims, dtype=dtype), (
        lambda g: _expand(g, np.shape(a), axis, keepdims),)


@op
def mean(a, axis=None, keepdims=False, dtype=None):
    axis, shape = _axes(axis), np.shape(a)
    axes = range(len(shape)) if axis is None else np.atleast_1d(axis)
    count = int(np.prod([shape[i] for i in axes]))
    if dtype is None and np.asarray(a).dtype.kind in "biu":  # MXNet: float32, NumPy: float64
        dtype = default_dtype()
    return np.mean(a, axis=axis, keepdims=keepdims, dtype=dtype), (
        lambda g: _expand(g / count, np.shape(a), axis, keepdims),)


@op
def max(a, axis=None, keepdims=False):  # noqa: A001 - mirrors numpy's name
    axis = _axes(axis)
    top = np.max(a, axis=axis, keepdims=True)

    def vjp(g):  # every tie gets the whole gradient, as MXNet's (a mask of a == max)
        if keepdims or axis is None:
            g = _expand(g, top.shape, None, True)
        else:
            g = np.expand_dims(g, axis)
        return (a == top) * g

    return (top if keepdims else np.squeeze(top, axis=axis)), (vjp,)


@op
def reshape(a, shape):
    return np.reshape(a, shape), (lambda g: np.reshape(g, np.shape(a)),)


@op
def transpose(a, axes=None):
    # argsort of the axes inverts the permutation only once negative axes are made positive
    inverse = None if axes is None else np.argsort([i % np.ndim(a) for i in axes])
    return np.transpose(a, axes), (lambda g: np.transpose(g, inverse),)


def _is_advanced(key) -> bool:
    keys = key if isinstance(key, tuple) else (key,)
    return any(isinstance(k, (list, range, np.ndarray)) for k in keys)


@op
def getitem(a, key):
    def vjp(g):
        full = np.zeros_like(a, dtype=g.dtype)
        if _is_advanced(key):
            np.add.at(full, key, g)  # repeated indices add up
        else:
            full[key] = g
        return full

    return a[key], (vjp,)


# ---- the backward pass's helpers -------------------------------------------------------------
def unbroadcast(grad: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum `grad` over the axes NumPy broadcast to reach it from an input of `shape`."""
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra:
        grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad


def _write_grad(leaf: Array, grad: np.ndarray):
    """Overwrite the leaf's `.grad` (the same Array object stays, as MXNet's buffer does)."""
    if isinstance(leaf.grad, Array):
        leaf.grad.data = grad
    else:  # a caller set .grad to something else
        leaf.grad = _wrap(grad)


def _own_copy(grad: np.ndarray, like: np.ndarray, handed_out: set) -> np.ndarray:
    """`grad` itself when no other leaf holds it and it owns writable memory, else a copy."""
    if (grad.flags.owndata and grad.flags.writeable and id(grad) not in handed_out
            and grad.dtype == like.dtype and grad.shape == like.shape):
        handed_out.add(id(grad))
        return grad
    return np.array(np.broadcast_to(grad, like.shape), dtype=like.dtype)


def _topological_order(root: Array) -> list:
    """Nodes of the recorded graph, each after all of its inputs (iterative: deep graphs)."""
    order, seen = [], {id(root)}
    stack = [(root, iter(root._parents))]
    while stack:
        node, parents = stack[-1]
        for parent in parents:
            if parent is not None and id(parent) not in seen:
                seen.add(id(parent))
                stack.append((parent, iter(parent._parents)))
                break
        else:
            stack.pop()
            order.append(node)
    return order
