"""`from scratchmlp import autograd`: `record()`, `pause()`, `is_recording()` as in MXNet."""

from .engine.array import is_recording, pause, record  # noqa: F401
