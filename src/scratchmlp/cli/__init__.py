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
        self.exit(EXIT_USER_ERROR, f"scratchmlp: error: {message}; see '{self.prog} --help'\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="scratchmlp",
        description="Multilayer perceptrons from scratch on NumPy: the d2l chapter "
                    "'Implementation of Multilayer Perceptron from Scratch', end to end.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"{__name__}.{name}").register(subparsers)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("scratchmlp")
    except PackageNotFoundError:
        return "unknown"


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USER_ERROR
    from ..errors import ScratchMLPError
    try:
        with _terminate_as_interrupt():
            return args.func(args) or 0
    except ScratchMLPError as e:
        code = getattr(e, "exit_code", EXIT_USER_ERROR)
        kind = "" if code == EXIT_INTERRUPTED else "error: "  # an interrupt is no mistake
        print(f"scratchmlp: {kind}{_one_line(e)}", file=sys.stderr)
        return code
    except KeyboardInterrupt:
        print("scratchmlp: interrupted (finished epochs of a run are saved; continue it with "
              "scratchmlp train --resume RUN)", file=sys.stderr)
        return EXIT_INTERRUPTED


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


def _one_line(error) -> str:
    return " ".join(str(error).split("\n"))


def run():  # console-script entry point
    sys.exit(main())
