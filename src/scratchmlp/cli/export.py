"""`scratchmlp export RUN --onnx FILE`: the trained MLP as an ONNX graph for any ONNX runtime."""

from __future__ import annotations

from .common import add_data_flag, load_data, path_text, run_model_path

HELP = "export a trained run to ONNX (input images float32 (N,1,28,28), output probabilities)"


def register(subparsers):
    p = subparsers.add_parser("export", help=HELP, description=HELP + ". Needs the optional "
                              "extra scratchmlp[onnx] (onnx, onnxruntime); in a checkout: "
                              ".venv/bin/pip install -e '.[onnx]'")
    p.add_argument("run", metavar="RUN", type=path_text, help="run folder (or its model.npz)")
    p.add_argument("--onnx", metavar="FILE", type=path_text, required=True,
                   help="the .onnx file to write")
    p.add_argument("--check", action="store_true",
                   help="run the export in onnxruntime on the test set and compare it with "
                        "scratchmlp's own probabilities")
    add_data_flag(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from ..errors import ScratchMLPError
    from ..exporting import check_onnx, export_onnx
    from ..train.modelfile import load_model
    from ..runs import check_output
    _check_installed(args.check)
    path = run_model_path(args.run)
    out = Path(args.onnx)
    check_output(out, reads=[path])  # before reading: a refusal touches nothing
    if out.suffix and out.suffix.lower() != ".onnx":  # RUN/curves.png was replaced by ONNX
        raise ScratchMLPError(f"--onnx {out}: an ONNX model in a .{out.suffix[1:]} file; name "
                              "a file ending in .onnx")
    model, config = load_model(path)
    if out.is_dir():
        raise ScratchMLPError(f"{out}: is a directory; give a file name such as model.onnx")
    if not out.parent.is_dir():
        raise ScratchMLPError(f"{out.parent}: no such folder for the ONNX file")
    export_onnx(model, out, doc=f"scratchmlp MLP from {path}; training config: "
                                f"{config.to_json().strip()}")
    shape = "-".join(map(str, model.sizes))
    print(f"wrote {out}: {shape} {model.activation_name} MLP; input 'images' float32 "
          f"(N, 1, 28, 28) in [0, 1], output 'probabilities' float32 (N, {model.sizes[-1]})")
    if args.check:
        from ..train.evaluation import probabilities
        data = load_data(args)
        import numpy as np
        images = np.multiply(data.test_images, np.float32(1 / 255),  # as training scales them
                             dtype=np.float32).reshape(-1, 1, 28, 28)
        report = check_onnx(out, probabilities(model, images), images)
        print(f"onnxruntime on {report['n']} test images: max |difference| of probabilities "
              f"{report['max_abs_diff']:.2e}, same top class for {report['same_class']:.2%}")
    return 0


def _check_installed(check: bool):
    """onnx (and onnxruntime for --check), said with the command that installs them here."""
    import importlib.util

    from ..errors import ScratchMLPError
    from .common import install_hint
    missing = [m for m in ("onnx", "onnxruntime")[:2 if check else 1]
               if importlib.util.find_spec(m) is None]
    if missing:
        raise ScratchMLPError(f"ONNX export needs {' and '.join(missing)}, not installed; "
                              f"install them: {install_hint('onnx', 'onnx onnxruntime')}")
