"""Runs on disk: a run folder's one writer (RunFolder), training into a folder, resuming it,
and the rule that no command writes over what it reads or over a run's own files.

This room sits above train (the Trainer, which writes nothing) and report (the pictures).
"""

from __future__ import annotations

from ..errors import OutOfMemory, ScratchMLPError
from .folder import (  # noqa: F401
    CORE_FILES, LOCK_NAME, PICTURES, RUN_FILES, RunFolder, RunFolderError, curves_title,
    unique_folder,
)
from .guard import check_output  # noqa: F401


def train_run(config, path, data, mode: str = "new", pictures: bool = True, **options):
    """Train `config` on `data` into the run folder `path` and return the RunResult.

    `mode`: "new" (the folder must hold no run), "force" (an earlier run's files are
    replaced) or "resume" (go on from its checkpoint; only the epoch count may change).
    `options` go to the Trainer (test, loss_limit, on_epoch, on_batch, should_stop). The
    folder is locked for the whole run; everything that can be refused is refused before the
    first file is written. A stop (Interrupted, Diverged) leaves the last finished epoch
    saved; the error says how many (`epochs_done`) and where (`folder`), as does any other
    error once training began (a full disk while an epoch or a picture is written).
    """
    from ..train.run import Start, Trainer
    folder = RunFolder(path)
    folder.check(mode)
    with folder:
        try:
            folder.check_owned(mode)
            start = folder.resume(config) if mode == "resume" else Start()
            trainer = Trainer(config, data, save=lambda t: folder.save_epoch(
                config, t.rows, t.model, t.optimizer.state_dict()), **options)
            trainer.prepare(start)  # refuses data sizes, optimiser state, memory
        except BaseException:
            folder.abandon()  # refused: the disk is as it was
            raise
        folder.claim()
        folder.prepare(mode)
        folder.epochs_saved = start.epoch - 1
        if start.epoch == 1:  # a failure here leaves no run to resume: a plain error
            folder.write_start(config, trainer.model)
        else:
            folder.write_config(config)  # only the epoch count can differ
            folder.write_resumed(config, start)  # a lost, swapped or longer file is redone
        try:
            try:
                result = trainer.fit()
            except MemoryError as e:  # was a traceback; the finished epochs are on disk
                raise OutOfMemory(e) from None
        except ScratchMLPError as e:
            # what the checkpoint holds: a failed save's epoch is in the rows, not on disk
            e.epochs_done, e.folder, e.lr = folder.epochs_saved, folder.path, config.lr
            raise
        result.directory = folder.path
        if pictures:
            try:
                folder.write_pictures(result)
            except ScratchMLPError as e:  # a full disk: every epoch is saved all the same
                e.epochs_done, e.folder = folder.epochs_saved, folder.path
                raise
    return result
