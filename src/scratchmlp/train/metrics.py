"""metrics.csv: one row per finished epoch (train loss and accuracy, test and validation
accuracy, seconds, examples per second)."""

from __future__ import annotations

import csv
from pathlib import Path

from ..errors import ScratchMLPError
from ..files import read_small_file, write_csv

METRIC_FIELDS = ["epoch", "train_loss", "train_acc", "test_acc", "seconds", "examples_per_s"]
# about 250,000 epochs' rows, more than any run trains (a 96 MB file of rows took 3.5 GB to read)
MAX_METRICS_BYTES = 16 << 20


def read_metrics(path) -> list:
    """The rows of a metrics.csv ([] when there is none); the file is untrusted: its size is
    checked before it is read, and a FIFO never blocks."""
    import io
    path = Path(path)
    if not path.is_file():
        return []
    data = read_small_file(path, "metrics", MAX_METRICS_BYTES)
    try:
        rows = csv.DictReader(io.StringIO(data.decode("utf-8"), newline=""))
        return [{k: (int(v) if k == "epoch" else float(v)) for k, v in row.items()}
                for row in rows]
    except (UnicodeDecodeError, csv.Error, ValueError, TypeError) as e:
        detail = " ".join(str(e).split())[:120]
        raise ScratchMLPError(f"{path}: not a readable metrics file ({detail})") from None


def write_metrics(path, rows: list):
    fields = METRIC_FIELDS + (["val_acc"] if any("val_acc" in row for row in rows) else [])
    write_csv(path, fields, rows)
