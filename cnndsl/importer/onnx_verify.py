"""Checking an ONNX import against onnxruntime: :func:`cnndsl.importer.verify.compare`
with the file run by onnxruntime as the original, and softmax applied to the program's
output where the import left the file's trailing Softmax out."""

from __future__ import annotations

from typing import Any

from .common import Imported
from .verify import Verification, compare


def verify_onnx(model_or_path: Any, imported: Imported, network: Any) -> Verification:
    """The checks of :func:`~cnndsl.importer.verify.compare` against the ONNX model (a
    UserError naming onnxruntime where it is not installed)."""
    import importlib.util

    import torch

    from ..diagnostics import UserError
    from .onnx_check import param_count, run_onnxruntime, softmax_left_out
    from .onnx_read import load_model

    if importlib.util.find_spec("onnxruntime") is None:
        raise UserError("checking an ONNX import needs onnxruntime",
                        help="pip install onnxruntime, or pass --no-verify", exit_code=2)
    model = load_model(model_or_path)

    def run(x: Any) -> Any:
        return torch.from_numpy(run_onnxruntime(model, x.numpy())).to(torch.float64)

    def softmax(y: Any) -> Any:
        return torch.softmax(y.double(), dim=1)

    return compare(network, imported, run, param_count(imported), [],
                   imported.graph.input_type.dims,
                   after=softmax if softmax_left_out(model, imported) else None)
