"""Files the package writes are written atomically: temp file, fsync, rename.

A crash leaves either the old file or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from .errors import ScratchMLPError


@contextlib.contextmanager
def atomic_open(path, mode: str = "wb"):
    """Open a temp file beside `path`; on success it replaces `path` in one rename.

    A failure to write (no space, no permission, no folder) is a ScratchMLPError naming `path`;
    the temp file is removed and `path` keeps its old content.
    """
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        raise _cannot_write(path, e) from None
    try:
        os.fchmod(fd, _mode_for(path))  # mkstemp makes 0600; give the file its usual mode
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8", "newline": ""})) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError):
            raise _cannot_write(path, e) from None
        raise
    _fsync_dir(path.parent)


def _cannot_write(path: Path, error: OSError) -> ScratchMLPError:
    return ScratchMLPError(f"{path}: cannot write ({error.strerror or error}); check that the "
                           "folder exists, is writable and has free space")


def _mode_for(path: Path) -> int:
    """The existing file's mode, or what a plain open() would give under the umask."""
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _fsync_dir(directory: Path):
    with contextlib.suppress(OSError):  # not every filesystem lets a directory be fsynced
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write_bytes(path, data: bytes):
    with atomic_open(path, "wb") as f:
        f.write(data)


def atomic_write_text(path, text: str):
    with atomic_open(path, "w") as f:
        f.write(text)


def read_json(path, what: str):
    """The JSON value in `path`, or a one-line error naming it as `what` ("config",
    "search space")."""
    import json
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ScratchMLPError(f"{path}: no such {what} file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ScratchMLPError(f"{path}: not a readable JSON {what} ({e})") from None
