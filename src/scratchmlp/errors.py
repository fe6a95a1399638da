"""The one exception type for mistakes a user can make (bad data, bad flags, bad files).

The CLI turns it into one line and a non-zero exit; anything else is a bug and may show a traceback.
"""


class ScratchMLPError(Exception):
    """A problem the user can fix; the message names the thing and the fix."""


class OutOfMemory(ScratchMLPError):
    """The process ran out of memory (an allocation failed: a ulimit, or memory other
    processes hold); the message says what was being allocated."""

    def __init__(self, error: MemoryError):
        detail = " ".join(str(error).split())[:160] or "an allocation failed"
        super().__init__(f"out of memory ({detail})")


def lookup(table: dict, name, what: str):
    """`table[name]`, or a ScratchMLPError listing the choices (activations, optimisers, ...)."""
    try:
        return table[name]
    except (KeyError, TypeError):
        raise ScratchMLPError(f"unknown {what} {name!r}; "
                              f"choose one of {', '.join(table)}") from None


class NotProvided(ScratchMLPError, AttributeError):
    """An MXNet or d2l name that scratchmlp's MXNet-like modules do not have: one line, and
    still an AttributeError, so hasattr() and getattr(obj, name, default) keep working."""


def missing_name(module: str, name: str) -> AttributeError:
    """What an MXNet-like module's `__getattr__` raises for a name it lacks."""
    if name.startswith("__"):  # Python's own probes (__path__, __wrapped__, ...)
        return AttributeError(f"module {module!r} has no attribute {name!r}")
    return NotProvided(f"{module}.{name} is not provided: scratchmlp's MXNet-like modules "
                       "cover what d2l's chapters use (docs/mxnet-to-scratchmlp.md)")
