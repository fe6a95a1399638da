"""`scratchmlp sweep`: exercise 4, a hyperparameter search with Optuna on the validation split."""

from __future__ import annotations

from ..errors import ScratchMLPError

HELP = "search hyperparameters with Optuna (validation accuracy; the test set is never used)"

DESCRIPTION = HELP + """.

Each trial trains one configuration on the training images less a validation split and is
scored on that split after every epoch; poor trials are pruned early. The study is stored in
OUT/study.db (SQLite) unless --storage names a database; running the command again continues
it until it holds --trials finished trials. Results: OUT/trials.csv, OUT/best.json (a
configuration for `scratchmlp train --config`), OUT/history.png, OUT/importances.png."""


def register(subparsers):
    import argparse

    from .common import path_text
    p = subparsers.add_parser("sweep", help=HELP, description=DESCRIPTION,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--trials", type=int, default=30,
                   help="finished trials the study should hold (default 30)")
    p.add_argument("--workers", type=int, default=1,
                   help="local worker processes sharing the study (default 1)")
    p.add_argument("--storage", metavar="URL", type=_url_text,
                   help="study database, e.g. postgresql://user@host/db for workers on many "
                        "machines, the password in ~/.pgpass, not here (see docs/sweeps.md; "
                        "default: sqlite file OUT/study.db)")
    p.add_argument("--study", default="scratchmlp", type=_study_name,
                   help="study name (default scratchmlp)")
    p.add_argument("--out", metavar="DIR", default="runs/sweep", type=path_text,
                   help="output folder (default runs/sweep)")
    p.add_argument("--best", metavar="FILE", type=path_text,
                   help="also write the best configuration here")
    p.add_argument("--space", metavar="FILE|NAME|JSON", type=path_text,
                   help="JSON object narrowing the search space, in a file, by name (the "
                        "shipped stage1, stage2, stage3) or as text, e.g. "
                        '{"optimizer": ["adam"], "lr": {"low": 1e-4, "high": 1e-2, "log": true}} '
                        "(default: the whole space)")
    p.add_argument("--epochs", type=int, metavar="N",
                   help="fix every trial's epochs to N instead of searching them")
    p.add_argument("--subset", type=int, metavar="N",
                   help="train trials on the first N training images (after the validation split; "
                        "default: all that are left)")
    p.add_argument("--validation", type=int, default=10000, metavar="N",
                   help="training images held out to score trials (default 10000)")
    p.add_argument("--seed", type=int, default=0, help="training and sampler seed (default 0)")
    p.add_argument("--no-prune", action="store_true", help="run every trial to its end")
    p.add_argument("--prune-warmup", type=int, default=2, metavar="EPOCHS",
                   help="epochs a trial always runs before it may be pruned (default 2)")
    p.add_argument("--prune-percentile", type=float, default=50.0, metavar="P",
                   help="prune a trial whose validation accuracy is below the P-th percentile "
                        "of earlier trials at the same epoch (default 50: the median)")
    p.add_argument("--heartbeat", type=int, default=30, metavar="SECONDS",
                   help="seconds between heartbeats of a running trial; a trial silent for "
                        "twice as long is taken as dead and re-queued (default 30)")
    p.add_argument("--report-only", action="store_true",
                   help="run no trials: only write the table, best.json and plots")
    from .common import add_data_flag, add_threads_flag
    add_data_flag(p)
    add_threads_flag(p, "threads per worker", "the cores this process may use, shared out "
                     "among the workers")
    p.set_defaults(func=run)


def run(args) -> int:
    _check_numbers(args)
    _check_outputs(args)
    _check_installed(args.storage)
    from ..sweep import export, study
    from ..sweep.space import load_space

    space = load_space(_space_source(args.space),
                       {"epochs": args.epochs} if args.epochs else None)
    settings = study.SweepSettings(
        out=args.out, storage=args.storage, study=args.study, trials=args.trials,
        workers=args.workers, subset=args.subset, validation=args.validation, seed=args.seed,
        space=space, heartbeat=args.heartbeat, prune=not args.no_prune,
        prune_warmup=args.prune_warmup, prune_percentile=args.prune_percentile,
        data_dir=args.data_dir, threads=args.threads)
    study.check_storage(settings.storage_url(), made_here=not args.storage)
    data = None if args.report_only else _checked_data(args)  # before the study holds anything
    where = study.safe_url(settings.storage_url())
    print(f"sweep: study {settings.study!r} in {where}, {settings.trials} trials, "
          f"{settings.workers} worker(s), validation {settings.validation} images"
          + (f", subset {settings.subset}" if settings.subset else ""), flush=True)
    with _advice():
        # a refusal here is one line, before any worker
        current = study.open_study(settings, existing=args.report_only)
        interrupted = None if args.report_only else _run_trials(study, settings, data)
        try:
            current = study.open_study(settings, existing=True)
        except ScratchMLPError:
            if interrupted is None:
                raise
            raise interrupted from None  # the first cause, not its echo (a lost server)
    _report(study, export, current, settings, args.best)
    if interrupted is not None:
        from ..train.run import Interrupted
        if isinstance(interrupted, (KeyboardInterrupt, Interrupted)):
            raise Interrupted("interrupted; finished trials are stored: run the same command "
                              "again to continue the study")
        raise interrupted
    return 0


def _run_trials(study, settings, data):
    """Run the workers; an interruption or a worker's error is returned (finished trials are
    stored, so the report is still written), a lost server raised."""
    from .common import StopFlag
    with StopFlag() as stop:
        try:
            study.run_workers(settings, should_stop=stop, data=data)
        except study.StorageLost:
            raise
        except (KeyboardInterrupt, ScratchMLPError) as e:
            return e
    return None


def _check_outputs(args):
    """--out, and --best (written after the trials: refused now, not after hours of them)."""
    from pathlib import Path

    from .common import check_output_folder
    check_output_folder(args.out)
    if args.best:
        if Path(args.best).is_dir():
            raise ScratchMLPError(f"--best {args.best}: is a folder; name a file such as "
                                  "best.json")
        check_output_folder(Path(args.best).parent, "--best")
        _check_best_file(Path(args.best))


def _check_best_file(best):
    """--best RUN/model.npz replaced a trained model with JSON, RUN/config.json a run's
    settings: a run's own files are refused, and any name but .json (or none)."""
    from ..runs import check_output
    from ..runs.guard import OutputRefused
    try:
        check_output(best)
    except OutputRefused as e:
        raise ScratchMLPError(f"{e}; choose another --best") from None
    if best.suffix and best.suffix.lower() != ".json":
        raise ScratchMLPError(f"--best {best}: a JSON configuration in a .{best.suffix[1:]} "
                              "file; name a file ending in .json")


def _space_source(text):
    """--space as JSON text, a file, or a shipped search space by name (stage1, ...)."""
    if text is None or text.lstrip().startswith("{"):
        return text
    from ..recipes import find
    return find(text, "search space")


MAX_WORKERS = 64  # local processes, each training a network: more is a typo


def _study_name(text: str) -> str:
    """--study as given; an empty or blank one (`--study "$UNSET"`) made a study named ''."""
    import argparse
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty name; give the study a name, or leave "
                                         "--study out (scratchmlp)")
    return text


def _url_text(text: str) -> str:
    """--storage as given; an empty one (`--storage "$UNSET"`) is refused, never taken as the
    default SQLite file."""
    import argparse
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty URL; give a database URL such as "
                                         "postgresql://user@host/db, or leave --storage out")
    return text


def _check_numbers(args):
    for flag, value in (("--trials", args.trials), ("--workers", args.workers),
                        ("--heartbeat", args.heartbeat), ("--epochs", args.epochs),
                        ("--subset", args.subset)):
        if value is not None and value <= 0:
            raise ScratchMLPError(f"{flag} must be positive, got {value}")
    for flag, value, most in (("--workers", args.workers, MAX_WORKERS),
                              ("--heartbeat", args.heartbeat, 86400),
                              ("--seed", args.seed, 2 ** 32 - 1)):
        if value is not None and not 0 <= value <= most:
            shown = value if abs(value) < 10 ** 30 else "a number of over 30 digits"
            raise ScratchMLPError(f"{flag} must be between {0 if flag == '--seed' else 1} and "
                                  f"{most}, got {shown}")
    if args.threads is not None:
        from ..ranges import RANGES, shown
        if not RANGES["threads"].holds(args.threads):
            raise ScratchMLPError(f"--threads must be {RANGES['threads'].words}, got "
                                  f"{shown(args.threads)}")
    if args.prune_warmup < 0 or not 0 < args.prune_percentile < 100:
        raise ScratchMLPError("--prune-warmup must be 0 or more and --prune-percentile "
                              "between 0 and 100")
    if args.validation <= 0:
        raise ScratchMLPError("--validation must be positive: a sweep is scored on the "
                              "validation split, never on the test set")


def _check_installed(storage):
    """Optuna, and psycopg for a PostgreSQL URL: said with the command that installs them."""
    import importlib.util

    from .common import install_hint
    if importlib.util.find_spec("optuna") is None:
        raise ScratchMLPError("the sweep needs Optuna, which is not installed; install it: "
                              + install_hint("sweep", "'optuna>=4.0'"))
    if storage and storage.startswith(("postgresql://", "postgres://")) \
            and importlib.util.find_spec("psycopg") is None:
        raise ScratchMLPError("a PostgreSQL storage needs the psycopg driver, which is not "
                              "installed; install it: "
                              + install_hint("postgres", "'psycopg[binary]>=3.1'"))


def _checked_data(args):
    """The data, with --validation and --subset checked against it (one line, nothing stored)."""
    from ..data import split_validation
    from .common import load_data
    data = load_data(args)
    total = len(data.train_labels)
    if args.validation >= total:
        raise ScratchMLPError(f"--validation {args.validation} leaves no training images: the "
                              f"training set has {total}; give fewer than {total}")
    try:
        split_validation(data, args.validation, args.subset)
    except ScratchMLPError:
        left = total - args.validation
        raise ScratchMLPError(f"--subset {args.subset} is more than the {left} training images "
                              f"left after --validation {args.validation}; give --subset {left} "
                              "or fewer") from None
    return data


def _advice():
    """The study's refusals, completed with the flags that fix them."""
    import contextlib

    from ..sweep import study

    @contextlib.contextmanager
    def advise():
        try:
            yield
        except study.SettingsDiffer as e:
            raise study.SettingsDiffer(f"{e}; rerun with the same ones, or choose another "
                                       "--study or --out", e.changed) from None
        except study.NoStudy as e:
            raise study.NoStudy(f"{e}; run the sweep without --report-only first, or check "
                                "--study, --out and --storage") from None
        except study.StorageLost as e:
            raise study.StorageLost(f"{e}: run the same command again once it is back") from None
    return advise()


def _report(study, export, current, settings, best_path):
    import sys
    written = export.export(current, settings.out, best_path)
    if "no_best" in written:
        print(f"scratchmlp: note: best.json not written: {written['no_best']}", file=sys.stderr)
    print(export.format_table(written["rows"]))
    print(f"{study.finished_count(current)} of {settings.trials} trials finished; "
          f"{study.best_line(current)}")
    for key in ("trials", "best", "best_copy", "history", "importances"):
        if key in written:
            print(f"  {key.replace('_copy', '')}: {written[key]}")
    if "best" in written:
        print(f"retrain it on all training images and score the test set: "
              f"scratchmlp train --config {written.get('best_copy', written['best'])}")
