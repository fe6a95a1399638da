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
    if path.exists() and not path.is_file():  # a rename would replace a pipe or a device
        raise ScratchMLPError(f"{path}: exists and is not a regular file; give another name")
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


def remove_temp_files(path):
    """Remove the temp files atomic_open left beside `path` in writes that never finished (a
    SIGKILL between temp file and rename): `.NAME.RANDOM.tmp`. Only for a writer that knows no
    other process writes `path` now: that one's temp would go and its write fail."""
    import glob
    path = Path(path)
    with contextlib.suppress(OSError):
        for leftover in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
            with contextlib.suppress(OSError):
                leftover.unlink()


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


def write_csv(path, fields: list, rows: list, float_format: str | None = ".6f"):
    """The one CSV writer: `rows` (dicts) under the header `fields`, written atomically. Keys
    outside `fields` are left out, a missing or None value is an empty cell, and a float is
    written with `float_format` (None: as Python prints it)."""
    import csv
    import io

    def cell(value):
        if value is None:
            return ""
        if isinstance(value, float) and float_format is not None:
            return format(value, float_format)
        return value

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(fields)
    writer.writerows([cell(row.get(name)) for name in fields] for row in rows)
    atomic_write_text(path, buffer.getvalue())


MAX_JSON_BYTES = 1 << 20  # a config or search space is a few hundred bytes; 1 MiB is plenty
_MAX_DIGITS = 100  # digits of one JSON number: no setting needs more
_MAX_TEXT = 1000  # characters of one JSON string or key: settings are short names, and an
#                   echoed name must keep a message readable


def read_json(path, what: str):
    """The JSON value in `path`, or a one-line error naming it as `what` ("config",
    "search space"). The file is untrusted: see parse_json."""
    path = Path(path)
    return parse_json(read_small_file(path, what, MAX_JSON_BYTES), f"{path}", f"JSON {what}")


def open_regular(path, directory: str, give: str):
    """(open binary file, its stat) for a regular file only: a folder is refused with
    `directory` ("is a folder, not a config file"), a FIFO or device with `give` ("give a
    config file") and is never opened in a way that blocks; a file swapped for another kind
    between the look and the open is refused too. OSErrors (no such file, ...) pass through."""
    import stat
    st = os.stat(path)
    if stat.S_ISDIR(st.st_mode):
        raise ScratchMLPError(f"{path}: {directory}")
    if not stat.S_ISREG(st.st_mode):
        raise ScratchMLPError(f"{path}: not a regular file (a pipe or device?); {give}")
    f = os.fdopen(os.open(path, os.O_RDONLY | os.O_NONBLOCK), "rb")
    if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):  # swapped after the stat
        f.close()
        raise ScratchMLPError(f"{path}: not a regular file; {give}")
    return f, st


def read_small_file(path: Path, what: str, limit: int) -> bytes:
    """The bytes of a regular file of at most `limit` bytes (a FIFO or device never blocks)."""
    try:
        f, st = open_regular(path, f"is a folder, not a {what} file", f"give a {what} file")
        with f:
            if st.st_size > limit:
                raise ScratchMLPError(f"{path}: {st.st_size:,} bytes, more than a {what} file "
                                      f"holds (at most {limit:,})")
            data = f.read(limit + 1)
    except FileNotFoundError:
        raise ScratchMLPError(f"{path}: no such {what} file") from None
    except OSError as e:
        raise ScratchMLPError(f"{path}: cannot read the {what} file "
                              f"({e.strerror or e})") from None
    if len(data) > limit:  # it grew after the stat
        raise ScratchMLPError(f"{path}: more than {limit:,} bytes, more than a {what} "
                              "file holds")
    return data


def parse_json(data, source: str, what: str = "JSON"):
    """JSON text (str or UTF-8 bytes) as Python values, refusing what json.loads lets through
    or chokes on: duplicate keys (json keeps the last), NaN/Infinity and numbers that overflow
    to inf, integers of more than 100 digits, nesting too deep to parse. One line each."""
    import json

    def refuse(reason):
        raise ScratchMLPError(f"{source}: not a readable {what} ({reason})") from None

    try:
        text = data.decode("utf-8-sig") if isinstance(data, (bytes, bytearray)) else str(data)
        value = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant,
                           parse_int=_bounded_int, parse_float=_finite_float)
        _check_texts(value)
        return value
    except _JSONRefusal as e:
        refuse(e.args[0])
    except RecursionError:
        refuse("nested too deeply")
    except UnicodeDecodeError as e:
        refuse(f"not UTF-8 text: byte {e.start}")
    except json.JSONDecodeError as e:
        refuse(f"{e.msg}: line {e.lineno} column {e.colno}")
    except (ValueError, OverflowError, MemoryError) as e:  # json's own limits
        refuse(f"{type(e).__name__}: {str(e)[:100]}")


class _JSONRefusal(Exception):
    pass


def short(text, limit: int = 40) -> str:
    """repr(text), cut to about `limit` characters: names from untrusted files in messages."""
    text = str(text)
    return repr(text) if len(text) <= limit else repr(text[:limit]) + f"... ({len(text):,} chars)"


def _unique_keys(pairs):
    seen = {}
    for key, value in pairs:
        if key in seen:
            raise _JSONRefusal(f"the key {short(key)} appears twice")
        seen[key] = value
    return seen


def _check_texts(value):
    """Every string in `value` (keys included) is at most _MAX_TEXT characters; no recursion."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str) and len(item) > _MAX_TEXT:
            raise _JSONRefusal(f"a text of {len(item):,} characters, {item[:20]!r}...")


def _no_constant(name):
    raise _JSONRefusal(f"{name} is not a number JSON allows")


def _bounded_int(digits: str):
    if len(digits.lstrip("-")) > _MAX_DIGITS:
        raise _JSONRefusal(f"a number of {len(digits):,} digits")
    return int(digits)


def _finite_float(text: str):
    import math
    if len(text) > 4 * _MAX_DIGITS:
        raise _JSONRefusal(f"a number of {len(text):,} characters")
    value = float(text)
    if not math.isfinite(value):
        raise _JSONRefusal(f"{short(text, 20)} overflows to infinity")
    return value
