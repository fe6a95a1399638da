"""The `scratchmlp` command: argument parsing, progress, messages and exit codes.

Each subcommand lives in its own module with `register(subparsers)`; heavy imports (NumPy
work, matplotlib, optuna) happen inside the commands, so `scratchmlp --help` stays instant.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import signal
import sys

COMMANDS = ("train", "evaluate", "predict", "export", "explore",
            "sweep", "runs", "compare")  # modules of this package, in help order

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


class _Parser(argparse.ArgumentParser):
    """argparse with our error format: one line, `scratchmlp: error: ...`, exit 2."""

    def error(self, message):
        self.exit(EXIT_USER_ERROR, f"scratchmlp: error: {_one_line(message)}{_nearest(message)}; "
                                   f"see '{self.prog} --help'\n")


def _nearest(message) -> str:
    """' (did you mean train?)' after argparse's "invalid choice: 'trian' (choose from ...)"."""
    import difflib
    import re
    found = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", str(message))
    if not found:
        return ""
    near = difflib.get_close_matches(found[1], re.findall(r"'([^']*)'", found[2]), n=1,
                                    cutoff=0.7)
    return f" (did you mean {near[0]}?)" if near else ""


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="scratchmlp",
        description="Multilayer perceptrons from scratch on NumPy: the d2l chapter "
                    "'Implementation of Multilayer Perceptron from Scratch', end to end.",
        epilog="Start with 'scratchmlp train' (the chapter's run); 'scratchmlp COMMAND --help' "
               "lists a command's flags and their defaults.")
    parser.add_argument("--version", action=_Version, nargs=0, default=argparse.SUPPRESS,
                        help="show the program's version number and exit")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"{__name__}.{name}").register(subparsers)
    parser.commands = subparsers.choices  # name -> the subcommand's parser
    return parser


def _refuse_unknown(parser, args, extras):
    """Arguments no parser took, refused by the subcommand they were given to (so the advice
    is its --help), with the nearest flag it has when a flag was mistyped."""
    import difflib
    command = parser.commands.get(getattr(args, "command", None), parser)
    flags = [flag for action in command._actions for flag in action.option_strings
             if flag not in ("-h", "--help")]
    typed = next((e.split("=")[0] for e in extras if e.startswith("--")), None)
    near = difflib.get_close_matches(typed, flags, n=1, cutoff=0.7) if typed else []
    hint = f" (did you mean {near[0]}?)" if near else ""
    command.error(f"unrecognized arguments: {' '.join(extras)}{hint}")


class _Version(argparse.Action):
    """--version, looked up only when asked: importlib.metadata would cost every --help
    about 40 ms (a third of its budget)."""

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"{parser.prog} {_version()}")
        parser.exit()


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("scratchmlp")
    except PackageNotFoundError:
        return "unknown"


def main(argv=None) -> int:
    from .streams import guarded_output
    _quiet_drawing_library()
    with guarded_output() as stdout:
        parser = build_parser()
        try:
            args, extras = parser.parse_known_args(argv)
            if extras:
                _refuse_unknown(parser, args, extras)
        except SystemExit as e:  # --help or --version printed (0), or a usage error (2)
            stdout.flush()  # `--version > /dev/full` exited 0 with its output lost
            if e.code not in (0, None) or stdout.error is None or stdout.reader_gone:
                raise  # `--help | head` stays a quiet 0
            code, message = _output_failure(stdout, 0, None)
            if message:
                print(message, file=sys.stderr)
            return code
        if not getattr(args, "func", None):
            parser.print_help()
            return EXIT_USER_ERROR
        code, message = _run(args)
        stdout.flush()  # a failure to write the last lines counts too
        if stdout.error is not None:
            code, message = _output_failure(stdout, code, message)
        if message:
            print(message, file=sys.stderr)
        return code


def _quiet_drawing_library():
    """matplotlib's notes are not ours to print: a title holding a file name in a script its
    fonts lack (a run folder named in Chinese) gave a two-line UserWarning per glyph, an unwritable
    MPLCONFIGDIR a paragraph; the pictures are drawn all the same (missing glyphs as boxes)."""
    import logging
    import warnings
    warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from font")
    logging.getLogger("matplotlib").setLevel(logging.ERROR)


def _run(args):
    """(exit status, the line for stderr or None) of the chosen command."""
    from ..errors import ScratchMLPError
    try:
        with _terminate_as_interrupt():
            return args.func(args) or 0, None
    except ScratchMLPError as e:
        code = getattr(e, "exit_code", EXIT_USER_ERROR)
        kind = "" if code == EXIT_INTERRUPTED else "error: "  # an interrupt is no mistake
        return code, f"scratchmlp: {kind}{_one_line(e)}"
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED, f"scratchmlp: interrupted{INTERRUPTED.get(args.command, '')}"
    except MemoryError as e:  # a ulimit, or memory other processes hold: was a traceback
        from ..errors import OutOfMemory
        return EXIT_USER_ERROR, (f"scratchmlp: error: {_one_line(OutOfMemory(e))}; free "
                                 "memory, or ask for less (smaller --hidden, --batch-size, "
                                 "fewer images)")
    except OSError as e:
        if e.filename is None:  # not about a file the user named: a bug, keep its traceback
            raise
        # A file system's refusal no check foresaw (a name too long, a loop of links, ...).
        reason = f"{e.filename}: cannot use it ({e.strerror or e}); check the path"
        return EXIT_USER_ERROR, f"scratchmlp: error: {_one_line(reason)}"


# What a Ctrl-C/SIGTERM outside training's own handler leaves behind, per command.
INTERRUPTED = {
    "train": " (finished epochs of a run are saved; continue it with "
             "scratchmlp train --resume RUN)",
    "explore": " (finished points and epochs are saved; run the same command again to "
               "continue)",
    "sweep": " (finished trials are stored; run the same command again to continue)",
}


def _output_failure(stdout, code, message):
    """Standard output failed: a reader that went away is a quiet exit 141 (as `yes | head`),
    other write errors one line and exit 2. A stopped run still says what it saved."""
    from .streams import EXIT_BROKEN_PIPE
    stopped = code == EXIT_INTERRUPTED and message  # training stopped because of it
    rest = (message or "").removeprefix("scratchmlp: ")
    if stdout.reader_gone:
        if stopped:
            return EXIT_BROKEN_PIPE, f"scratchmlp: standard output closed; {rest}"
        return (code if code not in (0, EXIT_INTERRUPTED) else EXIT_BROKEN_PIPE), message
    error = f"scratchmlp: error: {stdout.failure_message()}"
    if stopped:
        return EXIT_USER_ERROR, f"{error}; {rest}"
    return (code if code not in (0, EXIT_INTERRUPTED) else EXIT_USER_ERROR), message or error


@contextlib.contextmanager
def _terminate_as_interrupt():
    """SIGTERM (a `kill`, a batch system's time limit) ends a command as Ctrl-C does: with one
    line and exit 130, not silently, even before training's own handler is installed."""
    def interrupt(signum, frame):
        raise KeyboardInterrupt
    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


MAX_MESSAGE = 1000  # characters of one message; the rest of a pasted 200 KB value is elided


def _one_line(error) -> str:
    """A message as one readable line: newlines become spaces, other control characters
    (a file name holding ESC could drive the terminal) are escaped, and a message made
    enormous by the value it quotes keeps its start and its end."""
    text = " ".join(str(error).split("\n"))
    text = "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in text)
    if len(text) > MAX_MESSAGE:
        cut = len(text) - MAX_MESSAGE + 200
        text = f"{text[:600]} ...({cut:,} characters left out)... {text[-(MAX_MESSAGE - 800):]}"
    return text


def run():  # console-script entry point
    """main(), and a Ctrl-C before the command's own handling begins (while Python and the
    parser start, about 0.3 s) is the same one line and exit 130, not a KeyboardInterrupt
    traceback: nothing has been written yet."""
    try:
        code = main()
    except KeyboardInterrupt:
        with contextlib.suppress(OSError, ValueError):
            print("scratchmlp: interrupted", file=sys.stderr)
        code = EXIT_INTERRUPTED
    sys.exit(code)
