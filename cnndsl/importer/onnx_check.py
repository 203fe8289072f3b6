"""The numerical check of an ONNX import, without the writer: the imported graph built
as a PyTorch module straight from the IR (:func:`cnndsl.backends.torch_render.emit` and
:func:`cnndsl.backends.torch_build.build`), the model's weights loaded node by node
(``Imported.weights``, by the emitted module map), and its output compared with
onnxruntime's on the same seeded random batch. Where the import left out the model's
trailing Softmax (:func:`cnndsl.importer.onnx_read.classifier_softmax`), softmax is
applied to the module's output first.

torch and onnxruntime are imported here only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .common import Imported

REL_TOL = 1e-5


def build_module(imported: Imported) -> Any:
    """The imported graph as a ``torch.nn.Module`` in eval mode, with its weights."""
    from ..backends.torch_build import build
    from ..backends.torch_render import emit

    emitted = emit(imported.graph, "an ONNX import", inplace=False)
    module = build(emitted.source, imported.graph.name)
    load_weights(module, emitted.modules, imported.weights)
    return module.eval()


def load_weights(module: Any, paths: Mapping[str, str], weights: Mapping[str, list]) -> None:
    """Copy each node's arrays into its submodule's tensors, in ``state_dict`` order
    (counters left out); ValueError where they do not fit."""
    import torch

    with torch.no_grad():
        for name, arrays in weights.items():
            path = paths.get(name)
            if path is None:
                raise ValueError(f"{name}: no module holds its weights")
            slots = [t for k, t in module.get_submodule(path).state_dict(keep_vars=True).items()
                     if not k.endswith("num_batches_tracked")]
            if len(slots) != len(arrays):
                raise ValueError(f"{name}: {len(arrays)} arrays for the {len(slots)} tensors "
                                 f"of {path}")
            for slot, a in zip(slots, arrays):
                if tuple(slot.shape) != tuple(np.shape(a)):
                    raise ValueError(f"{name}: an array of shape {np.shape(a)} for "
                                     f"{tuple(slot.shape)} in {path}")
                slot.copy_(torch.from_numpy(np.array(a, dtype=np.float32)))  # a copy: writable


def run_onnxruntime(model: Any, x: np.ndarray) -> np.ndarray:
    """The model's first output on ``x`` (onnxruntime's CPU provider)."""
    import onnxruntime as ort

    session = ort.InferenceSession(model.SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    first = session.get_inputs()[0]
    dtype = np.float16 if first.type == "tensor(float16)" else np.float32
    return np.asarray(session.run(None, {first.name: x.astype(dtype)})[0], dtype=np.float64)


def softmax_left_out(model: Any, imported: Imported) -> bool:
    """Whether the model ends in a Softmax that the import left out (see onnx_read)."""
    g = model.graph
    made = {o: n for n in g.node for o in n.output}
    producer = made.get(g.output[0].name)
    while producer is not None and producer.op_type == "Identity":
        producer = made.get(producer.input[0])
    last = imported.graph[imported.graph.output]
    return producer is not None and producer.op_type == "Softmax" and last.op != "softmax" \
        and imported.graph.output_type.is_vector


def param_count(imported: Imported) -> int:
    """The model's parameters as the import read them: every weight array but batch
    norms' running statistics (buffers, not parameters)."""
    graph = imported.graph
    return sum(int(a.size) for name, arrays in imported.weights.items()
               for a in (arrays[:2] if graph[name].op == "bn" else arrays))


def relative_error(expected: np.ndarray, got: np.ndarray) -> float:
    """max |expected - got| / max |expected|."""
    return float(np.abs(expected - got).max() / max(float(np.abs(expected).max()), 1e-30))


def check_onnx(model_or_path: Any, imported: Imported, batch: int = 2, seed: int = 0) -> float:
    """The relative error of the imported network against onnxruntime on a seeded
    random batch (``batch`` samples where the model's batch is symbolic)."""
    import torch

    from .onnx_read import load_model

    model = load_model(model_or_path)
    inits = {t.name for t in model.graph.initializer}
    first = next(v for v in model.graph.input if v.name not in inits)
    fixed = first.type.tensor_type.shape.dim[0].dim_value
    shape = (fixed if fixed > 0 else batch,) + tuple(imported.graph.input_type.dims)
    x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    expected = run_onnxruntime(model, x)
    module = build_module(imported)
    with torch.no_grad():
        got = module(torch.from_numpy(x)).double()
        if softmax_left_out(model, imported):
            got = torch.softmax(got, 1)
    if tuple(got.shape) != expected.shape:
        raise ValueError(f"the model's output is {expected.shape}, the import's "
                         f"{tuple(got.shape)}")
    return relative_error(expected, got.numpy())
