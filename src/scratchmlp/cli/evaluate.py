"""`scratchmlp evaluate RUN`: test accuracy, accuracy per class, and the confusion matrix."""

from __future__ import annotations

from .common import (add_data_flag, add_threads_flag, load_data, path_text, picture_path,
                     run_model_path, use_threads)

HELP = "test accuracy, per-class accuracy and a confusion matrix of a trained run"


def register(subparsers):
    p = subparsers.add_parser("evaluate", help=HELP, description=HELP)
    p.add_argument("run", metavar="RUN", type=path_text, help="run folder (or its model.npz)")
    p.add_argument("--out", metavar="PNG", type=path_text,
                   help="where to draw the confusion matrix (default RUN/confusion.png)")
    p.add_argument("--no-plot", action="store_true", help="do not draw the confusion matrix")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object (accuracy, per_class, confusion, n) instead "
                        "of the table")
    add_data_flag(p)
    add_threads_flag(p)
    p.set_defaults(func=run)


def run(args) -> int:
    import json

    from ..data import LABELS
    from ..errors import ScratchMLPError
    from ..train.evaluation import evaluate_model
    from ..train.modelfile import load_model
    if args.out and args.no_plot:  # --out would be silently ignored
        raise ScratchMLPError("--out and --no-plot contradict each other: choose one")
    wanted = picture_path(args.out) if args.out else None
    use_threads(args)
    from ..runs import check_output
    path = run_model_path(args.run)
    if not args.no_plot:  # never over what this reads or a run's own files
        check_output(wanted or path.parent / "confusion.png", reads=[path])
    model, _ = load_model(path)
    data = load_data(args)
    result = evaluate_model(model, data.test_images, data.test_labels, LABELS)
    picture = None
    if not args.no_plot:
        from ..report import plot_confusion
        picture = wanted or path.parent / "confusion.png"
        try:
            plot_confusion(result.confusion, LABELS, picture,
                           title=f"{path}: test accuracy {result.accuracy:.4f}")
        except OSError as e:
            raise ScratchMLPError(f"{picture}: cannot write the confusion matrix "
                                  f"({e.strerror or e}); choose --out or --no-plot") from None
    if args.json:
        print(json.dumps({"model": str(path), **result.to_dict(),
                          "confusion_png": str(picture) if picture else None}))
        return 0
    print(f"test accuracy {result.accuracy:.4f} ({int(result.correct.sum())}/{result.n})")
    print(table(result))
    if picture:
        print(f"confusion matrix -> {picture}")
    return 0


def table(result) -> str:
    """Per class: examples, correct, accuracy, and the class it is most often mistaken for."""
    from ..report.table import text_table
    rows = []
    for c, name in enumerate(result.labels):
        confused = result.most_confused_with(c)
        mistaken = f"{result.labels[confused[0]]} ({confused[1]})" if confused else "-"
        accuracy = f"{result.per_class_accuracy[c]:.4f}" if result.support[c] else "-"
        rows.append([name, str(result.support[c]), str(result.correct[c]), accuracy, mistaken])
    return text_table(["class", "n", "correct", "accuracy", "most confused with"], rows,
                      align="<>>><")
