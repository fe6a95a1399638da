"""MXNet's device contexts, for code written against them: scratchmlp has one device, the CPU.

`npx.cpu()` (and `ctx=npx.cpu()` wherever MXNet takes a context) works; asking for a GPU is one
line saying scratchmlp runs on the CPU only, instead of an AttributeError traceback.
"""

from __future__ import annotations

from ..errors import ScratchMLPError


class Context:
    """A device, as MXNet's `Context`; only `cpu(0)` exists here."""

    def __init__(self, device_type: str = "cpu", device_id: int = 0):
        self.device_type, self.device_id = device_type, device_id

    def __repr__(self):
        return f"{self.device_type}({self.device_id})"

    def __eq__(self, other):
        return isinstance(other, Context) and repr(self) == repr(other)

    def __hash__(self):
        return hash(repr(self))


def cpu(device_id: int = 0) -> Context:
    return Context("cpu", device_id)


def gpu(device_id: int = 0):
    raise ScratchMLPError(f"gpu({device_id}): scratchmlp runs on the CPU only (NumPy); use "
                          "cpu() or leave the context out")


def num_gpus() -> int:
    return 0


def current_context() -> Context:
    return cpu()


def checked(ctx) -> Context:
    """`ctx` when it is the CPU (or None, MXNet's "the current context"), else one line."""
    if ctx is None or ctx == cpu() or ctx == "cpu":
        return cpu()
    if isinstance(ctx, (list, tuple)):
        return [checked(c) for c in ctx][0] if ctx else cpu()
    raise ScratchMLPError(f"context {ctx!r}: scratchmlp runs on the CPU only (NumPy); use "
                          "cpu() or leave the context out")
