"""metrics.csv: one row per finished epoch (train loss and accuracy, test and validation
accuracy, seconds, examples per second)."""

from __future__ import annotations

import csv
from pathlib import Path

from ..errors import ScratchMLPError
from ..files import write_csv

METRIC_FIELDS = ["epoch", "train_loss", "train_acc", "test_acc", "seconds", "examples_per_s"]


def read_metrics(path) -> list:
    """The rows of a metrics.csv ([] when there is none)."""
    path = Path(path)
    if not path.is_file():
        return []
    try:
        with open(path, newline="", encoding="utf-8") as f:
            return [{k: (int(v) if k == "epoch" else float(v)) for k, v in row.items()}
                    for row in csv.DictReader(f)]
    except (OSError, UnicodeDecodeError, csv.Error, ValueError, TypeError) as e:
        detail = " ".join(str(e).split())[:120]
        raise ScratchMLPError(f"{path}: not a readable metrics file ({detail})") from None


def write_metrics(path, rows: list):
    fields = METRIC_FIELDS + (["val_acc"] if any("val_acc" in row for row in rows) else [])
    write_csv(path, fields, rows)
