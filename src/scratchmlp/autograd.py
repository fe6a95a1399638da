"""`from scratchmlp import autograd`: MXNet's recording and training-mode switches, and `grad`."""

from __future__ import annotations

import numpy as np

from .engine.array import (  # noqa: F401 - the names MXNet's autograd has
    Array, is_recording, is_training, pause, predict_mode, record, set_recording, set_training,
    train_mode,
)
from .errors import ScratchMLPError


def grad(heads, variables, head_grads=None, retain_graph=None, create_graph=False,
         train_mode=True):
    """The gradients of `heads` with respect to `variables` (each with `attach_grad()`),
    returned as a list; the variables' `.grad` are left as they were. One head only."""
    if create_graph:
        raise ScratchMLPError("autograd.grad(create_graph=True): higher-order gradients are "
                              "not supported")
    single = isinstance(variables, Array)
    variables = [variables] if single else list(variables)
    if isinstance(heads, (list, tuple)):
        if len(heads) != 1:
            raise ScratchMLPError(f"autograd.grad takes one head, got {len(heads)}")
        heads, head_grads = heads[0], head_grads[0] if head_grads else None
    if any(v.grad is None for v in variables):
        raise ScratchMLPError("autograd.grad: call attach_grad() on every variable first")
    saved = [v.grad.data for v in variables]
    for v in variables:  # from zero: a variable with grad_req "add" would add to its .grad
        v.grad.data = np.zeros_like(v.data)
    try:
        heads.backward(head_grads, retain_graph=bool(retain_graph))
        grads = [Array(v.grad.data.copy(), dtype=v.dtype) for v in variables]
    finally:
        for v, data in zip(variables, saved):
            v.grad.data = data
    return grads[0] if single else grads


def __getattr__(name):  # an MXNet name we lack: one line (errors.NotProvided), not a traceback
    from .errors import missing_name
    raise missing_name("autograd", name)


def backward(heads, head_grads=None, retain_graph=False, train_mode=True):
    """MXNet's autograd.backward: the gradients of all `heads` together (the sum of each
    head times its head gradient, ones by default) into the variables' `.grad`."""
    if isinstance(heads, Array):
        return heads.backward(head_grads, retain_graph=retain_graph)
    heads = list(heads)
    head_grads = [None] * len(heads) if head_grads is None else list(head_grads)
    if len(head_grads) != len(heads):
        raise ScratchMLPError(f"autograd.backward: {len(heads)} heads but {len(head_grads)} "
                              "head gradients")
    with record():
        total = None
        for head, grad in zip(heads, head_grads):
            term = (head if grad is None else head * grad).sum()
            total = term if total is None else total + term
    total.backward(retain_graph=retain_graph)
