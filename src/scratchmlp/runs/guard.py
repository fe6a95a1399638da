"""No command writes over a file it reads, nor over a run's own files.

`check_output` is asked before a command writes anything (an ONNX file, a picture); it
compares the target with every input by identity on disk (same device and inode, so links,
`..` and symlinks cannot hide a match) and refuses the names a run folder keeps its state in,
in any folder that is a run folder.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import ScratchMLPError
from .folder import CORE_FILES, LOCK_NAME

_RUN_MARKERS = CORE_FILES + (LOCK_NAME,)


class OutputRefused(ScratchMLPError):
    """The output would replace an input or a run's own file; `kind` is "input" or "run_file"."""

    def __init__(self, path, kind: str, message: str):
        self.path, self.kind = Path(path), kind
        super().__init__(f"{path}: {message}")


def check_output(path, reads=()):
    """Refuse `path` as an output if it is one of `reads` or a run folder's state file."""
    path = Path(path)
    target = _identity(path)
    for source in reads:
        if target is not None and target == _identity(Path(source)):
            raise OutputRefused(path, "input", f"is the file this command reads ({source}); "
                                "writing there would destroy it")
    folder = _real_parent(path)
    if path.name in _RUN_MARKERS and folder is not None and _is_run_folder(folder):
        raise OutputRefused(path, "run_file", f"is {path.name} of the run folder "
                            f"{path.parent}; only training that run writes it")
    if path.is_symlink() and target is not None:
        real = Path(os.path.realpath(path))
        if real.name in _RUN_MARKERS and _is_run_folder(real.parent):
            raise OutputRefused(path, "run_file", f"links to {real}, a run folder's own file; "
                                "only training that run writes it")


def _identity(path: Path):
    try:
        st = path.stat()
    except (OSError, ValueError):
        return None
    return st.st_dev, st.st_ino


def _real_parent(path: Path):
    try:
        return Path(os.path.realpath(path.parent if str(path.parent) else "."))
    except (OSError, ValueError):
        return None


def _is_run_folder(folder: Path) -> bool:
    try:
        return any((folder / name).exists() for name in _RUN_MARKERS)
    except (OSError, ValueError):
        return False
