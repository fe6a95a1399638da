"""The `scratchmlp` command: argument parsing, progress, messages and exit codes.

Each subcommand lives in its own module with `register(subparsers)`; heavy imports (NumPy
work, matplotlib, optuna) happen inside the commands, so `scratchmlp --help` stays instant.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = ("train", "evaluate", "predict", "export")  # modules of this package, in help order

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
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
        return args.func(args) or 0
    except ScratchMLPError as e:
        print(f"scratchmlp: error: {e}", file=sys.stderr)
        return EXIT_INTERRUPTED if type(e).__name__ == "Interrupted" else EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("scratchmlp: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def run():  # console-script entry point
    sys.exit(main())
