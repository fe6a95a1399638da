"""Optuna studies over `fit()`: one trial = one training run scored on the validation split.

Tuning never looks at the test set: trials train on the training images less the validation
split (data.split_validation) and report validation accuracy after every epoch, which the
pruner uses to stop poor trials early. The study lives in an RDB storage: an SQLite file in
the output folder by default (running the command again continues the study), or a
PostgreSQL URL that workers on many machines share. Workers send heartbeats; a trial whose
worker died (kill -9, power cut) is marked FAIL once its heartbeat is stale and re-queued with
the same parameters, so a crash costs at most the trials that were running.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import optuna
from optuna.storages import RDBStorage
from optuna.study import MaxTrialsCallback
from optuna.trial import TrialState

from ..errors import ScratchMLPError
from ..train.config import TrainConfig
from ..train.loop import Diverged
from ..train.run import Interrupted, fit
from .space import suggest, to_config_values

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


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
        return "sqlite:///" + str((Path(self.out) / "study.db").resolve())

    def identity(self) -> dict:
        """What must not change between runs of one study (else results are not comparable)."""
        return {"subset": self.subset, "validation": self.validation, "seed": self.seed,
                "space": self.space}


def sqlalchemy_url(url: str) -> str:
    """postgresql://... means psycopg (version 3) here, the driver scratchmlp[sweep] installs;
    SQLAlchemy alone would look for psycopg2. URLs naming a driver are left alone."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


class _InterruptedTrialLine:
    """Optuna logs a failed trial with its traceback; for a trial stopped by Ctrl-C or SIGTERM
    that is noise, so such a record becomes one line and keeps no traceback."""

    @staticmethod
    def filter(record) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, (Interrupted, KeyboardInterrupt)):
            record.msg = (record.getMessage().split(" because of")[0]
                          + " because the sweep was stopped; it is recorded as FAIL")
            record.args, record.exc_info, record.exc_text = (), None, None
        return True


def _quiet_optuna():
    import logging
    import warnings
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    failures = logging.getLogger("optuna.study._optimize")  # where optuna logs failed trials
    if not any(isinstance(f, _InterruptedTrialLine) for f in failures.filters):
        failures.addFilter(_InterruptedTrialLine())
    # heartbeats and their retry callback are marked experimental; we rely on them knowingly
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


def _retry_stale_trials() -> dict:
    """The storage argument that re-queues a dead worker's trial (renamed in optuna 4.9)."""
    if hasattr(optuna.storages, "RetryHeartbeatStaleTrialCallback"):
        return {"heartbeat_stale_trial_callback":
                optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=2)}
    return {"failed_trial_callback": optuna.storages.RetryFailedTrialCallback(max_retry=2)}


def open_study(settings: SweepSettings, worker: int = 0) -> optuna.Study:
    """Create the study, or load it to continue; refuse to mix other settings into it.

    The sampler's seed mixes the sweep's seed, the worker's number and the trials already
    in the study: workers started together, or a study continued later, draw new points
    instead of repeating the same random start (a repeated seed would repeat the trials)."""
    _quiet_optuna()
    if not settings.storage:
        Path(settings.out).mkdir(parents=True, exist_ok=True)
    url = settings.storage_url()
    engine_kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
    try:
        storage = RDBStorage(url, engine_kwargs=engine_kwargs,
                             heartbeat_interval=settings.heartbeat,
                             grace_period=2 * settings.heartbeat, **_retry_stale_trials())
        pruner = (optuna.pruners.PercentilePruner(settings.prune_percentile, n_startup_trials=5,
                                                  n_warmup_steps=settings.prune_warmup)
                  if settings.prune else optuna.pruners.NopPruner())
        study = optuna.create_study(storage=storage, study_name=settings.study,
                                    direction="maximize", pruner=pruner, load_if_exists=True)
    except ImportError as e:
        raise ScratchMLPError(f"storage {_safe_url(url)} needs a driver that is not installed "
                              f"({e}); install scratchmlp[sweep]") from None
    except Exception as e:  # sqlalchemy's OperationalError and friends: a bad URL or server
        if type(e).__module__.startswith(("sqlalchemy", "psycopg")):
            raise ScratchMLPError(f"cannot open the study storage {_safe_url(url)}: "
                                  f"{str(e).splitlines()[0]}") from None
        raise
    identity = json.loads(json.dumps(settings.identity()))
    saved = study.user_attrs.get("settings")
    if saved is None:
        study.set_user_attr("settings", identity)
    elif saved != identity:
        changed = sorted(k for k in identity if identity[k] != saved.get(k))
        raise ScratchMLPError(f"study {settings.study!r} in {_safe_url(url)} was started with "
                              f"other settings ({', '.join(changed)} differ); rerun with the "
                              "same ones, or choose another --study or --out")
    import numpy as np
    seed = int(np.random.SeedSequence([settings.seed, worker, len(study.trials)])
               .generate_state(1)[0])
    # random points first, then TPE; a small budget must not be spent on random points only
    startup = min(10, max(3, settings.trials // 4))
    study.sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup,
                                               constant_liar=True)
    return study


def _safe_url(url: str) -> str:
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


def work(settings: SweepSettings, worker: int = 0, say=_print, should_stop=None) -> int:
    """Run trials until the study holds `settings.trials` finished ones; the count this ran."""
    from ..data import load

    study = open_study(settings, worker)
    optuna.storages.fail_stale_trials(study)  # trials of dead workers: FAIL, then re-queued
    data = load(settings.data_dir)
    ran = [0]
    tag = f"worker {worker} (pid {os.getpid()})"
    say(f"{tag} ready: study {settings.study!r}, {finished_count(study)} of "
        f"{settings.trials} trials finished")

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
            result = fit(config, None, data, on_epoch=epoch_done, should_stop=should_stop,
                         test="never")
        except Diverged as e:
            trial.set_user_attr("diverged", True)
            raise optuna.TrialPruned(f"diverged in epoch {e.epoch}") from None
        finally:
            trial.set_user_attr("seconds", round(time.perf_counter() - started, 2))
        return result.rows[-1]["val_acc"] if result.rows else 0.0

    def trial_done(study, frozen):
        if frozen.state not in FINISHED:
            return
        ran[0] += 1
        outcome = (f"validation accuracy {frozen.value:.4f}" if frozen.state == TrialState.COMPLETE
                   else f"pruned after {frozen.user_attrs.get('epochs_run', 0)} epoch(s)"
                   + (" (diverged)" if frozen.user_attrs.get("diverged") else ""))
        say(f"{tag} finished trial {frozen.number}: {outcome} | "
            f"{finished_count(study)} of {settings.trials} | {best_line(study)}")

    if should_stop is not None and should_stop():  # stopped while loading: start no trial
        raise Interrupted("stopped before its first trial")
    if finished_count(study) < settings.trials:
        study.optimize(objective, n_trials=settings.trials, gc_after_trial=True,
                       callbacks=[MaxTrialsCallback(settings.trials, states=FINISHED), trial_done])
    return ran[0]


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
    it after the current batch: the running trial is recorded FAIL, finished ones stay."""
    import signal

    from ..engine import parallel
    parallel.set_threads(threads)  # results do not depend on it (engine/parallel.py)
    stop = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.append(True))
    try:
        work(SweepSettings(**settings_dict), worker, should_stop=lambda: bool(stop))
    except (KeyboardInterrupt, ScratchMLPError):
        if not stop:
            raise
        print(f"worker {worker} (pid {os.getpid()}) stopped by a signal; its running trial is "
              "recorded as FAIL", flush=True)


def run_workers(settings: SweepSettings, say=_print, should_stop=None):
    """`settings.workers` workers on one study: in this process for 1, else spawned processes.
    When `should_stop()` turns true the workers are asked to stop (SIGTERM), then awaited."""
    open_study(settings)  # create it once here, so workers do not race to create it
    from ..engine import parallel
    if settings.workers <= 1:
        parallel.set_threads(settings.threads)
        work(settings, 0, say=say, should_stop=should_stop)
        return
    import multiprocessing
    import multiprocessing.connection
    import signal
    context = multiprocessing.get_context("spawn")  # no fork: BLAS threads and DB sessions
    threads = settings.threads or max(1, parallel.default_threads() // settings.workers)
    processes = [context.Process(target=_worker_main, args=(asdict(settings), i, threads),
                                 name=f"scratchmlp-sweep-worker-{i}")
                 for i in range(settings.workers)]
    for process in processes:
        process.start()
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
    if stopping:
        raise Interrupted("the sweep's workers stopped after their current batch")
    failed = [p.name for p in processes if p.exitcode not in (0, None)]
    if failed:
        raise ScratchMLPError(f"sweep worker(s) {', '.join(failed)} stopped with an error "
                              "(see their messages above); rerun to continue the study")
