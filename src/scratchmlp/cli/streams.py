"""Standard output that behaves as a Unix tool's: no traceback when the reader goes away.

`scratchmlp evaluate RUN | head -2` closes the pipe after two lines; `> /dev/full` fails every
write. Python would raise BrokenPipeError/OSError from whichever print came next (possibly
inside a training callback), and again at interpreter exit ("Exception ignored ..."). While a
command runs, sys.stdout is a `GuardedOutput`: the first failed write is remembered, the file
descriptor is pointed at /dev/null (so the interpreter's last flush succeeds), and further
output is dropped. Training polls `output_failed()` through its stop flag and stops after the
current step with its finished epochs saved; `main` turns the failure into an exit status.

Characters the output encoding cannot hold (PYTHONIOENCODING=ascii, a latin-1 terminal, a file
name with undecodable bytes) are written as backslash escapes instead of raising
UnicodeEncodeError.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys

EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: what a Unix tool's shell reports for `... | head`

_guard = None  # the GuardedOutput of the command now running, if any


class GuardedOutput:
    """A text stream wrapper whose writes never raise OSError; see the module's docstring."""

    def __init__(self, stream):
        self._stream = stream
        self.error = None  # the OSError of the first failed write or flush

    def write(self, text):
        if self.error is None:
            try:
                return self._stream.write(text)
            except OSError as e:
                self._failed(e)
        return len(text)

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def flush(self):
        if self.error is None:
            try:
                self._stream.flush()
            except OSError as e:
                self._failed(e)

    def __getattr__(self, name):  # isatty, fileno, encoding, ...: the real stream's
        return getattr(self._stream, name)

    @property
    def reader_gone(self) -> bool:
        return isinstance(self.error, BrokenPipeError)

    def _failed(self, error: OSError):
        self.error = error
        with contextlib.suppress(OSError, AttributeError, ValueError):
            fd = self._stream.fileno()
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, fd)  # the buffered rest now drains into /dev/null, silently
            os.close(devnull)

    def failure_message(self) -> str:
        reason = self.error.strerror or errno.errorcode.get(self.error.errno) or str(self.error)
        return f"cannot write to standard output ({reason}); the output of this command is lost"


def output_failed() -> bool:
    """True once standard output could not be written (reader gone, disk full): stop soon."""
    return _guard is not None and _guard.error is not None


@contextlib.contextmanager
def guarded_output():
    """sys.stdout guarded for the duration; unencodable characters escaped on both streams."""
    global _guard
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError, ValueError, OSError):
            stream.reconfigure(errors="backslashreplace")
    previous_out, previous_err = sys.stdout, sys.stderr
    if sys.stderr is None:  # started with stderr closed (2>&-): messages go nowhere, quietly
        sys.stderr = open(os.devnull, "w", encoding="utf-8")
    closed = sys.stdout is None  # started with stdout closed (>&-): no output can be seen
    _guard = sys.stdout = GuardedOutput(
        open(os.devnull, "w", encoding="utf-8") if closed else sys.stdout)
    if closed:
        _guard.error = OSError(errno.EBADF, "it is closed")
    sys.stderr = GuardedOutput(sys.stderr)  # a full or closed stderr only loses messages
    try:
        yield _guard
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        sys.stdout, sys.stderr = previous_out, previous_err
        _guard = None
