"""`scratchmlp evaluate RUN`: the saved model's test accuracy."""

from __future__ import annotations

from .common import add_data_flag, load_data, run_model_path

HELP = "print the test accuracy of a trained run"


def register(subparsers):
    p = subparsers.add_parser("evaluate", help=HELP, description=HELP)
    p.add_argument("run", metavar="RUN", help="run folder (or its model.npz)")
    add_data_flag(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..train.run import evaluate_run
    path = run_model_path(args.run)
    accuracy = evaluate_run(path, load_data(args))
    print(f"test accuracy {accuracy:.4f}")
    return 0
