"""`scratchmlp predict RUN`: the chapter's grid of test images, "true / predicted"."""

from __future__ import annotations

from .common import add_data_flag, load_data, run_model_path

HELP = "draw test images labelled with the true and the predicted class"


def register(subparsers):
    p = subparsers.add_parser("predict", help=HELP, description=HELP)
    p.add_argument("run", metavar="RUN", help="run folder (or its model.npz)")
    p.add_argument("-n", type=int, default=12, help="how many test images (default 12)")
    p.add_argument("--out", metavar="PNG", help="where to write the grid "
                                                  "(default RUN/predictions.png)")
    add_data_flag(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from ..data import LABELS, DataIter
    from ..errors import ScratchMLPError
    from ..report import plot_predictions
    from ..train import predict
    from ..train.modelfile import load_model
    if args.n <= 0:
        raise ScratchMLPError(f"-n must be positive, got {args.n}")
    path = run_model_path(args.run)
    model, _ = load_model(path)
    data = load_data(args)
    images, truth, guesses = predict(model, DataIter(data.test_images, data.test_labels, 256),
                                     n=args.n)
    out = Path(args.out) if args.out else path.parent / "predictions.png"
    plot_predictions(images, truth, guesses, LABELS, out)
    wrong = sum(t != p for t, p in zip(truth, guesses))
    print(f"{len(truth)} test images, {len(truth) - wrong} predicted right -> {out}")
    return 0
