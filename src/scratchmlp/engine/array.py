"""The array type with `.grad`, the recording switch, and the backward pass.

An `Array` wraps a NumPy ndarray (`.data`). Results of differentiable ops made while
`record()` is on, from inputs that need a gradient, remember their inputs and the
vector-Jacobian products (VJPs) that send a gradient back to each one. `backward()` walks
that graph once in reverse topological order. Semantics follow MXNet's: a non-scalar result
is summed (head gradient of ones) and every `backward()` overwrites `.grad`.
"""

from __future__ import annotations

import contextlib
import threading

import numpy as np

from ..errors import ScratchMLPError

_state = threading.local()
_default_dtype = [np.dtype(np.float32)]  # MXNet's default; float64 on request (gradient checks)


def is_recording() -> bool:
    return getattr(_state, "recording", False)


@contextlib.contextmanager
def record():
    """Record the ops in this block so that `backward()` can differentiate them."""
    previous = is_recording()
    _state.recording = True
    try:
        yield
    finally:
        _state.recording = previous


@contextlib.contextmanager
def pause():
    """Stop recording inside a `record()` block (e.g. to compute a metric)."""
    previous = is_recording()
    _state.recording = False
    try:
        yield
    finally:
        _state.recording = previous


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


class Array:
    """An n-dimensional array that can take part in reverse-mode differentiation."""

    __slots__ = ("data", "grad", "_grad_attached", "_parents", "_vjps", "__weakref__")
    __array_ufunc__ = None  # make `ndarray + Array` call Array.__radd__ instead of NumPy

    def __init__(self, data, dtype=None):
        self.data = as_data(data, dtype)
        self.grad = None
        self._grad_attached = False
        self._parents = ()  # inputs this result was computed from (only while recording)
        self._vjps = ()  # one gradient rule per parent

    # ---- autograd -----------------------------------------------------------------
    def attach_grad(self):
        """Allocate `.grad` and mark this array as a leaf whose gradient backward() writes."""
        self.grad = np.zeros_like(self.data)
        self._grad_attached = True
        self._parents, self._vjps = (), ()

    @property
    def requires_grad(self) -> bool:
        return self._grad_attached or bool(self._parents)

    def detach(self) -> "Array":
        return Array(self.data, dtype=self.data.dtype)

    def backward(self, out_grad=None):
        """Differentiate this result with respect to every leaf that has `attach_grad()`."""
        if not self.requires_grad:
            raise ScratchMLPError(
                "backward() on an array that was not computed inside autograd.record() "
                "from parameters with attach_grad()"
            )
        if out_grad is None:
            head = np.ones_like(self.data)
        else:  # a copy: the head may end up as a leaf's .grad, which must not alias the caller's
            head = np.array(as_data(out_grad), dtype=self.data.dtype)
            if head.shape != self.shape:
                raise ScratchMLPError(f"backward(out_grad): out_grad has shape {head.shape}, "
                                      f"the array it differentiates has shape {self.shape}")
        grads, handed_out = {id(self): head}, set()
        for node in reversed(_topological_order(self)):
            grad = grads.pop(id(node), None)
            if grad is None:
                continue
            if node._grad_attached:
                node.grad = _own_copy(grad, node.data, handed_out)
            for parent, vjp in zip(node._parents, node._vjps):
                if parent is None:
                    continue
                parent_grad = vjp(grad)
                if parent_grad.shape != parent.data.shape:  # the op broadcast this input
                    parent_grad = unbroadcast(parent_grad, parent.data.shape)
                key = id(parent)
                grads[key] = parent_grad if key not in grads else grads[key] + parent_grad

    # ---- conversions and shape ------------------------------------------------------
    def __array__(self, dtype=None, copy=None):
        if dtype is not None and dtype != self.data.dtype:
            return self.data.astype(dtype)
        return self.data.copy() if copy else self.data

    def asnumpy(self) -> np.ndarray:
        return self.data.copy()

    def item(self):
        return self.data.item()

    def __float__(self):
        return float(self.data)

    def __int__(self):
        return int(self.data)

    def __bool__(self):
        return bool(self.data)

    def __len__(self):
        return len(self.data)

    def __iter__(self):
        for i in range(len(self.data)):
            yield self[i]

    def __repr__(self):
        body = np.array2string(self.data, separator=", ", prefix="array(")
        return f"array({body}, dtype={self.data.dtype})"

    shape = property(lambda self: self.data.shape)
    dtype = property(lambda self: self.data.dtype)
    ndim = property(lambda self: self.data.ndim)
    size = property(lambda self: self.data.size)

    def astype(self, dtype) -> "Array":
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
        self.data[key] = as_data(value)

    def __iadd__(self, other):
        return self._write("__iadd__", other)

    def __isub__(self, other):
        return self._write("__isub__", other)

    def __imul__(self, other):
        return self._write("__imul__", other)

    def __itruediv__(self, other):
        return self._write("__itruediv__", other)


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
