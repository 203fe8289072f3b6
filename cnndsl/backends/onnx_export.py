"""ONNX export through torch.onnx; the exported graph ends in softmax (probabilities).

The file holds the network as written: every operator of the program is a node of the
graph, so that reading it back (:mod:`cnndsl.importer.onnx_read`) gives the program's
graph again. The TorchScript exporter needs five nudges for that:

- in eval mode it folds each batch norm into the convolution before it; the model is
  exported in eval mode with ``training=PRESERVE``, which skips that fold (the outputs
  are the same: onnxruntime computes the batch norm from the running statistics);
- it drops dropout at evaluation: ``nn.Dropout`` is written as ONNX ``Dropout`` with
  ``training_mode`` false (an identity at inference, as in the module);
- drop path has no ONNX operator: it is written as ``cnndsl.DropPath(p)``, a function
  of the file (an identity, as at evaluation), which onnxruntime runs;
- ``nn.LocalResponseNorm`` is traced as a dozen operators (and a branch), and
  ``nn.ChannelShuffle`` not at all: they are written as ONNX ``LRN`` (same formula for
  an odd size) and as the Reshape-Transpose-Reshape every exporter writes for it;
- TorchScript's peephole pass merges a concat into the concat that reads it: a block
  whose output is a concat read by another (Inception's split branches) hands its output
  on through an ``Identity``, which keeps the two apart (a concat of a concat in one
  block's forward is still merged).

The softmax is added by a forward hook on the model rather than by wrapping it, so that
the nodes keep the model's own module paths (``/layer1/basic1/conv1/Conv``).
"""

from __future__ import annotations

import contextlib
import functools
import io
import warnings
from collections.abc import Iterator
from pathlib import Path

from ..diagnostics import UserError
from ..outputs import MARK, check_target, one_line, write_output

DOMAIN = "cnndsl"  # the domain of the operators ONNX lacks (DropPath)


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
    model = (net.to_torch() if model is None else model).cpu()
    was_training = model.training
    model.eval()
    dummy = torch.zeros((1,) + tuple(net.input_shape))
    buffer = io.BytesIO()
    try:
        with warnings.catch_warnings(), as_written(model, net) as domains:
            # the TorchScript exporter needs only `onnx` (torch.export's needs onnxscript)
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", UserWarning)  # PRESERVE on a model in eval mode
            warnings.simplefilter("ignore", torch.jit.TracerWarning)  # shape checks in F.*
            torch.onnx.export(model, (dummy,), buffer, input_names=["input"],
                              output_names=["probabilities" if net.num_classes else "output"],
                              dynamic_axes={"input": {0: "batch"}}, opset_version=opset,
                              dynamo=False, training=torch.onnx.TrainingMode.PRESERVE,
                              custom_opsets=domains)
    except ImportError as e:
        raise UserError(f"ONNX export needs an extra package: {e.name or e}",
                        help="pip install onnx") from None
    except Exception as e:  # the exporter's own refusal of a construct
        raise UserError(f"ONNX export failed: {e}".splitlines()[0],
                        help="export to PyTorch source instead (-o model.py)") from None
    finally:
        model.train(was_training)
    import onnx

    proto = onnx.load_from_string(buffer.getvalue())
    add_functions(proto, opset)
    proto.doc_string = f"{MARK} from {one_line(net.source_name)}"  # serialized before the graph
    write_output(path, proto.SerializeToString(), force)


# ---------------------------------------------------------------- the program as written
@contextlib.contextmanager
def as_written(model, net) -> Iterator[dict[str, int]]:
    """While exporting: the softmax of a classifier as a hook, and the modules the
    exporter would drop or decompose given forwards it writes as one node. Everything is
    put back afterwards (``model`` may be a user's trained module). Yields the custom
    domains the export uses (the exporter warns of one declared but unused)."""
    import torch
    from torch import nn

    shapes = {path: net.graph[name].type.dims for name, path in net.module_paths().items()}
    hooks = [model.get_submodule(p).register_forward_hook(_keep_apart)
             for p in _nested_concats(net.graph, dict(model.named_modules()))]
    patched = []
    for path, m in model.named_modules():
        forward = None
        if isinstance(m, nn.Dropout):
            forward = _one_node(m, "Dropout", _dropout)
        elif type(m).__name__ == "DropPath" and isinstance(getattr(m, "p", None), float):
            forward = _one_node(m, "DropPath", _droppath)
        elif isinstance(m, nn.LocalResponseNorm) and m.size % 2 == 1:
            forward = _one_node(m, "LRN", _lrn)
        elif isinstance(m, nn.ChannelShuffle) and len(shapes.get(path, ())) == 3:
            forward = _shuffle_forward(m, shapes[path])
        if forward is not None:
            m.forward = forward  # an instance attribute: the class's stays as it is
            patched.append(m)
    domains = {DOMAIN: 1} if any(type(m).__name__ == "DropPath" for m in patched) else {}
    if net.num_classes:
        hooks.append(model.register_forward_hook(lambda mod, args, out: torch.softmax(out, 1)))
    try:
        yield domains
    finally:
        for hook in hooks:
            hook.remove()
        for m in patched:
            del m.forward


def _nested_concats(graph, modules) -> list[str]:
    """The blocks (module paths) whose output is a concat that another concat reads."""
    uses = graph.consumers()
    out = []
    for n in graph.nodes:
        block = n.path.rpartition(".")[0]
        if n.op == "concat" and block and block in modules and block not in out and \
                any(graph[u].op == "concat" for u in uses[n.name]):
            out.append(block)
    return out


def _keep_apart(module, args, out):
    """A forward hook: the output through an Identity the peephole pass leaves."""
    return _identity().apply(out)


@functools.cache
def _identity():
    import torch

    class Identity(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x.clone()

        @staticmethod
        def symbolic(g, x):
            return g.op("Identity", x)

    return Identity


@functools.cache
def _function(name: str, symbolic):
    """An autograd Function that computes ``forward(x)`` (the module's own forward) and
    is exported as ``symbolic(g, x, module)``: one ONNX node."""
    import torch

    class Exported(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, module, forward):
            y = forward(x)
            # an identity at evaluation returns x itself, which an in-place operation
            # after it may not modify through a Function's output
            return y.clone() if y is x else y

        @staticmethod
        def symbolic(g, x, module, forward):
            out = symbolic(g, x, module)
            out.setType(x.type())  # the same shape: later symbolics ask for it
            return out

    Exported.__name__ = name
    return Exported


def _dropout(g, x, m):
    import torch
    if g.opset < 12:
        return g.op("Dropout", x, ratio_f=float(m.p))
    ratio = g.op("Constant", value_t=torch.tensor(float(m.p), dtype=torch.float))
    return g.op("Dropout", x, ratio, g.op("Constant", value_t=torch.tensor(False)))


def _droppath(g, x, m):
    return g.op(f"{DOMAIN}::DropPath", x, p_f=float(m.p))


def _lrn(g, x, m):
    return g.op("LRN", x, size_i=int(m.size), alpha_f=float(m.alpha), beta_f=float(m.beta),
                bias_f=float(m.k))


def _one_node(m, name: str, symbolic):
    """A forward for ``m`` that computes what its class's forward computes and is
    exported as the one node ``symbolic`` writes."""
    function = _function(name, symbolic)
    forward = type(m).forward.__get__(m)  # the class's forward, bound
    return lambda x: function.apply(x, m, forward)


def _shuffle_forward(m, dims: tuple[int, ...]):
    """Channel shuffle with constant shapes (the module's own forward has no exporter):
    a Reshape to (N, g, C/g, H, W), a Transpose of the two group axes, a Reshape back."""
    c, h, w = dims
    g = int(m.groups)
    return lambda x: x.reshape(-1, g, c // g, h, w).transpose(1, 2).reshape(-1, c, h, w)


def add_functions(proto, opset: int) -> None:
    """Define in the file the cnndsl operators its graph uses (``DropPath``: an identity
    at inference), so that any ONNX runtime runs it."""
    from onnx import helper

    used = {n.op_type for n in proto.graph.node if n.domain == DOMAIN}
    if "DropPath" in used:
        proto.functions.append(helper.make_function(
            DOMAIN, "DropPath", ["x"], ["y"], [helper.make_node("Identity", ["x"], ["y"])],
            [helper.make_opsetid("", opset)], attributes=["p"],
            doc_string="Stochastic depth (drop path) with probability p: the identity at "
                       "inference."))
