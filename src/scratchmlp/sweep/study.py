"""Optuna studies over `fit()`: one trial = one training run scored on the validation split.

Tuning never looks at the test set: trials train on the training images less the validation
split (data.split_validation) and report validation accuracy after every epoch, which the
pruner uses to stop poor trials early. The study lives in an RDB storage: an SQLite file in
the output folder by default (running the command again continues the study), or a
PostgreSQL URL that workers on many machines share. Workers send heartbeats; a trial whose
worker died (kill -9, power cut) is marked FAIL once its heartbeat is stale and re-queued with
the same parameters, so a crash costs at most the trials that were running.

Any number of workers, on any number of machines, may start at the same moment, even on an
empty database: creating the tables and the study, and claiming a trial's slot, happen under
one lock (a PostgreSQL advisory lock; for SQLite an OS lock on the database's folder).
A worker claims its slot before it starts a trial, so the study ends with exactly the
planned number of finished trials.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import optuna
from optuna.storages import RDBStorage
from optuna.trial import TrialState

from ..errors import ScratchMLPError
from ..train.config import TrainConfig
from ..train.loop import Diverged
from ..train.run import Interrupted, fit
from .space import suggest, to_config_values

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
OCCUPIED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)  # slots taken
LOCK_KEY = 0x5C4A7C4D1F5EE9  # PostgreSQL advisory lock of scratchmlp's sweeps in a database


@dataclass
class SweepSettings:
    out: str = "runs/sweep"
    storage: str | None = None  # an RDB URL; None: sqlite file OUT/study.db
    study: str = "scratchmlp"
    trials: int = 30  # finished (complete or pruned) trials the study should hold in the end
    workers: int = 1
    subset: int | None = None  # train each trial on the first N training images
    validation: int = 10000
    seed: int = 0  # the training seed of every trial (and the sampler's)
    space: dict = field(default_factory=dict)
    heartbeat: int = 30  # seconds between a running trial's heartbeats
    prune: bool = True
    prune_warmup: int = 2  # epochs every trial runs before it may be pruned
    prune_percentile: float = 50.0  # pruned when below this percentile of earlier trials
    data_dir: str | None = None
    threads: int | None = None  # per worker; None: the cores shared out among the workers

    def storage_url(self) -> str:
        if self.storage:
            return sqlalchemy_url(self.storage)
        # os.path.realpath: Path.resolve raises RuntimeError on a loop of links (Python 3.11)
        return "sqlite:///" + os.path.realpath(Path(self.out) / "study.db")

    def identity(self) -> dict:
        """What must not change between runs of one study (else results are not comparable)."""
        return {"subset": self.subset, "validation": self.validation, "seed": self.seed,
                "space": self.space}


class SettingsDiffer(ScratchMLPError):
    """The stored study was started with other settings; `changed` names them."""

    def __init__(self, message: str, changed: list):
        super().__init__(message)
        self.changed = changed


class NoStudy(ScratchMLPError):
    """A study asked for to report on does not exist."""


class StorageLost(ScratchMLPError):
    """The study's database went away in the middle of a sweep."""


def sqlalchemy_url(url: str) -> str:
    """postgresql://... means psycopg (version 3) here, the driver scratchmlp[postgres]
    installs; SQLAlchemy alone would look for psycopg2. URLs naming a driver are left alone."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _quiet_optuna():
    import warnings
    # this module says what happens to each trial itself; Optuna's warnings are internal
    # detail (a lost server gave a 10-line "Caught an error from sqlalchemy" before our line)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    # heartbeats and their retry callback are marked experimental; we rely on them knowingly
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    # trials run through ask/tell here, with this module's own heartbeat thread (run_trial)
    warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used")


def _retry_stale_trials() -> dict:
    """The storage argument that re-queues a dead worker's trial (renamed in optuna 4.9)."""
    if hasattr(optuna.storages, "RetryHeartbeatStaleTrialCallback"):
        return {"heartbeat_stale_trial_callback":
                optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=2)}
    return {"failed_trial_callback": optuna.storages.RetryFailedTrialCallback(max_retry=2)}


def _is_storage_error(error: BaseException) -> bool:
    return (isinstance(error, optuna.exceptions.StorageInternalError)
            or type(error).__module__.split(".")[0] in ("sqlalchemy", "psycopg", "sqlite3"))


def _first_line(error: BaseException) -> str:
    """The first line of the database's own words (what Optuna wrapped, if it did)."""
    if isinstance(error, optuna.exceptions.StorageInternalError) and error.__cause__:
        error = error.__cause__
    error = getattr(error, "orig", None) or error  # SQLAlchemy's wrapper: the driver's error
    lines = str(error).strip().splitlines()
    return lines[0][:300] if lines else type(error).__name__


# ---- the lock: creating the storage and claiming a slot, one worker at a time ------------------
@contextlib.contextmanager
def storage_lock(url: str):
    """Held by one process at a time among all that use the database at `url`: a PostgreSQL
    session advisory lock (released by the server when its holder's connection dies), an
    flock on the folder of an SQLite file (released by the kernel when its holder dies),
    nothing for other databases."""
    import sqlalchemy
    parsed = sqlalchemy.engine.make_url(url)
    if parsed.get_backend_name() == "postgresql":
        engine = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool,
                                          connect_args=_connect_args(url))
        try:
            with engine.connect() as connection:
                connection.execute(sqlalchemy.text("SELECT pg_advisory_lock(:key)"),
                                   {"key": LOCK_KEY})
                yield  # closing the connection ends the session and with it the lock
        finally:
            engine.dispose()
    elif parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        # the folder, not a lock file: nothing is left behind, and SQLite's own POSIX locks
        # on the database file are not disturbed by a second handle on that file
        import fcntl
        try:
            folder = os.open(os.path.dirname(os.path.realpath(parsed.database)), os.O_RDONLY)
        except OSError as e:
            raise ScratchMLPError(f"{parsed.database}: cannot use the folder of this study "
                                  f"database ({e.strerror})") from None
        try:
            fcntl.flock(folder, fcntl.LOCK_EX)
            yield
        finally:
            os.close(folder)
    else:
        yield


def check_storage(url: str, made_here: bool = False):
    """Refuse, before anything is opened or created, a URL that cannot hold a study: not a
    URL, a database kind or driver that is not installed, an in-memory SQLite database (it
    would vanish with this process), an SQLite file in a missing folder (unless `made_here`:
    the output folder, made when the study is), another program's SQLite file."""
    import sqlalchemy
    try:
        parsed = sqlalchemy.engine.make_url(url)
        parsed.get_dialect().import_dbapi()
    except sqlalchemy.exc.NoSuchModuleError:  # (a kind of ArgumentError: first)
        raise ScratchMLPError(f"storage {safe_url(url)}: unknown kind of database "
                              f"{url.split(':', 1)[0]!r}; use sqlite or postgresql") from None
    except sqlalchemy.exc.ArgumentError:
        raise ScratchMLPError(f"{safe_url(url)!r} is not a database URL; expected "
                              "sqlite:///FILE or postgresql://USER@HOST/DATABASE") from None
    except ImportError as e:
        raise ScratchMLPError(f"storage {safe_url(url)} needs a database driver that is not "
                              f"installed ({e})") from None
    if parsed.get_backend_name() != "sqlite":
        return
    if parsed.database in (None, "", ":memory:"):
        raise ScratchMLPError(f"storage {url}: an in-memory SQLite database would vanish with "
                              "this process; name a file, sqlite:///FILE")
    folder = Path(parsed.database).parent
    if not made_here and not folder.is_dir():
        raise ScratchMLPError(f"storage {url}: no folder {folder} for the study database")
    _check_sqlite_file(url)


def _check_sqlite_file(url: str):
    """An existing SQLite file must be an Optuna study database (or empty): Optuna would
    otherwise add its tables to another program's file."""
    import sqlalchemy
    import sqlite3
    parsed = sqlalchemy.engine.make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return
    path = Path(parsed.database)
    if path.is_dir():
        raise ScratchMLPError(f"{path}: the study storage is a folder, not an SQLite file")
    if path.exists() and not path.is_file():  # SQLite wrote /dev/null-journal beside /dev/null
        raise ScratchMLPError(f"{path}: the study storage is not a regular file (a pipe or "
                              "device?); name an SQLite file")
    if not path.exists() or path.stat().st_size == 0:
        return
    with open(path, "rb") as f:
        if f.read(16) != b"SQLite format 3\x00":
            raise ScratchMLPError(f"{path}: not an SQLite database, so not an Optuna study "
                                  "storage; name another file or folder")
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master "
                                                   "WHERE type='table'")}
    except sqlite3.Error as e:
        raise ScratchMLPError(f"{path}: cannot read this SQLite database ({e})") from None
    if tables and not {"studies", "trials", "version_info"} <= tables:
        shown = ", ".join(sorted(tables)[:5]) + (", ..." if len(tables) > 5 else "")
        raise ScratchMLPError(f"{path}: an SQLite database of another program (tables "
                              f"{shown}), not an Optuna study; name another file or folder")


@contextlib.contextmanager
def _storage_errors(url: str):
    """Errors of the database and its driver, as one-line facts naming the storage."""
    try:
        yield
    except ScratchMLPError:
        raise
    except ImportError as e:
        raise ScratchMLPError(f"storage {safe_url(url)} needs a database driver that is not "
                              f"installed ({e})") from None
    except RuntimeError as e:
        if "schema" not in str(e):
            raise
        raise ScratchMLPError(f"storage {safe_url(url)} holds studies in a table schema this "
                              f"Optuna {optuna.__version__} cannot read (written by another "
                              "Optuna version); use the Optuna that wrote it, or another "
                              "storage") from None
    except Exception as e:  # sqlalchemy's OperationalError and friends: a bad URL or server
        if not _is_storage_error(e):
            raise
        raise ScratchMLPError(f"cannot open the study storage {safe_url(url)}: "
                              f"{_first_line(e)}") from None


def open_study(settings: SweepSettings, worker: int = 0, existing: bool = False) -> optuna.Study:
    """Create the study, or load it to continue; refuse to mix other settings into it. With
    `existing`, only load it (to report on it): a missing study is an error, created nowhere.

    The sampler's seed mixes the sweep's seed, the worker's number and the trials already
    in the study: workers started together, or a study continued later, draw new points
    instead of repeating the same random start (a repeated seed would repeat the trials)."""
    _quiet_optuna()
    url = settings.storage_url()
    _check_sqlite_file(url)
    if existing and not settings.storage and not (Path(settings.out) / "study.db").is_file():
        raise NoStudy(f"no study in {settings.out}: it holds no study.db")
    if not settings.storage:
        Path(settings.out).mkdir(parents=True, exist_ok=True)
    with _storage_errors(url), storage_lock(url):  # tables and study: created by one worker
        if existing:
            return _load_existing(settings, url)
        storage = RDBStorage(url, engine_kwargs=_engine_kwargs(url),
                             heartbeat_interval=settings.heartbeat,
                             grace_period=2 * settings.heartbeat, **_retry_stale_trials())
        pruner = (optuna.pruners.PercentilePruner(settings.prune_percentile, n_startup_trials=5,
                                                  n_warmup_steps=settings.prune_warmup)
                  if settings.prune else optuna.pruners.NopPruner())
        study = optuna.create_study(storage=storage, study_name=settings.study,
                                    direction="maximize", pruner=pruner, load_if_exists=True)
        _check_identity(study, settings, url)
        trials = len(study.trials)
    import numpy as np
    seed = int(np.random.SeedSequence([settings.seed, worker, trials]).generate_state(1)[0])
    # random points first, then TPE; a small budget must not be spent on random points only
    startup = min(10, max(3, settings.trials // 4))
    study.sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup,
                                               constant_liar=True)
    return study


def _load_existing(settings: SweepSettings, url: str) -> optuna.Study:
    storage = RDBStorage(url, engine_kwargs=_engine_kwargs(url))
    if settings.study not in optuna.get_all_study_names(storage):
        names = ", ".join(map(repr, optuna.get_all_study_names(storage)[:10])) or "none"
        raise NoStudy(f"no study {settings.study!r} in {safe_url(url)} (its studies: {names})")
    return optuna.load_study(study_name=settings.study, storage=storage)


def _engine_kwargs(url: str) -> dict:
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 60}}
    # pool_pre_ping: a server restarted between trials is reconnected to
    return {"pool_pre_ping": True, "connect_args": _connect_args(url)}


CONNECT_TIMEOUT_S = 30


def _connect_args(url: str) -> dict:
    """A connection timeout for PostgreSQL, unless the URL names its own: a server (or a proxy)
    that accepts the connection and never answers hung the sweep forever, without a word."""
    import sqlalchemy
    parsed = sqlalchemy.engine.make_url(url)
    if parsed.get_backend_name() != "postgresql" or "connect_timeout" in parsed.query:
        return {}
    return {"connect_timeout": CONNECT_TIMEOUT_S}


def _check_identity(study, settings: SweepSettings, url: str):
    identity = json.loads(json.dumps(settings.identity()))
    saved = study.user_attrs.get("settings")
    if saved is None:
        study.set_user_attr("settings", identity)
    elif saved != identity:
        saved = saved if isinstance(saved, dict) else {}  # a string was an AttributeError
        changed = sorted(k for k in identity if identity[k] != saved.get(k))
        raise SettingsDiffer(f"study {settings.study!r} in {safe_url(url)} was started with "
                             f"other settings ({', '.join(changed)} differ)", changed)


def safe_url(url: str) -> str:
    """The URL without its password, for messages."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        credentials, host = rest.rsplit("@", 1)
        user = credentials.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}" if ":" in credentials else url
    return url


def trial_config(trial, settings: SweepSettings) -> TrainConfig:
    values = to_config_values(suggest(trial, settings.space))
    values.update(seed=settings.seed, validation=settings.validation, subset=settings.subset)
    return TrainConfig.from_dict(values, f"trial {trial.number}")


def finished_count(study) -> int:
    return len(study.get_trials(deepcopy=False, states=FINISHED))


def best_line(study) -> str:
    try:
        best = study.best_trial
    except ValueError:
        return "no complete trial yet"
    return f"best so far: trial {best.number}, validation accuracy {best.value:.4f}"


def _print(line: str):
    print(line, flush=True)


# ---- one worker: claim a slot, run its trial, until no slot is left ----------------------------
def claim(study, settings: SweepSettings):
    """A new trial (RUNNING) when the study holds fewer than `settings.trials` finished or
    running ones, else None. Under the storage lock, so workers on any number of machines
    never start more trials than planned; a dead worker's stale trial is failed first (freeing
    its slot) and its re-queued copy is the trial handed out."""
    with storage_lock(settings.storage_url()):
        optuna.storages.fail_stale_trials(study)
        _fail_trials_of_dead_workers(study)
        if len(study.get_trials(deepcopy=False, states=OCCUPIED)) >= settings.trials:
            return None
        trial = study.ask()
        study._storage.set_trial_system_attr(trial._trial_id, WORKER_ATTR, _this_worker())
        return trial


WORKER_ATTR = "scratchmlp_worker"  # where a running trial's worker lives: machine and PID


def _this_worker() -> dict:
    import socket
    return {"host": socket.gethostname(), "boot": _boot_id(), "pid": os.getpid()}


def _boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            return f.read().strip()
    except OSError:
        return ""


def _fail_trials_of_dead_workers(study):
    """A RUNNING trial whose worker ran on this machine, since its last boot, and is gone
    (a SIGKILL, an out-of-memory kill) is failed and re-queued now, as a stale heartbeat would
    have it two heartbeats later: a sweep rerun at once counted it as running, ended with
    exit 0 and one trial short, and wrote its report from the rest."""
    me = _this_worker()
    dead = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        worker = trial.system_attrs.get(WORKER_ATTR)
        if not isinstance(worker, dict) or worker.get("pid") == me["pid"] or \
                (worker.get("host"), worker.get("boot")) != (me["host"], me["boot"]) or \
                not isinstance(worker.get("pid"), int) or _alive(worker["pid"]):
            continue
        with contextlib.suppress(optuna.exceptions.UpdateFinishedTrialError):
            if study._storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL):
                dead.append(trial._trial_id)
    storage = study._storage
    retry = (storage.get_heartbeat_stale_trial_callback()
             if hasattr(storage, "get_heartbeat_stale_trial_callback")
             else storage.get_failed_trial_callback())
    for trial_id in dead if retry is not None else ():
        retry(study, storage.get_trial(trial_id))


def _alive(pid: int) -> bool:
    if pid <= 0:
        return True  # not a process of its own: leave it to the heartbeat
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True  # another user's process, or not a PID we can ask about: assume alive
    return True


@contextlib.contextmanager
def _heartbeat(study, trial, seconds: int):
    """Record the trial's heartbeat every `seconds` in a thread while the trial runs."""
    storage, trial_id, done = study._storage, trial._trial_id, threading.Event()

    def beat():
        while True:
            with contextlib.suppress(Exception):  # a lost server is noticed by the trial
                storage.record_heartbeat(trial_id)
            if done.wait(seconds):
                return

    thread = threading.Thread(target=beat, name="scratchmlp-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def run_trial(study, trial, objective, heartbeat: int):
    """Run `objective(trial)` and store its outcome: COMPLETE, PRUNED, or FAIL (then re-raise)."""
    with _heartbeat(study, trial, heartbeat):
        try:
            value = objective(trial)
        except optuna.TrialPruned:
            return study.tell(trial, state=TrialState.PRUNED)
        except BaseException:
            with contextlib.suppress(Exception):  # a lost server: the trial goes stale instead
                study.tell(trial, state=TrialState.FAIL)
            raise
    return study.tell(trial, value)


def work(settings: SweepSettings, worker: int = 0, say=_print, should_stop=None,
         data=None) -> int:
    """Run trials until the study holds `settings.trials` finished or running ones; the count
    of trials this worker finished."""
    from ..data import load

    url = settings.storage_url()
    study = open_study(settings, worker)
    data = load(settings.data_dir) if data is None else data
    tag = f"worker {worker} (pid {os.getpid()})"
    objective = _objective(settings, data, tag, say, should_stop)
    ran = 0
    try:
        say(f"{tag} ready: study {settings.study!r}, {finished_count(study)} of "
            f"{settings.trials} trials finished")
        while True:
            if should_stop is not None and should_stop():  # start no further trial
                raise Interrupted("stopped between trials")
            trial = claim(study, settings)
            if trial is None:
                say(f"{tag} done: every one of the {settings.trials} trials is finished or "
                    f"running ({finished_count(study)} finished)")
                return ran
            frozen = run_trial(study, trial, objective, settings.heartbeat)
            ran += 1
            say(f"{tag} finished trial {frozen.number}: {_outcome(frozen)} | "
                f"{finished_count(study)} of {settings.trials} | {best_line(study)}")
    except Exception as e:
        if not _is_storage_error(e):
            raise
        raise StorageLost(f"lost the study storage {safe_url(url)} during the sweep "
                          f"({_first_line(e)}); the trials finished before are stored "
                          "there") from None


def _outcome(frozen) -> str:
    if frozen.state == TrialState.COMPLETE:
        return f"validation accuracy {frozen.value:.4f}"
    return (f"pruned after {frozen.user_attrs.get('epochs_run', 0)} epoch(s)"
            + (" (diverged)" if frozen.user_attrs.get("diverged") else ""))


def _objective(settings: SweepSettings, data, tag: str, say, should_stop):
    """The function of a trial: train its configuration, report each epoch, maybe prune."""
    def objective(trial):
        config = trial_config(trial, settings)
        trial.set_user_attr("config", config.to_dict())
        say(f"{tag} trial {trial.number} started: {describe_point(config)}")
        started = time.perf_counter()

        def epoch_done(row):
            say(f"{tag} trial {trial.number} epoch {row['epoch']}/{config.epochs}: "
                f"val acc {row['val_acc']:.4f} ({row['seconds']:.1f} s)")
            trial.report(row["val_acc"], row["epoch"])
            trial.set_user_attr("epochs_run", row["epoch"])
            if row["epoch"] < config.epochs and trial.should_prune():  # a full run: keep it
                raise optuna.TrialPruned(f"validation accuracy {row['val_acc']:.4f} after "
                                         f"epoch {row['epoch']} is below earlier trials'")

        try:
            result = fit(config, data, on_epoch=epoch_done, should_stop=should_stop,
                         test="never")
        except Diverged as e:
            trial.set_user_attr("diverged", True)
            raise optuna.TrialPruned(f"diverged in epoch {e.epoch}") from None
        finally:
            with contextlib.suppress(Exception):  # a lost server is reported by the caller
                trial.set_user_attr("seconds", round(time.perf_counter() - started, 2))
        return result.rows[-1]["val_acc"] if result.rows else 0.0
    return objective


def describe_point(config: TrainConfig) -> str:
    layers = "x".join(map(str, config.hidden)) if config.hidden else "none"
    text = (f"hidden {layers} {config.activation} {config.init}, {config.optimizer} "
            f"lr {config.lr:.3g}, batch {config.batch_size}, {config.epochs} epochs, "
            f"{config.schedule}, dropout {config.dropout:.2f}, wd {config.weight_decay:.2g}")
    return text + (f", augment {','.join(config.augment)}" if config.augment else "")


# ---- several local workers --------------------------------------------------------------------
def _worker_main(settings_dict: dict, worker: int, threads: int):
    """Entry point of a spawned worker process: start its threads (`threads` of them). SIGINT and
    SIGTERM (Ctrl-C reaches every process of the terminal; the parent forwards a SIGTERM) stop
    it after the current batch: the running trial is recorded FAIL, finished ones stay. An
    error is one line and exit status 2, never a traceback."""
    import signal
    import sys

    from ..engine import parallel
    parallel.set_threads(threads)  # results do not depend on it (engine/parallel.py)
    stop = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.append(True))
    try:
        work(SweepSettings(**settings_dict), worker, should_stop=lambda: bool(stop))
    except (KeyboardInterrupt, ScratchMLPError) as e:
        if stop:
            print(f"worker {worker} (pid {os.getpid()}) stopped by a signal; its running trial "
                  "is recorded as FAIL", flush=True)
            return
        # on stdout with the progress lines: stderr keeps the one error line of the parent
        print(f"worker {worker} (pid {os.getpid()}) stopped: {' '.join(str(e).split())}",
              flush=True)
        sys.exit(2)


def run_workers(settings: SweepSettings, say=_print, should_stop=None, data=None):
    """`settings.workers` workers on one study: in this process for 1, else spawned processes.
    When `should_stop()` turns true the workers are asked to stop (SIGTERM), then awaited."""
    from ..engine import parallel
    if settings.workers <= 1:
        parallel.set_threads(settings.threads)
        work(settings, 0, say=say, should_stop=should_stop, data=data)
        return
    import multiprocessing
    context = multiprocessing.get_context("spawn")  # no fork: BLAS threads and DB sessions
    threads = settings.threads or max(1, parallel.default_threads() // settings.workers)
    processes = [context.Process(target=_worker_main, args=(asdict(settings), i, threads),
                                 name=f"scratchmlp-sweep-worker-{i}")
                 for i in range(settings.workers)]
    for process in processes:
        process.start()
    stopping = _await_workers(processes, should_stop)
    if stopping:
        raise Interrupted("the sweep's workers stopped after their current batch")
    failed = [p.name for p in processes if p.exitcode not in (0, None)]
    if failed:
        raise ScratchMLPError(f"sweep worker(s) {', '.join(failed)} stopped with an error "
                              "(see their messages above); rerun to continue the study")


def _await_workers(processes, should_stop) -> bool:
    """Wait for every worker; forward a stop request as SIGTERM. True when one was made."""
    import multiprocessing.connection
    import signal
    stopping = False
    try:
        while any(process.is_alive() for process in processes):
            if not stopping and should_stop is not None and should_stop():
                stopping = True
                for process in processes:
                    if process.is_alive():
                        os.kill(process.pid, signal.SIGTERM)
            multiprocessing.connection.wait([p.sentinel for p in processes if p.is_alive()],
                                            timeout=0.2)
    except KeyboardInterrupt:  # asked twice: give them a moment to record, then end them
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.terminate()
        raise
    return stopping
