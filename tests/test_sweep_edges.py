"""`scratchmlp sweep` at its edges (issue 10, 14): refusals that are one line, exit 2 and leave
the disk as it was; workers started at the same moment on an empty PostgreSQL database; a
study that ends with exactly --trials finished trials; a PostgreSQL server stopped mid-sweep.

The data is a tiny real Fashion-MNIST-format folder (reliability_data), read with
SCRATCHMLP_VERIFY=0; PostgreSQL cases use `make test`'s server (SCRATCHMLP_TEST_POSTGRES,
scripts/with-postgres.sh) or, to stop one mid-sweep, a private server started here."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

optuna = pytest.importorskip("optuna")

from reliability_data import (  # noqa: E402,F401  (isolated is an autouse fixture)
    _record, assert_refused, cli, error_line, isolated, scratchmlp_command, snapshot, subprocess_env,
    write_dataset)
from scratchmlp.sweep.study import sqlalchemy_url  # noqa: E402

POSTGRES = os.environ.get("SCRATCHMLP_TEST_POSTGRES")
needs_postgres = pytest.mark.skipif(
    not POSTGRES, reason="SCRATCHMLP_TEST_POSTGRES is not set: run the tests through `make "
                         "test` (scripts/with-postgres.sh starts a PostgreSQL server)")
SPACE = json.dumps({"units": [16, 32], "layers": 1, "batch_size": [128], "epochs": 1,
                    "optimizer": ["sgd"], "augment": ["none"], "lr": {"low": 0.05, "high": 0.5}})
FLAGS = ("--validation", 100, "--space", SPACE, "--heartbeat", 1)


@pytest.fixture
def data(tmp_path, monkeypatch):
    monkeypatch.setenv("SCRATCHMLP_VERIFY", "0")
    return write_dataset(tmp_path / "data")


def sweep(capsys, data, *flags):
    return cli(capsys, "sweep", "--data-dir", data, *FLAGS, *flags)


def finished(url, name="scratchmlp") -> list:
    study = optuna.load_study(study_name=name, storage=sqlalchemy_url(url))
    return [t for t in study.trials
            if t.state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)]


# ---- refused before Optuna starts: the corrected rerun is never blocked by a stored study ----
@pytest.mark.slow  # trains in-process
@pytest.mark.parametrize("flags, fragments", [
    (("--subset", 0), ["--subset must be positive, got 0"]),
    (("--subset", 100000), ["--subset 100000 is more than the 412 training images left after "
                            "--validation 100", "--subset 412 or fewer"]),
    (("--validation", 512), ["--validation 512 leaves no training images", "has 512"]),
    (("--space", '{"units": ["abc"]}'), ['units value "abc" cannot be trained']),
    (("--space", '{"activation": ["relu", "gelu"]}'), ['activation value "gelu"']),
    (("--space", '{"units": [[1]]}'), ["units choice [1] is not a number or a string"]),
])
def test_sizes_and_space_are_checked_before_the_study_exists(capsys, tmp_path, data, flags,
                                                            fragments):
    out = tmp_path / "out"
    assert_refused(sweep(capsys, data, "--out", out, "--trials", 1, *flags), *fragments)
    assert not out.exists()  # no study.db holding the refused settings
    code, stdout, _ = sweep(capsys, data, "--out", out, "--trials", 1)  # the corrected rerun
    assert code == 0 and "1 of 1 trials finished" in stdout


def test_report_only_on_a_missing_study_creates_nothing(capsys, tmp_path, data):
    out = tmp_path / "out"
    assert_refused(sweep(capsys, data, "--out", out, "--report-only"),
                   f"no study in {out}: it holds no study.db", "without --report-only first")
    assert not out.exists()
    other = tmp_path / "other.db"
    optuna.create_study(study_name="mine", storage=f"sqlite:///{other}")
    before = snapshot(tmp_path)
    assert_refused(sweep(capsys, data, "--out", out, "--report-only", "--storage",
                         f"sqlite:///{other}"), "no study 'scratchmlp' in sqlite:///",
                   "(its studies: 'mine')", "check --study, --out and --storage")
    assert snapshot(tmp_path) == before and not out.exists()


def test_out_naming_a_file_is_refused_and_left_alone(capsys, tmp_path, data):
    target = tmp_path / "notes.txt"
    target.write_text("mine\n")
    before = snapshot(tmp_path)
    assert_refused(sweep(capsys, data, "--out", target), "notes.txt: exists and is not a folder",
                   "choose another --out")
    assert_refused(sweep(capsys, data, "--out", target / "sub"), "notes.txt: is not a folder, so",
                   "choose another --out")
    assert snapshot(tmp_path) == before


@pytest.fixture
def read_only_folder(tmp_path):
    """A folder this process cannot write to: mode 0555, or for root (who writes anywhere) a
    read-only tmpfs mounted on it."""
    folder = tmp_path / "locked"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(folder)],
                             capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"running as root and cannot mount a read-only folder: {mounted.stderr}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def test_out_in_a_read_only_folder_is_refused(capsys, tmp_path, data, read_only_folder):
    for out in (read_only_folder, read_only_folder / "sweep"):
        assert_refused(sweep(capsys, data, "--out", out, "--trials", 1),
                       f"{read_only_folder}: not writable (read-only or not yours), so {out} "
                       "cannot be written; choose another --out")
    best = read_only_folder / "best.json"  # written after the trials: refused before them
    assert_refused(sweep(capsys, data, "--out", tmp_path / "out", "--best", best),
                   f"{read_only_folder}: not writable", "choose another --best")
    assert_refused(sweep(capsys, data, "--out", tmp_path / "out", "--best", tmp_path),
                   "is a folder; name a file such as best.json")
    assert list(read_only_folder.iterdir()) == [] and not (tmp_path / "out").exists()


# ---- storages that are not this Optuna's studies ----------------------------------------------
@pytest.mark.slow  # seconds on a busy machine
def test_a_study_db_of_a_newer_optuna_schema_is_refused_untouched(capsys, tmp_path, data):
    out = tmp_path / "out"
    out.mkdir()
    db = out / "study.db"
    optuna.create_study(study_name="scratchmlp", storage=f"sqlite:///{db}")
    with sqlite3.connect(db) as connection:  # as a newer Optuna leaves it
        connection.execute("UPDATE alembic_version SET version_num = 'v9.9.0.a'")
        connection.execute("UPDATE version_info SET schema_version = 99")
    connection.close()
    before = snapshot(out)
    assert_refused(sweep(capsys, data, "--out", out, "--trials", 1),
                   "table schema this Optuna", "cannot read", "use the Optuna that wrote it")
    assert snapshot(out) == before


@pytest.mark.slow  # waits for the connection timeout (2 s here, 30 s by default)
def test_a_database_server_that_never_answers_is_one_line_not_a_hang(capsys, tmp_path, data,
                                                                     monkeypatch):
    """A port that accepts connections and never answers (a stuck proxy, another service)
    hung the sweep forever without a word."""
    import socket
    import threading

    from scratchmlp.sweep import study
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    accepted = []
    threading.Thread(target=lambda: [accepted.append(server.accept()) for _ in range(8)],
                     daemon=True).start()
    monkeypatch.setattr(study, "CONNECT_TIMEOUT_S", 2)
    url = f"postgresql://u@127.0.0.1:{server.getsockname()[1]}/db"
    assert_refused(sweep(capsys, data, "--out", tmp_path / "out", "--trials", 1,
                         "--storage", url), "cannot open the study storage",
                   "connection timeout expired")
    assert study._connect_args(url + "?connect_timeout=5") == {}  # the URL's own is kept
    server.close()


def _plain_optuna_study(db, settings=None):
    """A study named scratchmlp made by plain Optuna (no trial holds a scratchmlp config)."""
    study = optuna.create_study(study_name="scratchmlp", storage=f"sqlite:///{db}",
                                direction="maximize")
    study.optimize(lambda trial: trial.suggest_float("x", 0, 1), n_trials=2)
    if settings is not None:
        study.set_user_attr("settings", settings)


@pytest.mark.parametrize("tamper, note", [
    (None, "holds no scratchmlp configuration (a study of another program?)"),
    ('"a string"', "holds no scratchmlp configuration"),
    ('{"hidden": 5, "lr": 0.1}', "hidden must be a list, got 5"),
    ('{"hidden": [8], "lr": 0.1, "label_smoothing": 0.1}', "unknown field(s) label_smoothing"),
])
def test_report_of_a_study_whose_trials_hold_no_config_of_ours(capsys, tmp_path, data, tamper,
                                                               note):
    """KeyError, TypeError, AttributeError tracebacks before: a plain Optuna study of the same
    name, or a trial's config of another scratchmlp; the report is written, with a note."""
    (tmp_path / "out").mkdir()
    db = tmp_path / "out" / "study.db"
    _plain_optuna_study(db)
    if tamper is not None:
        study = optuna.load_study(study_name="scratchmlp", storage=f"sqlite:///{db}")
        with sqlite3.connect(db) as connection:
            connection.executemany(
                "INSERT INTO trial_user_attributes (trial_id, key, value_json) VALUES (?, ?, ?)",
                [(t._trial_id, "config", tamper) for t in study.trials])
        connection.close()
    code, stdout, err = sweep(capsys, data, "--out", tmp_path / "out", "--report-only")
    assert code == 0 and "Traceback" not in err, err
    assert "scratchmlp: note: best.json not written: trial " in err and note in err, err
    assert len(err.strip().splitlines()) <= 2, err
    assert (tmp_path / "out" / "trials.csv").is_file()
    assert not (tmp_path / "out" / "best.json").exists()


def test_a_study_whose_settings_are_not_ours_is_refused_in_one_line(capsys, tmp_path, data):
    (tmp_path / "out").mkdir()
    _plain_optuna_study(tmp_path / "out" / "study.db", settings="a string")  # AttributeError
    assert_refused(sweep(capsys, data, "--out", tmp_path / "out", "--trials", 3),
                   "was started with other settings")


@pytest.mark.parametrize("url, fragment", [
    ("study.db", "'study.db' is not a database URL; expected sqlite:///FILE or postgresql://"),
    ("nosuchdb://u:secret@host/x", "storage nosuchdb://u:***@host/x: unknown kind of database "
                                   "'nosuchdb'; use sqlite or postgresql"),
    ("sqlite://", "an in-memory SQLite database would vanish with this process"),
    ("sqlite:///missing/study.db", "no folder missing for the study database"),
])
def test_storage_urls_that_cannot_hold_a_study_are_refused_first(capsys, tmp_path, data, url,
                                                                 fragment):
    line = assert_refused(sweep(capsys, data, "--out", tmp_path / "out", "--storage", url,
                                "--trials", 1), fragment)
    assert "secret" not in line and not (tmp_path / "out").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]


@pytest.mark.parametrize("make, fragment", [
    (lambda p: _other_program_db(p), "an SQLite database of another program (tables "
                                     "customers, orders), not an Optuna study"),
    (lambda p: p.write_text("name,value\na,1\n"), "not an SQLite database"),
])
def test_another_programs_file_as_storage_is_refused_untouched(capsys, tmp_path, data, make,
                                                                fragment):
    other = tmp_path / "shop.db"
    make(other)
    before = snapshot(tmp_path)
    assert_refused(sweep(capsys, data, "--out", tmp_path / "out", "--storage",
                         f"sqlite:///{other}", "--trials", 1), fragment)
    assert snapshot(tmp_path) == before and not (tmp_path / "out").exists()


def _other_program_db(path):
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
        connection.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, total REAL)")
    connection.close()


# ---- exactly --trials, whatever the number of workers -----------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("trials, workers", [(3, 2), (4, 3)])
def test_local_workers_end_with_exactly_the_trials_asked_for(tmp_path, data, trials, workers):
    out = tmp_path / "out"
    done = subprocess.run(scratchmlp_command("sweep", "--data-dir", data, *FLAGS, "--out", out,
                                             "--trials", trials, "--workers", workers),
                          env=subprocess_env(tmp_path, SCRATCHMLP_VERIFY="0"),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(finished(f"sqlite:///{out / 'study.db'}")) == trials
    assert f"{trials} of {trials} trials finished" in done.stdout


@pytest.fixture
def empty_database():
    """A new, empty database on `make test`'s server (dropped afterwards): its URL."""
    import psycopg
    base = POSTGRES
    name = f"fresh_{os.getpid()}_{time.time_ns()}"
    with psycopg.connect(base, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    yield base.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(base, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.mark.slow
@needs_postgres
def test_workers_started_together_on_an_empty_database_all_succeed(tmp_path, data,
                                                                  empty_database):
    """Two machines' first start, as docs/sweeps.md describes it: the same command in two
    folders at the same moment; both must create-or-join the tables and the study."""
    env = subprocess_env(tmp_path, SCRATCHMLP_VERIFY="0")
    command = scratchmlp_command("sweep", "--data-dir", data, *FLAGS, "--trials", 5,
                                 "--storage", empty_database)
    folders = [tmp_path / "machine-a", tmp_path / "machine-b"]
    workers = []
    for folder in folders:
        folder.mkdir()
        workers.append(subprocess.Popen(command, cwd=folder, env=env, text=True,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    outputs = [worker.communicate(timeout=300) for worker in workers]
    for worker, (stdout, stderr) in zip(workers, outputs):
        assert worker.returncode == 0, stdout + stderr
        assert "Traceback" not in stderr
    assert len(finished(empty_database)) == 5
    ran = sum(stdout.count(" finished trial ") for stdout, _ in outputs)
    assert ran == 5  # each trial run by exactly one of them
    for folder in folders:  # each wrote its own report of the shared study
        assert (folder / "runs" / "sweep" / "trials.csv").read_text().count("\n") == 6


# ---- a PostgreSQL server stopped mid-sweep ----------------------------------------------------
def _postgres_bin():
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    return found[-1].parent if found else None


@pytest.fixture
def private_postgres():
    """A PostgreSQL server of this test alone, on loopback: (URL, stop())."""
    bin_dir = _postgres_bin()
    if bin_dir is None:
        pytest.skip("no PostgreSQL server binaries (apt-get install postgresql)")
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    folder = Path(tempfile.mkdtemp(prefix="scratchmlp-pg-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    run = lambda *a: subprocess.run([*as_user, *map(str, a)], check=True,  # noqa: E731
                                    capture_output=True, timeout=120)
    run(bin_dir / "initdb", "-D", folder / "db", "-U", "postgres", "--auth=trust", "--no-sync")
    run(bin_dir / "pg_ctl", "-D", folder / "db", "-l", folder / "log", "-w", "-o",
        f"-c listen_addresses=127.0.0.1 -p {port} -k {folder} -c fsync=off", "start")
    stop = lambda: subprocess.run([*as_user, bin_dir / "pg_ctl", "-D", folder / "db",  # noqa
                                   "-m", "immediate", "-w", "stop"], capture_output=True)
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres", stop
    finally:
        stop()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_postgres_stopped_mid_sweep_is_one_line_and_exit_2(tmp_path, data, private_postgres,
                                                            workers):
    url, stop_server = private_postgres
    out = tmp_path / "out"
    space = json.loads(SPACE) | {"epochs": 400}
    worker = subprocess.Popen(
        scratchmlp_command("sweep", "--data-dir", data, *FLAGS, "--space", json.dumps(space),
                           "--trials", 3, "--storage", url, "--out", out, "--no-prune",
                           "--workers", workers),
        env=subprocess_env(tmp_path, SCRATCHMLP_VERIFY="0"), text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        for line in worker.stdout:  # wait until a trial is training
            if " epoch 2/" in line:
                break
        stop_server()
        rest, stderr = worker.communicate(timeout=120)
    finally:
        if worker.poll() is None:
            worker.kill()
    line = error_line(stderr)
    assert worker.returncode == 2, stderr
    if workers == 1:
        assert "lost the study storage postgresql+psycopg://postgres@127.0.0.1:" in line, line
        assert "run the same command again once it is back" in line
    else:  # each worker's own line went to stdout with its progress
        assert "sweep worker(s) scratchmlp-sweep-worker-0, scratchmlp-sweep-worker-1 stopped " \
               "with an error" in line, line
        assert rest.count(" stopped: ") == 2 and " stopped: lost the study storage " in rest, rest
    _record(line)
    assert not out.exists()  # no report of a study it can no longer read


# ---- the search space: whatever it accepts, every trial can train ------------------------------
@pytest.mark.slow
def test_any_space_is_refused_in_one_line_or_every_point_of_it_trains():
    """Structured fuzzing of load_space: spaces of the right shape with odd values (negative,
    zero, huge, fractional, bools, strings, nested lists, inverted ranges). Either one
    ScratchMLPError line, or ten points sampled from it all make valid TrainConfigs."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from scratchmlp.errors import ScratchMLPError
    from scratchmlp.sweep.space import DEFAULT_SPACE, load_space, suggest, to_config_values
    from scratchmlp.train.config import TrainConfig

    scalar = st.one_of(st.none(), st.booleans(), st.integers(-3, 5000),
                       st.sampled_from([0.0, -0.5, 0.3, 1.0, 2.5, 1e-9, 1e300, 2**70]),
                       st.sampled_from(["relu", "tanh", "he", "adam", "cosine", "shift,flip",
                                        "none", "abc", "", "1e3"]))
    spec = st.one_of(scalar, st.lists(st.one_of(scalar, st.lists(scalar, max_size=2)),
                                      max_size=4),
                     st.fixed_dictionaries({"low": scalar, "high": scalar},
                                           optional={"log": st.booleans(), "int": st.booleans(),
                                                     "step": scalar}))
    spaces = st.dictionaries(st.sampled_from(sorted(DEFAULT_SPACE)), spec, max_size=4)

    @settings(max_examples=300, deadline=None, database=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow])
    @given(spaces)
    def check(values):
        try:
            space = load_space(json.dumps(values))
        except ScratchMLPError as e:
            assert "\n" not in str(e) and len(str(e)) < 400, str(e)
            return
        study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
        for _ in range(10):
            trial = study.ask()
            config = TrainConfig.from_dict(to_config_values(suggest(trial, space)))
            assert all(width > 0 for width in config.hidden)
            study.tell(trial, 0.5)

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    check()
