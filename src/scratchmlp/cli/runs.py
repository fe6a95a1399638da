"""`scratchmlp runs [DIR]`: one line per run folder: network, optimiser, epochs done of
planned, final metrics, and whether it finished, was interrupted or is running now.

Run folders are read as untrusted: a folder whose files are missing, damaged, huge or not
files at all gets one line saying so, never a traceback. `read_run` is shared with `compare`.
"""

from __future__ import annotations

HELP = "list the run folders under DIR (default runs/): network, epochs, final metrics, state"

DESCRIPTION = ("One line per run folder: network, optimiser, epochs done of planned, final "
               "metrics, and finished / interrupted (continue it with train --resume) / running "
               "(a training process holds its lock). A folder that cannot be read gets one "
               "line saying why.")
MAX_CONFIG_BYTES = 1 << 20  # a config.json is a few hundred bytes
RUN_MARKERS = ("config.json", "metrics.csv", "model.npz", "checkpoint.npz", ".lock")
METRICS_SHOWN = (("train_loss", "train loss"), ("train_acc", "train acc"),
                 ("val_acc", "val acc"), ("test_acc", "test acc"))


def register(subparsers):
    p = subparsers.add_parser("runs", help=HELP, description=DESCRIPTION)
    from .common import path_text
    p.add_argument("dir", metavar="DIR", nargs="?", default="runs", type=path_text,
                   help="a folder of run folders, or one run folder (default runs)")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object per run, one a line, instead of the table")
    p.set_defaults(func=run)


class BadRun(Exception):
    """A run folder that cannot be read; the message says which file and why."""


def holder(folder):
    """The PID of the process training in `folder` now (0 if unknown), or None: the run
    folder's own lock check (runs.RunFolder.holder), which a crashed run never holds."""
    from ..runs import RunFolder
    try:
        return RunFolder(folder).holder()
    except OSError:
        return None


def is_run_folder(folder) -> bool:
    from pathlib import Path
    folder = Path(folder)
    return folder.is_dir() and any(_exists(folder / name) for name in RUN_MARKERS)


def _exists(path) -> bool:
    try:
        return path.exists() or path.is_symlink()
    except OSError:
        return False


def _regular_file(path, limit: int, what: str):
    """The bytes of a plain file no bigger than `limit`, or BadRun saying what is wrong."""
    import os
    import stat
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise BadRun(f"no {what}") from None
    except OSError as e:
        raise BadRun(f"{what}: {e.strerror or e}") from None
    if not stat.S_ISREG(info.st_mode):
        raise BadRun(f"{what} is not a plain file")
    if info.st_size > limit:
        raise BadRun(f"{what} is {info.st_size:,} bytes, more than a run writes ({limit:,})")
    try:
        with open(path, "rb") as f:
            return f.read(limit + 1)
    except OSError as e:
        raise BadRun(f"{what}: {e.strerror or e}") from None


def read_config(folder):
    """The run's TrainConfig, read as `train --resume` reads it (files.parse_json refuses
    duplicate keys, NaN, huge numbers: `runs` showed the last of two lr keys)."""
    from ..errors import ScratchMLPError
    from ..files import parse_json
    from ..train.config import TrainConfig
    data = _regular_file(folder / "config.json", MAX_CONFIG_BYTES, "config.json")
    try:
        value = parse_json(data, "config.json", "JSON config")
    except ScratchMLPError as e:
        raise BadRun(_short(e)) from None
    if not isinstance(value, dict):
        raise BadRun("config.json does not hold a JSON object")
    try:
        return TrainConfig.from_dict(value, "config.json")  # its message names config.json
    except ScratchMLPError as e:
        raise BadRun(_short(e)) from None
    except Exception as e:  # noqa: BLE001 - any refusal of a hostile config is one line
        raise BadRun(f"config.json: {_short(e)}") from None


def read_rows(folder) -> list:
    """metrics.csv's rows ([] when the run has none yet), numbers as floats."""
    import csv
    import io
    path = folder / "metrics.csv"
    if not _exists(path):
        return []
    from ..train.metrics import MAX_METRICS_BYTES
    data = _regular_file(path, MAX_METRICS_BYTES, "metrics.csv")
    try:
        reader = csv.DictReader(io.StringIO(data.decode("utf-8"), newline=""))
        rows = [_row(row, n) for n, row in enumerate(reader, start=2)]
    except (UnicodeDecodeError, csv.Error, ValueError, TypeError) as e:
        raise BadRun(f"metrics.csv is damaged ({_short(e)})") from None
    if [row["epoch"] for row in rows] != list(range(1, len(rows) + 1)):  # as --resume checks
        raise BadRun("metrics.csv is damaged (its epochs are not 1, 2, 3, ... in order)")
    return rows


def _row(row: dict, line: int) -> dict:
    if None in row or None in row.values() or "epoch" not in row:
        raise ValueError(f"line {line} does not match the header")
    out = {k: float(v) for k, v in row.items() if k in dict(METRICS_SHOWN) or k == "seconds"}
    out["epoch"] = int(row["epoch"])
    return out


def read_run(folder) -> dict:
    """name, config, rows, epochs done and planned, state (finished/interrupted/running);
    BadRun when the folder cannot be read."""
    from pathlib import Path
    folder = Path(folder)
    if not folder.is_dir():  # else "no config.json" for a mistyped name
        raise BadRun("not a folder (a run is a folder; give its path)" if folder.exists() else
                     "no such folder; check the path (scratchmlp runs lists them)")
    config = read_config(folder)
    rows = read_rows(folder)
    if len(rows) > config.epochs:
        raise BadRun(f"metrics.csv holds {len(rows):,} epochs, more than the {config.epochs} "
                     "of config.json")
    done = rows[-1]["epoch"] if rows else 0
    pid = holder(folder)
    state = ("running" if pid is not None else
             "finished" if done >= config.epochs else "interrupted")
    return {"run": str(folder), "config": config, "rows": rows, "epochs_done": done,
            "epochs": config.epochs, "state": state, "pid": pid or None}


def run_folders(directory) -> list:
    """DIR itself when it is a run folder, else its run folders by name."""
    from pathlib import Path

    from ..errors import ScratchMLPError
    directory = Path(directory)
    if not directory.is_dir():
        raise ScratchMLPError(f"{directory}: no such folder of runs; give the folder that holds "
                              "them (default runs)")
    if is_run_folder(directory):
        return [directory]
    try:
        children = sorted(directory.iterdir())
    except OSError as e:
        raise ScratchMLPError(f"{directory}: cannot list it ({e.strerror or e})") from None
    return [child for child in children if is_run_folder(child)]


def run(args) -> int:
    import json
    folders = run_folders(args.dir)
    lines = []
    for folder in folders:
        try:
            entry = read_run(folder)
        except BadRun as e:  # a run just starting holds its lock before config.json exists
            pid = holder(folder)
            entry = {"run": str(folder), "state": "unreadable" if pid is None else "running",
                     "pid": pid or None, "problem": str(e)}
        if args.json:
            print(json.dumps(as_json(entry)))
        else:
            lines.append(table_row(entry))
    if not args.json:
        print(format_table(lines) if lines else f"no run folders in {args.dir}")
    return 0


def as_json(entry: dict) -> dict:
    if "config" not in entry:
        return entry
    last = entry["rows"][-1] if entry["rows"] else {}
    final = {k: (v if v == v and abs(v) != float("inf") else None)
             for k, v in last.items() if k in dict(METRICS_SHOWN)}
    return {"run": entry["run"], "state": entry["state"], "pid": entry["pid"],
            "epochs_done": entry["epochs_done"],
            "epochs": entry["epochs"], "final": final, "config": entry["config"].to_dict()}


HEADER = ["run", "network", "optimiser", "epochs", "train loss", "train acc", "val acc",
          "test acc", "state"]


def table_row(entry: dict) -> list:
    name = printable(entry["run"])
    if "config" not in entry:
        return [name, f"{entry['state']}: {printable(entry['problem'])}"]
    config, last = entry["config"], (entry["rows"][-1] if entry["rows"] else {})
    from .train import readable
    network = printable("-".join(map(str, config.sizes)), 40) + \
        f" {config.activation}"
    optimiser = f"{config.optimizer} lr {readable(config.lr)}"
    metrics = [format_number(last.get(key)) for key, _ in METRICS_SHOWN]
    return [name, network, optimiser, f"{entry['epochs_done']}/{entry['epochs']}", *metrics,
            entry["state"] + (f" (pid {entry['pid']})" if entry["pid"] else "")]


def format_table(rows: list) -> str:
    """Columns aligned over the full rows; a short (unreadable) row runs on after its name."""
    from ..report.table import text_table
    return text_table(HEADER, rows)


def format_number(value) -> str:
    if value is None or value != value:
        return "-"
    return f"{value:.4f}" if abs(value) < 1e6 else f"{value:.3g}"


def printable(text: str, width: int = 160) -> str:
    """One line whatever the text holds: control characters escaped, long text cut."""
    text = str(text)
    if not text.isprintable():
        text = text.encode("unicode_escape", "backslashreplace").decode("ascii")
    return text if len(text) <= width else text[:width - 3] + "..."


def _short(error) -> str:
    return printable(" ".join(str(error).split()), 120)
