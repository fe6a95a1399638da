"""`scratchmlp compare RUN RUN...`: the runs' curves on one picture and a table of the
settings in which their configs differ, with their epochs and final metrics.

A run folder that cannot be read is named on stderr with the reason and left out.
"""

from __future__ import annotations

HELP = "compare runs: their curves on one plot, the settings they differ in as a table"

FIELDS = ("hidden", "activation", "init", "optimizer", "lr", "momentum", "weight_decay",
          "dropout", "schedule", "augment", "batch_size", "epochs", "seed", "validation",
          "subset")


def register(subparsers):
    p = subparsers.add_parser("compare", help=HELP, description=(
        "Draw the runs' training loss and test/validation accuracy per epoch on one picture, "
        "and print the settings in which their configs differ, with epochs done and final "
        "metrics. A run folder that cannot be read is named on stderr and left out."))
    from .common import path_text
    p.add_argument("runs", metavar="RUN", nargs="+", type=path_text,
                   help="two or more run folders")
    p.add_argument("--out", metavar="PNG", type=path_text,
                   help="where to draw the curves (default compare.png)")
    p.add_argument("--no-plot", action="store_true", help="print the table only")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object (runs, differences, picture) instead of the table")
    p.set_defaults(func=run)


def run(args) -> int:
    import sys

    from ..errors import ScratchMLPError
    from .runs import BadRun, printable, read_run
    if args.out is not None and args.no_plot:  # the --out was ignored
        raise ScratchMLPError("--out and --no-plot contradict each other: choose one")
    entries = []
    for folder in args.runs:
        try:
            entries.append(read_run(folder))
        except BadRun as e:
            print(f"scratchmlp: note: {printable(folder)}: left out: {printable(e)}",
                  file=sys.stderr)
    if len(entries) < 2:
        raise ScratchMLPError(f"{len(entries)} readable run folder(s) of {len(args.runs)}: "
                              "compare needs two or more")
    out = args.out or "compare.png"
    picture = None if args.no_plot else _draw(entries, _output(out, entries))
    if args.json:
        return _print_json(entries, picture)
    print(difference_table(entries))
    if picture:
        print(f"curves -> {picture}")
    return 0


def differences(entries: list) -> dict:
    """field -> its value in each run, for the fields in which the runs differ."""
    values = {name: [e["config"].to_dict()[name] for e in entries] for name in FIELDS}
    return {name: vs for name, vs in values.items() if any(v != vs[0] for v in vs)}


def difference_table(entries: list) -> str:
    from .runs import format_number, printable
    from .train import readable
    names = [printable(e["run"], 40) for e in entries]
    rows = [[name.replace("_", " ")] + [readable(v) for v in vs]
            for name, vs in differences(entries).items()]
    if not rows:
        rows.append(["settings", *["same" for _ in entries]])
    rows.append(["epochs done"] + [f"{e['epochs_done']}/{e['epochs']} {e['state']}"
                                   for e in entries])
    for key, label in (("train_loss", "train loss"), ("val_acc", "val acc"),
                       ("test_acc", "test acc")):
        if any(e["rows"] and key in e["rows"][-1] for e in entries):
            rows.append([label] + [format_number(e["rows"][-1].get(key)) if e["rows"] else "-"
                                   for e in entries])
    from ..report.table import text_table
    return text_table(["", *names], rows)


def _output(out, entries):
    """--out as a picture's path, unless it would replace a file the command reads (a run's
    config.json, metrics.csv) or any file of a run being compared."""
    import os

    from ..errors import ScratchMLPError
    from ..runs import PICTURES, check_output
    from ..runs.guard import OutputRefused
    from .common import picture_path
    path = picture_path(out)
    try:
        check_output(path, reads=[f"{e['run']}/{name}" for e in entries
                                  for name in ("config.json", "metrics.csv")])
    except OutputRefused as e:
        raise ScratchMLPError(f"{e}; choose another --out") from None
    target = os.path.realpath(path)
    for e in entries:
        if os.path.dirname(target) == os.path.realpath(e["run"]) and \
                os.path.basename(target) in PICTURES:
            raise ScratchMLPError(f"{out}: is a picture of the run {e['run']}; choose "
                                  "another --out")
    return path


def _draw(entries, out):
    from pathlib import Path

    from ..errors import ScratchMLPError
    from ..report.compare import plot_comparison
    series = [(e["run"], e["rows"]) for e in entries]
    try:
        return plot_comparison(series, Path(out))
    except OSError as e:
        raise ScratchMLPError(f"{out}: cannot write the picture ({e.strerror or e}); choose "
                              "another --out or --no-plot") from None


def _print_json(entries, picture) -> int:
    import json

    from .runs import as_json
    print(json.dumps({"runs": [as_json(e) for e in entries],
                      "differences": differences(entries),
                      "png": str(picture) if picture else None}))
    return 0
