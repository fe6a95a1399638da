"""`scratchmlp sweep`: search space, SQLite studies that resume, a killed worker, and two worker
processes sharing one PostgreSQL study (the server comes from scripts/with-postgres.sh)."""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import pytest

optuna = pytest.importorskip("optuna")

from scratchmlp.errors import ScratchMLPError  # noqa: E402
from scratchmlp.sweep.space import DEFAULT_SPACE, load_space, suggest, to_config_values  # noqa: E402
from scratchmlp.train.config import TrainConfig  # noqa: E402

POSTGRES = os.environ.get("SCRATCHMLP_TEST_POSTGRES")

TINY_SPACE = {"units": [16, 32], "layers": 1, "batch_size": [128], "activation": ["relu", "tanh"],
              "init": ["he", "xavier"], "lr": {"low": 0.01, "high": 0.5, "log": True},
              "optimizer": ["sgd", "momentum"], "augment": ["none", "flip"]}


def sweep(tmp_path, *flags, space=TINY_SPACE, check=True, **popen):
    """Run `scratchmlp sweep` in a fresh process, as a user would."""
    space_file = tmp_path / "space.json"
    space_file.write_text(json.dumps(space))
    command = [sys.executable, "-m", "scratchmlp", "sweep", "--space", str(space_file),
               "--validation", "500", *map(str, flags)]
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", MPLBACKEND="Agg")
    if popen:
        return subprocess.Popen(command, env=env, text=True, **popen)
    done = subprocess.run(command, env=env, text=True, capture_output=True, timeout=600)
    if check:
        assert done.returncode == 0, done.stdout + done.stderr
    return done


def load_study(url):
    from scratchmlp.sweep.study import sqlalchemy_url
    return optuna.load_study(study_name="scratchmlp", storage=sqlalchemy_url(url))


# ---- the space ---------------------------------------------------------------------------------
def test_space_overrides_and_refusals(tmp_path):
    path = tmp_path / "space.json"
    path.write_text(json.dumps({"optimizer": ["adam"], "epochs": 3}))
    space = load_space(path, {"dropout": 0.25})
    assert space["optimizer"] == ["adam"] and space["epochs"] == 3 and space["dropout"] == 0.25
    assert space["lr"] == DEFAULT_SPACE["lr"]
    for bad, message in [({"learning_rate": [0.1]}, "unknown search parameter"),
                         ({"weight_decay": {"low": 0, "high": 1, "log": True}}, "log-scaled"),
                         ({"lr": {"low": 0, "high": 1}}, "lr must be a positive number, got 0"),
                         ({"dropout": {"low": 0, "high": 1}},
                          r"dropout must be a probability in \[0, 1\), got 1"),
                         ({"lr": {"low": 2, "high": 1}}, "low <= high"),
                         ({"units": []}, "empty"), ({"lr": {"lo": 1}}, "needs a range")]:
        path.write_text(json.dumps(bad))
        with pytest.raises(ScratchMLPError, match=message):
            load_space(path)
    path.write_text("[1, 2]")
    with pytest.raises(ScratchMLPError, match="JSON object"):
        load_space(path)


def test_every_point_of_the_default_space_is_a_valid_config():
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(40):
        trial = study.ask()
        values = to_config_values(suggest(trial, DEFAULT_SPACE))
        config = TrainConfig.from_dict(values)
        assert 1 <= len(config.hidden) <= 3 and len(set(config.hidden)) == 1
        assert set(config.augment) <= {"shift", "flip"}
        study.tell(trial, 0.5)
    searched = set(study.trials[0].params)
    assert {"lr", "epochs", "layers", "units", "activation", "batch_size", "init",
            "weight_decay", "dropout", "optimizer"} <= searched


# ---- SQLite: outputs, resuming, refusing to mix settings --------------------------------------
@pytest.mark.slow
def test_sqlite_sweep_writes_outputs_and_running_again_continues(real_data, tmp_path):
    out = tmp_path / "sweep"
    first = sweep(tmp_path, "--trials", 3, "--subset", 500, "--epochs", 1, "--out", out,
                  "--best", tmp_path / "best.json")
    assert "trial 2 started" in first.stdout and "best so far" in first.stdout
    study = load_study(f"sqlite:///{out / 'study.db'}")
    before = {t.number: t.value for t in study.trials}
    assert len(before) == 3
    with open(out / "trials.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["number"]) for r in rows] == [0, 1, 2]
    assert all(r["state"] in ("complete", "pruned") for r in rows)
    best = TrainConfig.load(tmp_path / "best.json")
    assert best.validation == 0 and best.subset is None and best.epochs == 1  # a final recipe
    assert best == TrainConfig.load(out / "best.json")
    for name in ("history.png", "importances.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = json.loads((out / "best-trial.json").read_text())
    assert summary["validation_accuracy"] == max(v for v in before.values() if v is not None)

    second = sweep(tmp_path, "--trials", 5, "--subset", 500, "--epochs", 1, "--out", out)
    assert "3 of 5 trials finished" in second.stdout  # the worker picks up where it stopped
    study = load_study(f"sqlite:///{out / 'study.db'}")
    assert len(study.trials) == 5
    assert {t.number: t.value for t in study.trials if t.number < 3} == before

    other = sweep(tmp_path, "--trials", 6, "--subset", 400, "--epochs", 1, "--out", out,
                  check=False)
    assert other.returncode == 2 and "other settings (subset differ)" in other.stderr
    assert "Traceback" not in other.stderr


def test_best_json_retrains_with_scratchmlp_train(real_data, tmp_path):
    config = TrainConfig(hidden=[16], lr=0.1, epochs=1, optimizer="momentum", dropout=0.1,
                         schedule="cosine", augment=["flip"])
    (tmp_path / "best.json").write_text(config.to_json())
    from scratchmlp.cli import main
    code = main(["train", "--config", str(tmp_path / "best.json"), "--subset", "500",
                 "--out", str(tmp_path / "run"), "--no-progress", "--test-once"])
    assert code == 0
    saved = TrainConfig.load(tmp_path / "run" / "config.json")
    assert saved.optimizer == "momentum" and saved.subset == 500
    with open(tmp_path / "run" / "metrics.csv", newline="") as f:
        last = list(csv.DictReader(f))[-1]
    assert 0 <= float(last["test_acc"]) <= 1


@pytest.mark.slow  # seconds on a busy machine
def test_bad_sweep_options_are_one_line_errors(tmp_path, capsys):
    from scratchmlp.cli import main
    for flags, message in [(["--trials", "0"], "--trials"), (["--workers", "0"], "--workers"),
                           (["--validation", "0"], "never on the test set")]:
        assert main(["sweep", "--out", str(tmp_path / "s"), *flags]) == 2
        assert message in capsys.readouterr().err
    assert main(["sweep", "--out", str(tmp_path / "s"), "--trials", "1",
                 "--storage", "postgresql://nobody:secret@127.0.0.1:1/none"]) == 2
    err = capsys.readouterr().err
    assert "cannot open the study storage" in err and "secret" not in err


# ---- a worker killed mid-trial --------------------------------------------------------------
@pytest.mark.slow
def test_a_killed_worker_loses_only_its_running_trial(real_data, tmp_path):
    out = tmp_path / "sweep"
    space = {**TINY_SPACE, "units": [128], "optimizer": ["sgd"]}
    flags = ["--subset", 3000, "--epochs", 15, "--out", out, "--heartbeat", 1, "--no-prune"]
    worker = sweep(tmp_path, "--trials", 5, *flags, space=space, stdout=subprocess.PIPE,
                   stderr=subprocess.STDOUT)
    try:
        for line in worker.stdout:  # wait until trial 0 is done and trial 1 is running
            if "trial 1 started" in line:
                break
        time.sleep(0.2)
        worker.send_signal(signal.SIGKILL)
    finally:
        worker.wait(timeout=60)
    url = f"sqlite:///{out / 'study.db'}"
    study = load_study(url)
    states = {t.number: t.state for t in study.trials}
    assert states == {0: optuna.trial.TrialState.COMPLETE, 1: optuna.trial.TrialState.RUNNING}
    value_0 = study.trials[0].value
    killed_params = study.trials[1].params

    time.sleep(2.5)  # the heartbeat of trial 1 is now older than the grace period (2 s)
    again = sweep(tmp_path, "--trials", 3, *flags, space=space)
    study = load_study(url)
    trials = study.trials
    assert trials[0].value == value_0  # finished work kept as it was
    assert trials[1].state == optuna.trial.TrialState.FAIL  # the one running trial, lost
    retried = [t for t in trials if t.system_attrs.get("failed_trial") == 1]
    assert len(retried) == 1 and retried[0].params == killed_params  # and queued again
    finished = [t for t in trials if t.state in (optuna.trial.TrialState.COMPLETE,
                                                 optuna.trial.TrialState.PRUNED)]
    assert len(finished) == 3 and "3 of 3 trials finished" in again.stdout
    assert not [t for t in trials if t.state == optuna.trial.TrialState.RUNNING]


@pytest.mark.slow
def test_a_rerun_at_once_after_a_kill_retries_the_dead_workers_trial(real_data, tmp_path):
    """Rerun within the heartbeat's grace period (60 s by default) of a SIGKILL: the killed
    trial's heartbeat was still fresh, so it counted as running; the rerun ended with exit 0,
    one trial short, and wrote trials.csv and best.json from the rest. Its worker lived on this
    machine and is gone, so it is failed and re-queued at once."""
    out = tmp_path / "sweep"
    space = {**TINY_SPACE, "units": [32], "optimizer": ["sgd"]}
    flags = ["--subset", 2000, "--epochs", 15, "--out", out, "--no-prune"]
    worker = sweep(tmp_path, "--trials", 2, *flags, space=space, stdout=subprocess.PIPE,
                   stderr=subprocess.STDOUT)
    try:
        for line in worker.stdout:
            if "trial 1 started" in line:
                break
        worker.send_signal(signal.SIGKILL)
    finally:
        worker.wait(timeout=60)
    again = sweep(tmp_path, "--trials", 2, *flags, space=space)  # at once: no sleep
    trials = load_study(f"sqlite:///{out / 'study.db'}").trials
    assert trials[1].state == optuna.trial.TrialState.FAIL
    assert [t.number for t in trials if t.system_attrs.get("failed_trial") == 1] == [2]
    assert [t.state for t in trials].count(optuna.trial.TrialState.COMPLETE) == 2
    assert "2 of 2 trials finished" in again.stdout


# ---- two workers, one PostgreSQL study ------------------------------------------------------
@pytest.mark.slow
@pytest.mark.skipif(not POSTGRES, reason="SCRATCHMLP_TEST_POSTGRES is not set: run the tests "
                                         "through `make test` (scripts/with-postgres.sh starts "
                                         "a PostgreSQL server)")
def test_two_workers_share_a_postgres_study_and_record_each_trial_once(real_data, tmp_path):
    study_name = f"two-workers-{os.getpid()}-{time.time_ns()}"
    done = sweep(tmp_path, "--storage", POSTGRES, "--study", study_name, "--workers", 2,
                 "--trials", 8, "--subset", 2000, "--epochs", 2, "--out", tmp_path / "out")
    ready = {line.split("(pid ")[1].split(")")[0] for line in done.stdout.splitlines()
             if " ready: " in line}
    assert len(ready) == 2  # two worker processes joined the study
    reported = [int(line.split("finished trial ")[1].split(":")[0])
                for line in done.stdout.splitlines() if "finished trial " in line]
    from scratchmlp.sweep.study import sqlalchemy_url
    study = optuna.load_study(study_name=study_name, storage=sqlalchemy_url(POSTGRES))
    numbers = [t.number for t in study.trials]
    assert len(numbers) == len(set(numbers))
    finished = sorted(t.number for t in study.trials
                      if t.state in (optuna.trial.TrialState.COMPLETE,
                                     optuna.trial.TrialState.PRUNED))
    assert sorted(reported) == finished  # each finished trial reported by exactly one worker
    assert len(finished) == 8  # exactly the budget: each worker claims its slot first
    assert not [t for t in study.trials if t.state != optuna.trial.TrialState.COMPLETE
                and t.state != optuna.trial.TrialState.PRUNED]
    with open(tmp_path / "out" / "trials.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert sorted(int(r["number"]) for r in rows) == numbers
    assert "postgres:***@" in done.stdout and POSTGRES.split("@")[0].split(":")[-1] not in done.stdout


def test_sigterm_stops_every_worker_and_records_their_trials_fail(real_data, tmp_path):
    """A `kill` of the sweep (a batch system's time limit) reaches the parent only: it asks its
    workers to stop after their current batch, writes the outputs and exits 130."""
    out = tmp_path / "sweep"
    space = {**TINY_SPACE, "units": [128], "optimizer": ["sgd"]}
    flags = ["--subset", 3000, "--epochs", 200, "--out", out, "--workers", 2, "--no-prune"]
    parent = sweep(tmp_path, "--trials", 4, *flags, space=space, stdout=subprocess.PIPE,
                   stderr=subprocess.STDOUT)
    seen, training = [], set()
    try:
        for line in parent.stdout:  # wait until both workers are inside a trial
            seen.append(line)
            if " epoch 1/" in line:
                training.add(int(line.split("(pid ")[1].split(")")[0]))
            if len(training) == 2:
                break
        parent.send_signal(signal.SIGTERM)
        rest, _ = parent.communicate(timeout=120)
    finally:
        if parent.poll() is None:
            parent.kill()
    output = "".join(seen) + rest
    assert parent.returncode == 130, output
    assert "Traceback" not in output
    assert output.count("stopped by a signal; its running trial is recorded as FAIL") == 2
    assert output.rstrip().endswith("run the same command again to continue the study")
    for pid in training:  # no orphan goes on training
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    study = load_study(f"sqlite:///{out / 'study.db'}")
    states = [t.state for t in study.trials]
    assert states == [optuna.trial.TrialState.FAIL] * 2, states  # recorded, not left RUNNING
    with open(out / "trials.csv", newline="") as f:
        assert [row["state"] for row in csv.DictReader(f)] == ["fail", "fail"]
