"""ONNX export through torch.onnx; the exported graph ends in softmax (probabilities)."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

from ..diagnostics import UserError
from ..outputs import MARK, check_target, one_line, write_output


def export_onnx(net, path: Path, opset: int = 17, force: bool = False, model=None) -> None:
    """Write ``net`` as ONNX to ``path`` (new, or a file cnndsl wrote, or any regular file
    with ``force``); the model's doc_string carries cnndsl's mark. ``model``: the module
    to export (a trained one), else a fresh ``net.to_torch()``."""
    try:
        import torch
    except ImportError:
        raise UserError("ONNX export needs PyTorch", help="pip install torch") from None

    import importlib.util
    if importlib.util.find_spec("onnx") is None:
        raise UserError("ONNX export needs the onnx package", help="pip install onnx "
                        "(or pip install 'cnndsl[onnx]')")
    check_target(path, force)
    model = (net.to_torch() if model is None else model).cpu().eval()
    if net.num_classes:
        model = torch.nn.Sequential(model, torch.nn.Softmax(dim=1))
    dummy = torch.zeros((1,) + tuple(net.input_shape))
    buffer = io.BytesIO()
    try:
        with warnings.catch_warnings():
            # the TorchScript exporter needs only `onnx` (torch.export's needs onnxscript)
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.onnx.export(model, (dummy,), buffer, input_names=["input"],
                              output_names=["probabilities" if net.num_classes else "output"],
                              dynamic_axes={"input": {0: "batch"}}, opset_version=opset,
                              dynamo=False)
    except ImportError as e:
        raise UserError(f"ONNX export needs an extra package: {e.name or e}",
                        help="pip install onnx") from None
    except Exception as e:  # the exporter's own refusal of a construct
        raise UserError(f"ONNX export failed: {e}".splitlines()[0],
                        help="export to PyTorch source instead (-o model.py)") from None
    import onnx

    proto = onnx.load_from_string(buffer.getvalue())
    proto.doc_string = f"{MARK} from {one_line(net.source_name)}"  # serialized before the graph
    write_output(path, proto.SerializeToString(), force)
