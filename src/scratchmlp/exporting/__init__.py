"""Taking a trained model elsewhere: ONNX export (the `onnx` package is imported here only)."""

from .onnx_graph import INPUT_NAME, OUTPUT_NAME, check_onnx, export_onnx, to_onnx  # noqa: F401
