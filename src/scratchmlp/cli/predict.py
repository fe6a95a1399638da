"""`scratchmlp predict RUN [IMAGE...]`: classify your own pictures, or draw the chapter's grid.

With IMAGE files: each is made into a Fashion-MNIST-like 28x28 image (data/images.py) and its
top classes are printed; --show draws what the model saw. Without: the chapter's grid of test
images titled "true / predicted".
"""

from __future__ import annotations

from .common import (add_data_flag, add_threads_flag, load_data, path_text, picture_path,
                     run_model_path, use_threads)

HELP = "classify your own images (PNG/JPEG), or draw test images with true/predicted labels"
MAX_GRID = 100  # test images drawn in one picture: more is unreadable (and 10,000 took 6.7 GB)


def register(subparsers):
    p = subparsers.add_parser("predict", help=HELP, description=HELP)
    p.add_argument("run", metavar="RUN", type=path_text, help="run folder (or its model.npz)")
    p.add_argument("images", metavar="IMAGE", nargs="*", default=[],  # so not "required"
                   help="your pictures (PNG, JPEG, ...; any size, colour or grey); without "
                        "them, the first -n test images are drawn")
    p.add_argument("-n", type=int,
                   help=f"how many test images (default 12, at most {MAX_GRID})")
    p.add_argument("--top", type=int, default=3, help="classes to print per image (default 3)")
    p.add_argument("--show", action="store_true",
                   help="with IMAGE: draw each picture as the model saw it, with its top guess "
                        "(to --out, default RUN/seen.png)")
    p.add_argument("--out", metavar="PNG", type=path_text,
                   help="where to write the picture (default RUN/predictions.png, or "
                        "RUN/seen.png with IMAGE --show)")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object instead of lines: per image its top classes "
                        "and all ten probabilities (with IMAGE), or each test image's true and "
                        "predicted class (without)")
    add_data_flag(p)
    add_threads_flag(p)
    p.set_defaults(func=run)


GRID_DEFAULT = 12


def run(args) -> int:
    from ..errors import ScratchMLPError
    if args.out:
        picture_path(args.out)  # a format matplotlib cannot write: refused before any work
        if args.images and not args.show:  # it would be silently ignored
            raise ScratchMLPError("--out names the picture --show draws: add --show, or drop "
                                  "--out")
    use_threads(args)
    if args.images and args.n is not None:  # it was silently ignored
        raise ScratchMLPError("-n counts the test images drawn without IMAGE files: drop -n, "
                              "or the IMAGE files")
    if args.images:
        return classify_files(args)
    args.n = GRID_DEFAULT if args.n is None else args.n
    if args.show:
        raise ScratchMLPError("--show draws your own images: give IMAGE files after RUN")
    return test_grid(args)


def classify_files(args) -> int:
    from pathlib import Path

    import numpy as np

    from ..data import LABELS
    from ..data.images import load_image, thumbnail
    from ..errors import ScratchMLPError
    from ..train.evaluation import probabilities, top_k
    from ..train.modelfile import load_model
    if args.top <= 0:
        raise ScratchMLPError(f"--top must be positive, got {args.top}")
    if args.show and len(args.images) > MAX_GRID:  # 300 took 58 s and 520 MB to draw
        raise ScratchMLPError(f"--show draws at most {MAX_GRID} pictures in one, got "
                              f"{len(args.images)}; drop --show or give fewer IMAGE files")
    from ..runs import check_output
    path = run_model_path(args.run)
    if args.show:  # never over what this reads or a run's own files
        check_output(Path(args.out) if args.out else path.parent / "seen.png",
                     reads=[path, *args.images])
    model, _ = load_model(path)
    seen = np.stack([load_image(image) for image in args.images])  # every file read, then output
    probs = probabilities(model, seen)
    ranked = top_k(probs, args.top)
    if not args.json:
        for name, classes in zip(args.images, ranked):
            guesses = ", ".join(f"{LABELS[c]} {p:.1%}" for c, p in classes)
            print(f"{name}: {guesses}")
    out = None
    if args.show:
        from ..report import plot_seen
        out = Path(args.out) if args.out else path.parent / "seen.png"
        titles = [f"{LABELS[classes[0][0]]} {classes[0][1]:.0%}" for classes in ranked]
        try:
            plot_seen([thumbnail(image) for image in args.images], seen,
                      [Path(image).name for image in args.images], titles, out)
        except OSError as e:
            raise ScratchMLPError(f"{out}: cannot write the picture ({e.strerror or e}); "
                                  "choose another --out") from None
        if not args.json:
            print(f"as the model saw them -> {out}")
    if args.json:
        print_json({"model": str(path), "images": [image_entry(name, row, classes) for
                                                   name, row, classes in zip(args.images, probs,
                                                                              ranked)],
                    "seen_png": str(out) if out else None})
    return 0


def image_entry(name, probs, classes) -> dict:
    from ..data import LABELS
    return {"image": str(name),
            "top": [{"class": LABELS[c], "index": int(c), "probability": float(p)}
                    for c, p in classes],
            "probabilities": {label: float(p) for label, p in zip(LABELS, probs)}}


def print_json(value):
    import json
    print(json.dumps(value), flush=True)


def test_grid(args) -> int:
    from pathlib import Path

    import numpy as np

    from ..data import LABELS
    from ..errors import ScratchMLPError
    from ..report import plot_predictions
    from ..train.evaluation import probabilities
    from ..train.modelfile import load_model
    if not 0 < args.n <= MAX_GRID:
        raise ScratchMLPError(f"-n must be between 1 and {MAX_GRID} (test images in one "
                              f"picture), got {args.n}")
    from ..runs import check_output
    path = run_model_path(args.run)
    check_output(Path(args.out) if args.out else path.parent / "predictions.png", reads=[path])
    model, _ = load_model(path)
    data = load_data(args)
    n = min(args.n, len(data.test_labels))  # never more than there are
    # the same forward pass as evaluate's (an overflow to NaN is refused, never drawn)
    images, truth = data.test_images[:n], data.test_labels[:n].tolist()
    guesses = probabilities(model, images).argmax(axis=1).tolist()
    images = np.multiply(images, np.float32(1 / 255), dtype=np.float32)  # as the model saw them
    out = Path(args.out) if args.out else path.parent / "predictions.png"
    plot_predictions(images, truth, guesses, LABELS, out)
    wrong = sum(t != p for t, p in zip(truth, guesses))
    if args.json:
        print_json({"model": str(path), "images": len(truth), "correct": len(truth) - wrong,
                    "predictions": [{"true": LABELS[t], "predicted": LABELS[p]}
                                    for t, p in zip(truth, guesses)],
                    "predictions_png": str(out)})
        return 0
    print(f"{len(truth)} test images, {len(truth) - wrong} predicted right -> {out}")
    return 0
