"""`scratchmlp train`: the chapter's training, with a progress bar and a run folder."""

from __future__ import annotations

import argparse
import contextlib
import sys
import time

from ..errors import ScratchMLPError
from ..ranges import SettingError, shown
from .common import StopFlag, add_data_flag, add_threads_flag, load_data, path_text, use_threads

HELP = "train an MLP (the chapter's 784-256-10 by default) into a run folder"


def hidden_widths(text: str) -> list:
    """'256' or '256,128' -> [256] / [256, 128]; the widths' range is TrainConfig's to check."""
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:  # also a number of more than 4,300 digits
        raise argparse.ArgumentTypeError(
            f"{shown(text)}: give layer widths as whole numbers separated by commas, "
            "e.g. 256 or 256,128") from None


def _number(kind):
    """An argparse type that parses text into a number (int: a whole number) and nothing more:
    the ranges are TrainConfig's to check, and config_from_flags names the flag."""
    what = "a whole number" if kind is int else "a number"

    def parse(text: str):
        try:
            return kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {shown(text)}") from None
    return parse


def augmentations(text: str) -> list:
    """'shift', 'flip', 'shift,flip' or 'none' -> a list of augmentation names."""
    names = [part.strip() for part in text.split(",") if part.strip()]
    if names == ["none"]:
        return []
    if not names or any(n not in ("shift", "flip") for n in names) or len(set(names)) < len(names):
        raise argparse.ArgumentTypeError(f"{text!r}: give shift, flip, shift,flip or none")
    return names


SETTINGS = ("hidden", "lr", "epochs", "batch_size", "seed", "activation", "init", "optimizer",
            "momentum", "weight_decay", "dropout", "schedule", "augment", "validation", "subset")


def add_setting_flags(p, hidden: bool = True):
    """The flags that set a TrainConfig field (shared by train and explore)."""
    if hidden:
        p.add_argument("--hidden", type=hidden_widths, metavar="W[,W...]",
                       help="hidden layer widths; a comma list gives more layers (default 256)")
    p.add_argument("--lr", type=_number(float),
                   help="learning rate (default 0.5)")
    p.add_argument("--epochs", type=_number(int),
                   help="number of epochs (default 10)")
    p.add_argument("--batch-size", type=_number(int),
                   help="minibatch size (default 256)")
    p.add_argument("--seed", type=_number(int),
                   help="seed for initialisation and shuffling (default 0)")
    p.add_argument("--activation", help="relu (default), sigmoid or tanh")
    p.add_argument("--init", help="normal (the chapter's N(0, 0.01), default), xavier or he")
    p.add_argument("--optimizer", help="sgd (the chapter's, default), momentum or adam")
    p.add_argument("--momentum", type=_number(float),
                   help="momentum coefficient of --optimizer momentum (default 0.9)")
    p.add_argument("--weight-decay", type=_number(float),
                   help="L2 penalty on the weights, applied in the update (default 0)")
    p.add_argument("--dropout", type=_number(float),
                   help="drop probability after each hidden layer, training only (default 0)")
    p.add_argument("--schedule", help="learning rate schedule: constant (default) or cosine")
    p.add_argument("--augment", type=augmentations, metavar="KIND[,KIND]",
                   help="training-time augmentation: shift (up to 2 pixels), flip "
                        "(left-right), or shift,flip; 'none' turns it off (default none)")
    p.add_argument("--subset", type=_number(int), metavar="N",
                   help="train on the first N training images only (default all)")
    p.add_argument("--config", metavar="FILE|NAME", type=path_text,
                   help="read settings from a JSON file, or a shipped recipe by name: chapter, "
                        "best (flags given here override it; default: the chapter's settings)")


def register(subparsers):
    p = subparsers.add_parser("train", help=HELP, description=HELP)
    add_setting_flags(p)
    p.add_argument("--validation", type=_number(int),
                   metavar="N",
                   help="hold out N training images and score them each epoch (default 0)")
    p.add_argument("--test-once", action="store_true",
                   help="score the test set once, after the last epoch, instead of after "
                        "every epoch")
    add_data_flag(p)
    add_threads_flag(p)
    p.add_argument("--out", metavar="RUN", type=path_text,
                   help="run folder (default runs/mlp-DATE-TIME)")
    p.add_argument("--resume", metavar="RUN", type=path_text, help="continue an interrupted run")
    p.add_argument("--force", action="store_true", help="overwrite an existing run folder")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--quiet", "-q", action="store_true",
                   help="print nothing but errors (and the JSON object with --json)")
    p.add_argument("--json", action="store_true",
                   help="end with one JSON object on stdout (run folder, epochs, final metrics, "
                        "files written); the progress lines go to stderr")
    p.set_defaults(func=run)


def config_from_flags(args, base: dict = None):
    """A TrainConfig: `base` (or --config FILE|NAME, or the chapter's), then the flags given."""
    from ..train.config import TrainConfig
    if getattr(args, "config", None):
        from ..recipes import find
        base = TrainConfig.load(find(args.config)).to_dict()
    elif base is None:
        base = TrainConfig().to_dict()
    for name in SETTINGS:
        value = getattr(args, name, None)
        if value is not None:
            base[name] = value
    try:
        return TrainConfig.from_dict(base, "command line")
    except SettingError as e:
        raise _flag_advice(e, args) from None


def _flag_advice(error, args):
    """A setting refused by TrainConfig, told as the flag that set it (when a flag did), in
    argparse's format."""
    if getattr(args, error.name, None) is None:
        return error
    flag = "--" + error.name.replace("_", "-")
    fact = error.fact if error.detailed else \
        f"expected {error.expected}, got {shown(error.value)}"
    return ScratchMLPError(f"argument {flag}: {fact}; "
                           f"see 'scratchmlp {getattr(args, 'command', 'train')} --help'")


def _config(args):
    if args.resume:
        from ..train.config import TrainConfig
        base = TrainConfig.load(f"{args.resume}/config.json").to_dict()
        args.config = None
        return config_from_flags(args, base)
    return config_from_flags(args)


def run(args) -> int:
    from pathlib import Path

    from ..runs import RunFolder, train_run, unique_folder
    if args.resume and args.out and Path(args.out) != Path(args.resume):
        raise ScratchMLPError("--resume names the run folder itself; drop --out")
    if args.resume and args.force:
        raise ScratchMLPError("--resume and --force contradict each other: choose one")
    mode = "resume" if args.resume else "force" if args.force else "new"
    if args.resume or args.out:
        out = Path(args.resume or args.out)
    else:  # made now, so trains started in the same second each get their own
        with run_advice("runs"):
            out = unique_folder(time.strftime("runs/mlp-%Y%m%d-%H%M%S"))
    with run_advice(out), _removed_if_unused(out, made=not (args.resume or args.out)):
        RunFolder(out).check(mode)  # before anything slow, touching nothing
        config = _config(args)
        config.threads = use_threads(args)  # recorded in config.json; not compared on resume
        data = load_data(args)
        report = Report(args)
        report.header(config, out)
        progress = report.progress(config, training_images(config, len(data.train_labels)))
        with StopFlag() as stop:
            try:
                result = train_run(config, out, data, mode=mode, on_epoch=progress.epoch,
                                   on_batch=progress.batch, should_stop=stop,
                                   test="end" if args.test_once else "epoch")
            finally:
                progress.close()
    return report.finish(result, out)


@contextlib.contextmanager
def _removed_if_unused(out, made: bool):
    """The default folder this command made is removed again if the run never starts."""
    try:
        yield
    except BaseException:
        if made:
            with contextlib.suppress(OSError):
                out.rmdir()  # only while empty: a started run keeps its files
        raise


# What to do about a run folder that cannot be used as asked: the library states the facts
# (runs.RunFolderError.kind), the command line adds the flags.
_FOLDER_ADVICE = {
    "missing": "check the path",
    "not_a_folder": "choose another --out",
    "holds_files": "use --resume {out} to continue that run, --force to overwrite it, or "
                   "another --out",
    "no_run": "start a new run with --out instead",
    "in_use": "wait for it to finish, or stop that process first",
    "not_a_run": "choose another --out",
    "other_settings": "resume it without changing them (only --epochs may change)",
    "ahead": "give --epochs {done} or more to continue it",
    "inconsistent": "restore the file, or start again with --force",
    "cannot_write": "check its permissions and free space, or choose another --out",
    "lock_lost": "leave .lock alone while a run trains; see what the folder holds with "
                 "scratchmlp runs {out}",
}


@contextlib.contextmanager
def run_advice(out):
    """Turn the library's facts about a run (folder refused, diverged, interrupted) into
    one line of advice naming the flags that help."""
    from ..errors import OutOfMemory, ScratchMLPError
    from ..runs import RunFolderError
    from ..train.loop import Diverged
    from ..train.run import Interrupted
    try:
        yield
    except RunFolderError as e:
        advice = _FOLDER_ADVICE.get(e.kind, "").format(out=e.folder, **e.facts)
        raise ScratchMLPError(f"{e}; {advice}" if advice else str(e)) from None
    except Interrupted as e:
        e.args = (f"interrupted: {_saved(e)}; continue with: scratchmlp train --resume "
                  f"{getattr(e, 'folder', out)}",)
        raise
    except OutOfMemory as e:
        raise ScratchMLPError(f"{e}; {_saved(e)}; free memory and continue with: scratchmlp "
                              f"train --resume {getattr(e, 'folder', out)}, or start again "
                              "with --force and a smaller --hidden or --batch-size") from None
    except Diverged as e:
        change = ("became NaN/inf" if e.limit is None
                  else f"reached {e.loss:.4g}, above the limit {e.limit:g},")
        now = f" (now --lr {e.lr:g})" if getattr(e, "lr", None) else ""
        raise ScratchMLPError(f"training diverged: {e.what} {change} in epoch {e.epoch} at "
                              f"step {e.step}; lower the learning rate{now} and start again "
                              f"with --force; {_saved(e)}") from None
    except ScratchMLPError as e:
        if getattr(e, "folder", None) is None:  # refused before training began
            raise
        # a write failed once training began (a full disk): the finished epochs are saved
        raise ScratchMLPError(f"{e}; {_saved(e)}; continue with: scratchmlp train --resume "
                              f"{e.folder}") from None


def _saved(error) -> str:
    done, folder = getattr(error, "epochs_done", 0), getattr(error, "folder", None)
    return f"{done} finished epoch(s) saved" + (f" in {folder}" if folder else "")


def describe(config) -> str:
    """One line naming the network and every setting that differs from the chapter's, with
    numbers rounded for reading (config.json keeps the exact values)."""
    from ..train.config import TrainConfig
    sizes = "-".join(map(str, config.sizes))
    text = (f"MLP {sizes} ({config.activation}), {config.optimizer} lr {readable(config.lr)}, "
            f"batch {config.batch_size}, {plural(config.epochs, 'epoch')}, seed {config.seed}")
    chapter = TrainConfig()
    extras = [f"{name.replace('_', ' ')} {readable(getattr(config, name))}" for name in
              ("init", "momentum", "weight_decay", "dropout", "schedule", "augment",
               "validation", "subset")
              if getattr(config, name) != getattr(chapter, name)
              and not (name == "momentum" and config.optimizer != "momentum")]
    return text + (", " + ", ".join(extras) if extras else "")


def readable(value) -> str:
    """0.000570940170389672 -> 0.000571; ['shift', 'flip'] -> shift+flip; 60000 -> 60000."""
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, list):
        return "+".join(map(str, value)) or "none"
    return str(value)


def plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def training_images(config, total: int) -> int:
    """How many images an epoch trains on: the training set less validation, maybe a subset."""
    left = total - config.validation
    return min(left, config.subset) if config.subset is not None else left


class Report:
    """What `train` prints: a header, the epochs' lines and a summary (to stdout; to stderr
    with --json, whose object is then stdout's only content), or nothing with --quiet."""

    def __init__(self, args):
        self.quiet, self.json = getattr(args, "quiet", False), getattr(args, "json", False)
        self.stream = sys.stderr if self.json else sys.stdout
        self.bar = not (getattr(args, "no_progress", False) or self.quiet)

    def say(self, text: str):
        if not self.quiet:
            print(text, file=self.stream, flush=True)

    def header(self, config, out):
        self.say(f"training {describe(config)} -> {out}")

    def progress(self, config, images: int):
        return _Progress(config, images, enabled=self.bar, say=self.say)

    def finish(self, result, out) -> int:
        """The last lines, or the JSON object: call it once the run's files are written."""
        summary = run_summary(result, out)
        final = summary["final"]
        if final:
            scores = ", ".join(f"{name.replace('_', ' ')} {value:.4f}"
                               for name, value in final.items() if value is not None)
            self.say(f"done: {scores} ({summary['minutes']:.1f} min of training)")
        self.say(f"results in {out}/: {' '.join(summary['files'])}")
        if self.json:
            import json
            print(json.dumps(summary), flush=True)
        return 0


def run_summary(result, out) -> dict:
    """What --json prints: the run folder, epochs done and planned, the last epoch's metrics
    (null where not scored), minutes of training, the files written and the config."""
    from pathlib import Path

    from ..runs import RUN_FILES
    last = result.rows[-1] if result.rows else {}
    keys = ["train_loss", "train_acc"] + (["val_acc"] if "val_acc" in last else []) + ["test_acc"]
    final = {key: (last[key] if last[key] == last[key] else None) for key in keys} if last else {}
    return {"run": str(out), "epochs_done": last.get("epoch", 0),
            "epochs": result.config.epochs, "final": final,
            "minutes": round(sum(row["seconds"] for row in result.rows) / 60, 3),
            "files": [name for name in RUN_FILES if (Path(out) / name).is_file()],
            "config": result.config.to_dict()}


class _Progress:
    """A tqdm bar within each epoch (on a terminal only: in a log file its redraws would be
    hundreds of lines per epoch) and one line per finished epoch, given to `say`."""

    def __init__(self, config, images: int = 60000, enabled: bool = True, say=None):
        self.config, self.bar = config, None
        self.say = say or (lambda text: print(text, flush=True))
        self.enabled = enabled and sys.stderr.isatty()
        self.steps = -(-images // config.batch_size)

    def batch(self, step, loss):
        if not self.enabled:
            return
        if self.bar is None:
            from tqdm import tqdm
            self.bar = tqdm(total=self.steps, leave=False, unit="step", dynamic_ncols=True)
        self.bar.update(1)
        if step % 20 == 0:
            self.bar.set_postfix(loss=f"{loss:.4f}", refresh=False)

    def epoch(self, row):
        self.close()
        valid = f"val acc {row['val_acc']:.4f}  " if "val_acc" in row else ""
        test = f"test acc {row['test_acc']:.4f}  " if row["test_acc"] == row["test_acc"] else ""
        self.say(f"epoch {row['epoch']:>3}/{self.config.epochs}: train loss "
                 f"{row['train_loss']:.4f}  train acc {row['train_acc']:.4f}  {valid}{test}"
                 f"{row['seconds']:.2f} s  {row['examples_per_s']:,.0f} ex/s")

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None
