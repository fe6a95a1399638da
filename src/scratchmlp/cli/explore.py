"""`scratchmlp explore hidden|depth|lr`: the chapter's exercises 1-3, one command each.

Every point trains the chapter's configuration (or --config FILE, or the flags given) with one
setting changed, on the training images less a validation split; the test set is scored once
per point, after its last epoch. Output: OUT/results.csv, OUT/<kind>.png, a printed table, and
OUT/points/<name>/ run folders; rerunning skips finished points and resumes an interrupted one.
"""

from __future__ import annotations

import argparse
import contextlib

from ..ranges import MAX_HIDDEN_LAYERS as MAX_DEPTH
from .common import (add_data_flag, add_threads_flag, check_output_folder, load_data, path_text,
                     use_threads)
from .train import add_setting_flags, training_images

HELP = "answer the chapter's exercises 1-3: accuracy against width, depth or learning rate"

KINDS = {
    "hidden": "exercise 1: num_hiddens of one hidden layer (default 16 ... 2048, powers of two)",
    "depth": "exercise 2: 1, 2, 3 hidden layers of the same width (default 256)",
    "lr": "exercise 3: log-spaced learning rates (default 0.01 ... 30); divergence is marked",
}
DEFAULT_WIDTHS = [16, 32, 64, 128, 256, 512, 1024, 2048]
DEFAULT_DEPTHS = [1, 2, 3]
DEFAULT_LRS = [0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0]
# ReLU nets whose units all die keep a finite loss however large the rate, so NaN alone
# rarely flags the blow-up: a mean batch loss 43x chance level (ln 10) counts as diverged too
DEFAULT_LOSS_LIMIT = 100.0
MAX_POINTS = 100  # each point is a training run: more is a typo, not an exploration


def _numbers(kind):
    """An argparse type: numbers separated by commas, parsed and nothing more (their ranges
    are scratchmlp.ranges', checked in points_for, which names the flag)."""
    def parse(text: str) -> list:
        try:
            values = [kind(part) for part in text.split(",") if part.strip()]
        except ValueError:
            values = []
        if not values:
            raise argparse.ArgumentTypeError(f"{text!r}: give numbers separated by commas, "
                                             "e.g. 16,64,256")
        return values
    return parse


def register(subparsers):
    p = subparsers.add_parser("explore", help=HELP, description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("kind", choices=list(KINDS), help="; ".join(f"{k}: {v}" for k, v in KINDS.items()))
    p.add_argument("--widths", type=_numbers(int), metavar="W,W,...",
                   help="hidden: the widths to try (default 16,32,...,2048)")
    p.add_argument("--depths", type=_numbers(int), metavar="D,D,...",
                   help="depth: numbers of hidden layers to try (default 1,2,3)")
    p.add_argument("--width", type=int, metavar="W",
                   help="depth: width of every hidden layer (default 256); "
                        "lr: width of the one hidden layer (default the configuration's)")
    p.add_argument("--lrs", type=_numbers(float), metavar="LR,LR,...",
                   help="lr: the learning rates to try (default 0.01,0.03,...,30)")
    p.add_argument("--loss-limit", type=float, metavar="LOSS",
                   help="also call a run diverged when a batch's mean loss exceeds LOSS "
                        "(default: 100 for lr, none otherwise; chance level is ln 10 = 2.3). "
                        "A NaN/inf loss always counts as diverged")
    add_setting_flags(p, hidden=False)
    p.add_argument("--validation", type=int, default=10000, metavar="N",
                   help="training images held out to compare the points (default 10000)")
    add_data_flag(p)
    add_threads_flag(p)
    p.add_argument("--out", metavar="DIR", type=path_text,
                   help="output folder (default runs/explore-KIND)")
    p.add_argument("--force", action="store_true", help="start again, discarding finished points")
    p.add_argument("--no-progress", action="store_true", help="no per-epoch lines")
    p.add_argument("--quiet", "-q", action="store_true",
                   help="print nothing but errors (results.csv and the picture are still written)")
    p.set_defaults(func=run)


def points_for(args, base):
    """The points of the exploration: (name, x, config) with one setting varied; a value out
    of its setting's range is refused naming the flag that gave it."""
    from ..ranges import SettingError
    try:
        return _points(args, base)
    except SettingError as e:
        raise _flag_advice(e, args) from None


def _flag_advice(error, args):
    from ..errors import ScratchMLPError
    from ..ranges import shown
    flag = {"lr": "--lrs", "width": "--width" if args.width is not None else "--widths",
            "hidden": "--width" if args.width is not None else "--widths"}.get(error.name)
    if flag is None or (flag == "--lrs" and not args.lrs) or (flag == "--widths"
                                                              and not args.widths):
        return error
    fact = error.fact if error.detailed else f"expected {error.expected}, got {shown(error.value)}"
    return ScratchMLPError(f"argument {flag}: {fact}; see 'scratchmlp explore --help'")


def _points(args, base):
    from .. import ranges
    from ..errors import ScratchMLPError
    from ..train.config import TrainConfig
    from ..runs.exploration import Point

    def with_(**changes):
        return TrainConfig.from_dict({**base.to_dict(), **changes}, "settings")

    lists = [values for values in (args.widths, args.depths, args.lrs) if values]
    if lists and len(lists[0]) > MAX_POINTS:
        raise ScratchMLPError(f"{len(lists[0])} points, each a training run; give at most "
                              f"{MAX_POINTS}")
    for width in [*(args.widths or []), *([] if args.width is None else [args.width])]:
        ranges.check("width", width)
    for lr in args.lrs or []:
        ranges.check("lr", lr)
    if args.kind == "hidden":
        if args.depths or args.lrs or args.width is not None:
            raise ScratchMLPError("explore hidden takes --widths (not --depths, --lrs, --width)")
        widths = args.widths or DEFAULT_WIDTHS
        return [Point(f"hidden-{w}", w, with_(hidden=[w])) for w in widths]
    if args.kind == "depth":
        if args.widths or args.lrs:
            raise ScratchMLPError("explore depth takes --depths and --width (not --widths, --lrs)")
        width = 256 if args.width is None else args.width
        depths = args.depths or DEFAULT_DEPTHS
        if min(depths) < 1:
            raise ScratchMLPError(f"argument --depths: expected whole numbers 1 or more, got "
                                  f"{min(depths)}; see 'scratchmlp explore --help'")
        if max(depths) > MAX_DEPTH:
            raise ScratchMLPError(f"--depths: {max(depths)} hidden layers is too deep to train; "
                                  f"give at most {MAX_DEPTH}")
        return [Point(f"depth-{d}", d, with_(hidden=[width] * d)) for d in depths]
    if args.widths or args.depths:
        raise ScratchMLPError("explore lr takes --lrs and --width (not --widths, --depths)")
    if args.lr is not None:  # it was silently ignored: the points' rates are --lrs
        raise ScratchMLPError("explore lr compares the rates of --lrs: drop --lr")
    hidden = base.hidden if args.width is None else [args.width]
    return [Point(f"lr-{lr:g}", lr, with_(lr=lr, hidden=hidden)) for lr in (args.lrs or DEFAULT_LRS)]


def run(args) -> int:
    from pathlib import Path

    from ..errors import ScratchMLPError
    from ..runs import RunFolderError
    from ..runs.exploration import explore
    from .common import StopFlag
    from .train import config_from_flags

    if args.validation <= 0:
        raise ScratchMLPError("--validation must be positive: explorations compare points on "
                              "the validation split, not on the test set")
    from ..train.config import TrainConfig
    base = config_from_flags(args, TrainConfig(validation=args.validation).to_dict())
    base = TrainConfig.from_dict({**base.to_dict(), "validation": args.validation}, "settings")
    points = points_for(args, base)
    threads = use_threads(args)
    for point in points:
        point.config.threads = threads  # recorded in each point's config.json
    loss_limit = args.loss_limit if args.loss_limit is not None else (
        DEFAULT_LOSS_LIMIT if args.kind == "lr" else None)
    if loss_limit is not None and not loss_limit > 0:
        raise ScratchMLPError(f"--loss-limit must be positive, got {loss_limit}")
    out = Path(args.out or f"runs/explore-{args.kind}")
    check_output_folder(out)
    if args.force:
        from ..runs.exploration import discard_points
        try:
            discard_points(out)
        except RunFolderError as e:  # refused before anything was removed
            advice = ("wait for it to finish, or stop that process first" if e.kind == "in_use"
                      else "choose another --out")
            raise ScratchMLPError(f"{e}; {advice}") from None
    data = load_data(args)
    lines = _Lines(args, points, base)
    lines.say(f"explore {args.kind}: {len(points)} points, {base.epochs} epochs each, "
              f"validation {base.validation} images -> {out}")
    with StopFlag() as stop, _point_advice():
        results = explore(points, out, data, on_point_start=lines.point_start,
                          on_point_done=lines.point_done, on_epoch=lines.epoch_done,
                          should_stop=stop, loss_limit=loss_limit)
    _write_outputs(args.kind, results, out, points)
    lines.summary(results, f"results in {out}/: results.csv {args.kind}.png points/")
    return 0


class _Lines:
    """What explore prints: a line per point and per epoch, then the table; nothing with
    --quiet (results.csv and the picture are written all the same)."""

    def __init__(self, args, points, base):
        self.quiet, self.epochs = args.quiet, not args.no_progress
        self.count, self.planned = len(points), base.epochs

    def say(self, text: str):
        if not self.quiet:
            print(text, flush=True)

    def point_start(self, k, point, skipped):
        state = "already done, skipped" if skipped else "training"
        self.say(f"point {k} of {self.count}: {point.name} ({state})")

    def epoch_done(self, row):
        if self.epochs:
            self.say(f"    epoch {row['epoch']:>3}/{self.planned}: train loss "
                     f"{row['train_loss']:.4f}  train acc {row['train_acc']:.4f}  val acc "
                     f"{row['val_acc']:.4f}  {row['seconds']:.1f} s")

    def point_done(self, k, point, result, results, skipped):
        from ..runs.exploration import best
        if result["status"] == "diverged":
            summary = f"diverged ({result['diverged_at']}): stopped at once"
        else:
            summary = (f"train loss {result['train_loss']:.4f}, val acc {result['val_acc']:.4f}, "
                       f"test acc {result['test_acc']:.4f}")
        top = best(results)
        lead = f" | best so far (validation): {top['name']} {top['val_acc']:.4f}" if top else ""
        self.say(f"  {point.name}: {summary}{lead}")

    def summary(self, results, where: str):
        from ..runs.exploration import best
        self.say(format_results(results))
        top = best(results)
        if top:
            self.say(f"best by validation accuracy: {top['name']} (val {top['val_acc']:.4f}, "
                     f"test {top['test_acc']:.4f})")
        self.say(where)


@contextlib.contextmanager
def _point_advice():
    """A point's run folder refused (other settings, in use) or stopped: the advice names
    this command, not the point's folder."""
    from ..errors import ScratchMLPError
    from ..runs import RunFolderError
    from ..train.run import Interrupted
    try:
        yield
    except RunFolderError as e:
        advice = {"other_settings": "use another --out, or --force to start this exploration "
                                    "again",
                  "in_use": "another process is running this exploration; wait for it"}
        raise ScratchMLPError(f"{e}; {advice.get(e.kind, 'use another --out or --force')}") \
            from None
    except Interrupted as e:
        e.args = (f"interrupted: {e.epochs_done} finished epoch(s) of the point saved; run the "
                  "same command again to continue",)
        raise
    except ScratchMLPError as e:
        if getattr(e, "folder", None) is None:  # refused before the point began training
            raise
        # a write failed once the point trained (a full disk): what finished is saved
        raise ScratchMLPError(f"{e}; {e.epochs_done} finished epoch(s) of the point saved; "
                              "run the same command again to continue") from None


AXES = {"hidden": ("num_hiddens (one hidden layer)", "log2"),
        "depth": ("hidden layers", "linear"),
        "lr": ("learning rate", "log")}


def _write_outputs(kind, results, out, points):
    from ..files import remove_temp_files, write_csv
    from ..report.explore import plot_exploration
    from ..runs.exploration import RESULT_FIELDS

    for name in ("results.csv", f"{kind}.png"):  # a run killed while it wrote them left these
        remove_temp_files(out / name)
    write_csv(out / "results.csv", RESULT_FIELDS, results)
    xlabel, scale = AXES[kind]
    plot_exploration(results, out / f"{kind}.png", xlabel, scale, title=_title(kind, points),
                     xticks=[r["x"] for r in results])


def _title(kind, points) -> str:
    """What stayed fixed while one setting varied."""
    config = points[0].config
    parts = [config.optimizer if kind == "lr" else f"{config.optimizer} lr {config.lr:g}"]
    if kind == "depth":
        parts.append(f"width {config.hidden[0]}")
    if kind == "lr":
        parts.append("hidden " + "-".join(map(str, config.hidden)))
    parts += [f"{config.epochs} epochs", f"batch {config.batch_size}", config.activation,
              f"init {config.init}", f"trained on {training_images(config, 60000)} images"]
    return f"{kind}: " + ", ".join(parts)


def format_results(results) -> str:
    header = ["point", "status", "train loss", "train acc", "val acc", "test acc", "minutes"]
    rows = []
    for r in results:
        def num(key):
            value = r.get(key)
            return "-" if value is None or value != value else f"{value:.4f}"
        status = r["status"] if r["status"] == "ok" else f"DIVERGED {r['diverged_at']}"
        rows.append([r["name"], status, num("train_loss"), num("train_acc"), num("val_acc"),
                     num("test_acc"), f"{r['seconds'] / 60:.1f}"])
    from ..report.table import text_table
    return text_table(header, rows)
