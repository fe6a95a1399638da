"""`scratchmlp train` flags for the exercises' additions; the chapter's defaults unchanged."""

import csv
import json

import pytest

from scratchmlp.cli import main
from scratchmlp.train.config import TrainConfig


def test_every_new_flag_reaches_the_run_config(real_data, tmp_path):
    out = tmp_path / "run"
    code = main(["train", "--hidden", "32,16", "--optimizer", "momentum", "--momentum", "0.8",
                 "--lr", "0.05", "--weight-decay", "1e-4", "--dropout", "0.25",
                 "--schedule", "cosine", "--augment", "shift,flip", "--validation", "500",
                 "--subset", "700", "--epochs", "2", "--init", "he", "--out", str(out),
                 "--no-progress", "--threads", "2"])
    assert code == 0
    config = json.loads((out / "config.json").read_text())
    assert config == {**TrainConfig().to_dict(), "hidden": [32, 16], "optimizer": "momentum",
                      "momentum": 0.8, "lr": 0.05, "weight_decay": 1e-4, "dropout": 0.25,
                      "schedule": "cosine", "augment": ["shift", "flip"], "validation": 500,
                      "subset": 700, "epochs": 2, "init": "he", "threads": 2}
    with open(out / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 and all(0 <= float(r["val_acc"]) <= 1 for r in rows)


def test_config_file_then_flags(real_data, tmp_path):
    (tmp_path / "c.json").write_text(TrainConfig(optimizer="adam", lr=0.001,
                                                 augment=["flip"]).to_json())
    out = tmp_path / "run"
    assert main(["train", "--config", str(tmp_path / "c.json"), "--augment", "none",
                 "--epochs", "1", "--subset", "300", "--hidden", "8", "--out", str(out),
                 "--no-progress"]) == 0
    config = TrainConfig.load(out / "config.json")
    assert config.optimizer == "adam" and config.augment == [] and config.lr == 0.001


@pytest.mark.parametrize("flags, message", [
    (["--augment", "rotate"], "give shift, flip"),
    (["--dropout", "1"], "argument --dropout: expected a probability in [0, 1), got 1.0"),
    (["--optimizer", "rmsprop"], "unknown optimiser"),
    (["--schedule", "linear"], "unknown learning-rate schedule"),
    (["--weight-decay", "-1"], "argument --weight-decay: expected a number 0 or more, got -1.0"),
    (["--validation", "60000"], "validation must be between"),
])
def test_bad_values_are_one_line_errors(real_data, tmp_path, capsys, flags, message):
    try:
        code = main(["train", *flags, "--epochs", "1", "--out", str(tmp_path / "r"),
                     "--no-progress"])
    except SystemExit as e:  # argparse's own usage errors
        code = e.code
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
