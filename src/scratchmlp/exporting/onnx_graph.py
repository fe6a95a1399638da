"""The MLP as an ONNX graph: Flatten, then Gemm (+ activation) per layer, then Softmax.

Input  "images":        float32 (N, 1, 28, 28), pixels scaled to [0, 1] as in training.
Output "probabilities": float32 (N, 10), each row sums to 1.
`onnx` (and `onnxruntime`, for `check_onnx`) are an optional extra: pip install 'scratchmlp[onnx]'.
"""

from __future__ import annotations

import numpy as np

from ..errors import ScratchMLPError
from ..files import atomic_write_bytes

INPUT_NAME, OUTPUT_NAME = "images", "probabilities"
# Every op used here is in its current form since opset 13 (Softmax over one axis); opset 13
# with IR version 7 is what onnxruntime has read since 1.6, so old runtimes load the file too.
OPSET, IR_VERSION = 13, 7
ONNX_OPS = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh"}
INSTALL = "pip install onnx onnxruntime"  # works however scratchmlp itself was installed


def _require(module: str):
    import importlib
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ScratchMLPError(f"ONNX export needs the '{module}' package, which is not "
                              f"installed: {INSTALL}") from None


def to_onnx(model, doc: str = ""):
    """An onnx.ModelProto computing softmax(MLP(x)) for x of shape (N, 1, 28, 28)."""
    onnx = _require("onnx")
    from onnx import TensorProto, helper, numpy_helper

    activation = getattr(model, "activation_name", None)
    if activation not in ONNX_OPS:
        raise ScratchMLPError(f"activation {activation!r} has no ONNX export yet; "
                              f"exportable: {', '.join(ONNX_OPS)}")
    side = int(round(model.num_inputs ** 0.5))
    if side * side != model.num_inputs:
        raise ScratchMLPError(f"the model takes {model.num_inputs} inputs, not a square "
                              "image; only square greyscale inputs are exported")
    nodes, weights = [helper.make_node("Flatten", [INPUT_NAME], ["x"], axis=1)], []
    hidden = "x"
    layers = model.layers
    for i, (W, b) in enumerate(layers, 1):
        weights += [numpy_helper.from_array(np.asarray(W.data, dtype=np.float32), f"W{i}"),
                    numpy_helper.from_array(np.asarray(b.data, dtype=np.float32), f"b{i}")]
        last = i == len(layers)
        affine = "logits" if last else f"z{i}"
        nodes.append(helper.make_node("Gemm", [hidden, f"W{i}", f"b{i}"], [affine]))
        if not last:  # dropout, if any, is the identity at inference: nothing to add
            hidden = f"h{i}"
            nodes.append(helper.make_node(ONNX_OPS[activation], [affine], [hidden]))
    nodes.append(helper.make_node("Softmax", ["logits"], [OUTPUT_NAME], axis=1))
    classes = int(layers[-1][1].data.shape[0])
    graph = helper.make_graph(
        nodes, "scratchmlp_mlp",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["N", 1, side, side])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["N", classes])],
        initializer=weights)
    proto = helper.make_model(graph, producer_name="scratchmlp", doc_string=doc,
                              opset_imports=[helper.make_opsetid("", OPSET)],
                              ir_version=IR_VERSION)
    onnx.checker.check_model(proto, full_check=True)
    return proto


def export_onnx(model, path, doc: str = ""):
    """Write the model as an .onnx file (atomically); returns the ModelProto."""
    proto = to_onnx(model, doc)
    atomic_write_bytes(path, proto.SerializeToString())
    return proto


def check_onnx(path, expected: np.ndarray, images: np.ndarray) -> dict:
    """Run the .onnx file in onnxruntime on float32 `images` (N, 1, 28, 28) and compare with
    `expected` probabilities: max absolute difference and the share of equal top classes."""
    ort = _require("onnxruntime")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run([OUTPUT_NAME], {INPUT_NAME: np.ascontiguousarray(images, np.float32)})[0]
    return {"n": len(images),
            "max_abs_diff": float(np.abs(got - expected).max()) if len(images) else 0.0,
            "same_class": float((got.argmax(1) == expected.argmax(1)).mean())
            if len(images) else 1.0}
