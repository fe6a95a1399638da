"""Arrays with reverse-mode autograd on NumPy: `Array`, `record()`, and the op table."""

from .array import Array, default_dtype, is_recording, pause, record, use_dtype  # noqa: F401
from . import ops  # noqa: F401 - engine.ops: the whole op table
