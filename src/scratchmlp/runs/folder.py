"""A run folder and its one writer.

RUN/ holds config.json, metrics.csv, model.npz, checkpoint.npz, curves.png and
predictions.png. `RunFolder` is the only code that writes them, and only while it holds the
folder's lock: an fcntl lock on RUN/.lock, which the kernel releases when its holder exits
however it exits (a SIGKILL leaves no stale lock). A second writer is refused, naming the PID.

Every file is replaced atomically (temp file, fsync, rename), so a reader (evaluate, predict,
export) sees either the old file or the new one. After an epoch metrics.csv and model.npz are
written first and checkpoint.npz last: the checkpoint is the commit point, and `resume`
trusts metrics.csv only up to its epoch.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
from pathlib import Path

from ..errors import ScratchMLPError
from ..files import atomic_write_text
from ..train.config import TrainConfig
from ..train.metrics import read_metrics, write_metrics
from ..train.modelfile import load_checkpoint, save_checkpoint, save_model
from ..train.run import Start

CORE_FILES = ("config.json", "metrics.csv", "model.npz", "checkpoint.npz")
PICTURES = ("curves.png", "predictions.png")
RUN_FILES = CORE_FILES + PICTURES
LOCK_NAME = ".lock"
MODES = ("new", "force", "resume")
MAY_CHANGE_ON_RESUME = ("epochs", "threads")  # how long, and on how many cores


class RunFolderError(ScratchMLPError):
    """A run folder that cannot be used as asked. `kind` names the case for the CLI's advice:
    missing, not_a_folder, holds_files, no_run, in_use, other_settings, ahead, inconsistent,
    cannot_write, lock_lost."""

    def __init__(self, folder, kind: str, message: str, at=None, **facts):
        self.folder, self.kind, self.facts = Path(folder), kind, facts
        super().__init__(f"{at} {message}" if at else f"{folder}: {message}")


class RunFolder:
    """One run's folder: checks, lock, the files' writer, and resume."""

    def __init__(self, path):
        self.path = Path(path)
        self._lock = None  # the open lock file while this process owns the folder
        self._made = []  # what acquire created: the folder, the lock file
        self.epochs_saved = 0  # the epoch of the last checkpoint this writer saved

    # ---- looking before touching ----------------------------------------------------------
    def leftovers(self) -> list:
        """Names in the folder other than the lock and temp files of interrupted writes."""
        if not self.path.is_dir():
            return []
        return sorted(p.name for p in self.path.iterdir()
                      if p.name != LOCK_NAME and not _is_temp(p.name))

    def check(self, mode: str):
        """Refuse a folder that cannot be used as `mode` (new, force, resume); touch nothing."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if self.path.exists() and not self.path.is_dir():
            raise RunFolderError(self.path, "not_a_folder", "exists and is not a folder")
        if self.path.is_symlink() and not self.path.exists():
            raise RunFolderError(self.path, "not_a_folder", "is a link to nothing")
        lock = self.path / LOCK_NAME
        if lock.is_symlink() or lock.exists() and not lock.is_file():
            raise RunFolderError(self.path, "bad_lock", f"{LOCK_NAME} there is not a plain "
                                 "file (a link, folder or device); remove it if no "
                                 "scratchmlp process is using the folder")
        holder = self.holder()
        if holder is not None:
            raise _in_use(self.path, holder)
        if mode == "resume":
            if not self.path.is_dir():
                raise RunFolderError(self.path, "missing", "no such run folder to resume")
            if not (self.path / "config.json").is_file():
                raise RunFolderError(self.path, "no_run", "no run to resume here (no config.json)")
        self._check_contents(mode)

    def holder(self):
        """The PID of the process that owns the folder now (0 if unknown), or None."""
        try:
            fd = os.open(self.path / LOCK_NAME, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
        except OSError:
            return None  # no lock file: nobody has ever trained here
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return _read_pid(fd)
        finally:
            os.close(fd)  # closing drops a shared lock we may have taken
        return None

    # ---- owning ----------------------------------------------------------------------------
    def acquire(self):
        """Create the folder if needed and take its lock, or refuse naming the holder.

        Taking the lock changes nothing on disk but a new folder or lock file, which
        `abandon` removes again; the PID is written by `claim`, once the run is accepted.
        """
        self._made = [p for p in (self.path, self.path / LOCK_NAME) if not p.exists()]
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        except OSError as e:
            raise _cannot_write(self.path, e) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            pid = _read_pid(fd)
            os.close(fd)
            if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise _in_use(self.path, pid) from None
            raise _cannot_write(self.path, e) from None
        self._lock = fd
        if not self._lock_is_ours():  # removed between our open and our flock
            self.release()
            raise _lock_lost(self.path)
        return self

    def claim(self):
        """Write our PID into the lock file, for the message of a refused second writer."""
        self._owned()
        with contextlib.suppress(OSError):
            os.ftruncate(self._lock, 0)
            os.pwrite(self._lock, f"{os.getpid()}\n".encode(), 0)

    def abandon(self):
        """Undo `acquire` for a run refused before it wrote anything: remove the lock file
        and the folder if this process created them."""
        if self._lock is None:
            return
        for path in reversed(self._made):
            with contextlib.suppress(OSError):
                path.rmdir() if path == self.path else path.unlink()

    def release(self):
        if self._lock is not None:
            os.close(self._lock)  # closing the descriptor releases the flock
            self._lock = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()

    def prepare(self, mode: str):
        """Under the lock: check again, sweep temp files of crashed writes, clear for force."""
        self._owned()
        self.check_owned(mode)
        try:
            for name in os.listdir(self.path):
                if _is_temp(name):
                    (self.path / name).unlink()
            if mode == "force":
                for name in RUN_FILES:
                    path = self.path / name
                    if path.is_dir() and not path.is_symlink():
                        shutil.rmtree(path)
                    elif path.exists() or path.is_symlink():
                        path.unlink()
        except OSError as e:
            raise _cannot_write(self.path, e) from None

    def check_owned(self, mode: str):
        """`check` as the owner: another process may have filled the folder meanwhile."""
        if mode == "resume" and not (self.path / "config.json").is_file():
            raise RunFolderError(self.path, "no_run", "no run to resume here (no config.json)")
        self._check_contents(mode)

    def _check_contents(self, mode: str):
        """A new run needs an empty folder; replacing one needs a run there (never a folder
        of other files that happen to share a name, such as a project's config.json)."""
        leftovers = self.leftovers()
        if mode in ("new", "force") and leftovers and not self.is_run():  # `--out .` said
            # "use --resume ." and --resume "no run to resume here"
            names = ", ".join(_short(name, 30) for name in leftovers[:3])
            more = f" and {len(leftovers) - 3:,} more" if len(leftovers) > 3 else ""
            rule = ("only a run's own files are ever replaced" if mode == "force" else
                    "a new run needs an empty folder")
            raise RunFolderError(self.path, "not_a_run", f"holds files but no scratchmlp run "
                                 f"({names}{more}); {rule}")
        if mode == "new" and leftovers:
            raise RunFolderError(self.path, "holds_files", "already holds files")

    def is_run(self) -> bool:
        """Trained here (the lock file is made before any run file) or written by an older
        scratchmlp (its metrics, model or checkpoint)."""
        return any((self.path / name).exists() or (self.path / name).is_symlink()
                   for name in (LOCK_NAME, "metrics.csv", "model.npz", "checkpoint.npz"))

    # ---- writing ---------------------------------------------------------------------------
    def write_config(self, config: TrainConfig):
        self._owned()
        atomic_write_text(self.path / "config.json", config.to_json())

    def write_start(self, config: TrainConfig, model):
        """A new run's files before its first epoch: config, empty metrics, initial weights."""
        self.write_config(config)
        write_metrics(self.path / "metrics.csv", [])
        self.write_model(config, model)

    def write_model(self, config: TrainConfig, model):
        self._owned()
        save_model(self.path / "model.npz", model, config)

    def write_resumed(self, config: TrainConfig, start: Start):
        """metrics.csv and model.npz as the checkpoint has them, before resuming: a finished
        run that --resume had nothing to train for kept a model.npz deleted or swapped with
        another run's, and metrics.csv rows past the checkpoint (`runs` then called it
        damaged)."""
        self._owned()
        write_metrics(self.path / "metrics.csv", start.rows)
        self.write_model(config, start.model)

    def save_epoch(self, config: TrainConfig, rows: list, model, optimizer_state: dict):
        """The state after the last row's epoch; checkpoint.npz last, as the commit point."""
        self._owned()
        write_metrics(self.path / "metrics.csv", rows)
        save_model(self.path / "model.npz", model, config)
        save_checkpoint(self.path / "checkpoint.npz", model, config, rows[-1]["epoch"],
                        optimizer_state)
        self.epochs_saved = rows[-1]["epoch"]

    def write_pictures(self, result):
        """curves.png from the rows, predictions.png from the first test images."""
        from ..data import LABELS
        from ..report import plot_curves, plot_predictions
        from ..train import predict
        self._owned()
        config = result.config
        plot_curves(result.rows, self.path / "curves.png", title=curves_title(config))
        images, truth, guesses = predict(result.model, result.test_iter, n=12)
        plot_predictions(images, truth, guesses, LABELS, self.path / "predictions.png")

    def _owned(self):
        if self._lock is None:
            raise RuntimeError(f"{self.path}: write without holding the run folder's lock")
        if not self._lock_is_ours():
            raise _lock_lost(self.path)

    def _lock_is_ours(self) -> bool:
        """RUN/.lock is still the file we locked. One removed while we train (taken for a
        stale lock) let a second process lock a new one and write the same folder: each
        swept the other's temp files and mixed two runs' files."""
        try:
            st = os.stat(self.path / LOCK_NAME, follow_symlinks=False)
            mine = os.fstat(self._lock)
        except OSError:
            return False
        return (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino)

    # ---- reading ---------------------------------------------------------------------------
    def read_config(self) -> TrainConfig:
        return TrainConfig.load(self.path / "config.json")

    def read_metrics(self) -> list:
        return read_metrics(self.path / "metrics.csv")

    def resume(self, config: TrainConfig) -> Start:
        """Everything needed to go on training this run with `config`, checked against what
        the folder holds: its config.json, its checkpoint (and that checkpoint's own config,
        arrays and optimiser state) and its metrics. A folder whose first epoch never
        finished resumes from the start."""
        saved = self.read_config()
        _same_settings(self.path, saved, config, "config.json")
        checkpoint = self.path / "checkpoint.npz"
        if not checkpoint.is_file():
            # a crash before epoch 1's checkpoint leaves at most its row; more means the
            # checkpoint was lost (it retrained from epoch 1 without a word)
            finished = len(self.read_metrics())
            if finished > 1:
                raise RunFolderError(self.path, "inconsistent", f"is missing, though "
                                     f"metrics.csv holds {finished} finished epochs", at=checkpoint)
            return Start()
        model, made_with, done, state = load_checkpoint(checkpoint, expected=saved)
        _same_settings(self.path, made_with, saved, "checkpoint.npz (against config.json)",
                       kind="inconsistent")  # not the user's flags: the folder's own files
        if done > made_with.epochs:
            raise RunFolderError(self.path, "inconsistent", f"claims epoch {done:,} of a "
                                 f"{made_with.epochs}-epoch run", at=checkpoint)
        if done > config.epochs:
            raise RunFolderError(self.path, "ahead", f"{done} epochs are already done, more "
                                 f"than the {config.epochs} asked for", done=done)
        rows = [row for row in self.read_metrics() if row["epoch"] <= done]
        if [row["epoch"] for row in rows] != list(range(1, done + 1)):
            raise RunFolderError(self.path, "inconsistent", f"does not hold epochs 1-{done} of "
                                 "checkpoint.npz", at=self.path / "metrics.csv")
        return Start(model, done + 1, rows, state)


def unique_folder(stem) -> Path:
    """A new empty folder named `stem`, or `stem-2`, `stem-3`, ... when another process took
    the name first (runs started in the same second): made here, so no one else can have it."""
    stem = Path(stem)
    try:
        stem.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise _cannot_write(stem.parent, e) from None
    for k in range(1, 1000):
        path = stem if k == 1 else stem.with_name(f"{stem.name}-{k}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
        except OSError as e:
            raise _cannot_write(path, e) from None
    raise RunFolderError(stem, "cannot_write", "999 folders of that name exist already")


def curves_title(config) -> str:
    sizes = "-".join(map(str, config.sizes))
    return f"MLP {sizes}, {config.optimizer} lr {config.lr:.3g}"


def _same_settings(folder: Path, then: TrainConfig, now: TrainConfig, what: str,
                   kind: str = "other_settings"):
    before, after = then.to_dict(), now.to_dict()
    changed = [f"{k} {_short(before.get(k))} there, {_short(after.get(k))} here"
               for k in sorted(set(before) | set(after))
               if k not in MAY_CHANGE_ON_RESUME and before.get(k) != after.get(k)]
    if changed:
        raise RunFolderError(folder, kind, f"the run was made with other settings "
                             f"({'; '.join(changed)}) in {what}", changed=changed)


def _short(value, width: int = 40) -> str:
    text = str(value)
    return text if len(text) <= width else text[:width - 3] + "..."


def _is_temp(name: str) -> bool:
    """Temp files of atomic writes (files.atomic_open): .NAME.RANDOM.tmp"""
    return name.startswith(".") and name.endswith(".tmp")


def _read_pid(fd: int) -> int:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        return int(text) if text.isdigit() else 0
    except OSError:
        return 0


def _in_use(folder: Path, pid) -> RunFolderError:
    who = f"process {pid}" if pid else "another process"
    return RunFolderError(folder, "in_use", f"in use by {who}, which is training it now",
                          pid=pid)


def _lock_lost(folder: Path) -> RunFolderError:
    return RunFolderError(folder, "lock_lost", f"{LOCK_NAME} was removed or replaced while "
                          "this process held it, so another process may be writing the folder; "
                          "stopped before writing more")


def _cannot_write(folder: Path, error: OSError) -> RunFolderError:
    return RunFolderError(folder, "cannot_write",
                          f"cannot use the run folder ({error.strerror or error})")
