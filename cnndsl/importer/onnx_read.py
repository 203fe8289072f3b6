"""The ONNX front end: an ``.onnx`` model to a graph of the language's operators
(:class:`~cnndsl.importer.common.Imported`), which the writer turns into source.

:func:`import_onnx` loads the model safely (:func:`load_model`: a path, bytes or a
ModelProto; external weight files only inside the model's own folder), checks it, reads
its input shape (the batch dimension dropped, symbolic or not; any other symbolic
dimension needs ``input_shape``), infers the shapes and folds the constant arithmetic
(:mod:`.onnx_graph`), then lowers the nodes (:mod:`.onnx_lower`, :mod:`.onnx_patterns`,
:mod:`.onnx_ops`, :mod:`.onnx_elementwise`, :mod:`.onnx_channels`) and names them by
the module tree in the node names (:mod:`.onnx_paths`).

What has no counterpart in the language is listed in ``Imported.unsupported`` (per
operator and module path, with a count); the rest is still read. Nothing is replaced by
something else, with one exception that is said in ``notes``: a model whose output is a
Softmax over the features of a vector (a classifier's probabilities, as cnndsl's own
export writes it) is read without that Softmax, since a classifier of the language
returns the class scores (:func:`classifier_softmax`).

The ``onnx`` package is imported here only, and only when a model is read.
"""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path
from typing import Any

from ..diagnostics import UserError
from ..ir.graph import TensorType
from . import onnx_channels, onnx_elementwise  # noqa: F401 - they register their handlers
from .common import GraphMaker, Imported, Unsupported
from .onnx_graph import OnnxGraph, attrs_of
from .onnx_lower import LAYOUTS, Reader
from .onnx_ops import HANDLERS
from .onnx_paths import Tree, module_of
from .onnx_patterns import find_patterns

ROUNDS = 64  # of shape inference and folding: one per reshape computed from a shape
CHECK_LIMIT = 256 * 2**20  # bytes: onnx.checker serializes the model; cheap below this
FLOATS = {1: "float32", 10: "float16", 11: "float64", 16: "bfloat16"}


def _onnx() -> Any:
    try:
        import onnx
    except ImportError:
        raise UserError("reading ONNX models needs the onnx package",
                        help="pip install onnx (or pip install 'cnndsl[onnx]')") from None
    return onnx


# ---------------------------------------------------------------- loading
def load_model(source: Any) -> Any:
    """A ModelProto from a path, bytes or a ModelProto, its external weights loaded from
    the model's folder (a location outside it, or through a link out of it, is refused).
    Raises :class:`UserError` for anything that is not a readable ONNX model."""
    onnx = _onnx()
    base: Path | None = None
    if isinstance(source, onnx.ModelProto):
        model = source
        what = "the model"
    else:
        if isinstance(source, (bytes, bytearray, memoryview)):
            data, what = bytes(source), "the bytes given"
        elif isinstance(source, (str, os.PathLike)):
            path = Path(source)
            if not path.is_file():
                raise UserError(f"{path}: {'not a file' if path.exists() else 'no such file'}",
                                help="give the path of an .onnx file")
            try:
                data = path.read_bytes()
            except OSError as e:
                raise UserError(f"{path}: cannot read it ({e.strerror or e})") from None
            base, what = path.parent, str(path)
        else:
            raise UserError(f"cannot read an ONNX model from a {type(source).__name__}",
                            help="give a path, the file's bytes or an onnx.ModelProto")
        try:
            model = onnx.load_model_from_string(data)
        except Exception as e:  # noqa: BLE001 - protobuf's DecodeError and kin
            raise UserError(f"{what} is not an ONNX model: {_first_line(e)}") from None
    if model.ir_version <= 0 or not model.graph.node or not model.graph.output:
        raise UserError(f"{what} is not an ONNX model (no graph in it)")
    _load_external(model, base, what)
    return model


def _tensors(graph: Any) -> list[Any]:
    """Every tensor a graph holds (initializers, Constant values), subgraphs included."""
    out = list(graph.initializer)
    for n in graph.node:
        for a in n.attribute:
            if a.HasField("t"):
                out.append(a.t)
            out.extend(a.tensors)
            for sub in (*([a.g] if a.HasField("g") else []), *a.graphs):
                out.extend(_tensors(sub))
    return out


def _load_external(model: Any, base: Path | None, what: str) -> None:
    from onnx import external_data_helper as ext

    tensors = [t for t in _tensors(model.graph) if ext.uses_external_data(t)]
    if not tensors:
        return
    if base is None:
        raise UserError(f"{what} keeps its weights in external files",
                        help="give the model's path, so that they are read from its folder")
    root = base.resolve()
    for t in tensors:
        location = ext.ExternalDataInfo(t).location
        target = (root / location).resolve()
        if Path(location).is_absolute() or not target.is_relative_to(root):
            raise UserError(f"{what}: the weights of {t.name!r} are to be read from "
                            f"{location!r}, outside the model's folder; refusing",
                            help="keep external weight files beside the model")
        if not target.is_file():
            raise UserError(f"{what}: the weight file {location!r} of {t.name!r} is missing")
    try:
        ext.load_external_data_for_model(model, str(root))
    except Exception as e:  # noqa: BLE001 - a short or corrupt weight file
        raise UserError(f"{what}: cannot read its external weights: {_first_line(e)}") from None


def _check(model: Any, what: str) -> str | None:
    """onnx's checker, where the model is small enough for it to be cheap: a model it
    rejects is refused, except for an operator version it calls deprecated (opset 18's
    GroupNormalization: runtimes still run it), which is returned as a note."""
    onnx = _onnx()
    if model.ByteSize() > CHECK_LIMIT:
        return None
    try:
        onnx.checker.check_model(model)
    except Exception as e:  # noqa: BLE001 - ValidationError and the C++ checker's kin
        if "is deprecated" in str(e):
            return f"onnx.checker: {_first_line(e)}"
        raise UserError(f"{what} is not a valid ONNX model: {_first_line(e)}") from None
    return None


def _first_line(e: BaseException) -> str:
    text = str(e).strip() or type(e).__name__
    return text.splitlines()[0][:300]


# ---------------------------------------------------------------- the input
def _input(model: Any, override: Any) -> tuple[str, int, tuple[int, ...]]:
    """The input's name, its batch size (1 where symbolic) and the per-sample shape."""
    inits = {t.name for t in model.graph.initializer}
    inputs = [v for v in model.graph.input if v.name not in inits]
    if len(inputs) != 1:
        names = ", ".join(v.name for v in inputs) or "none"
        raise UserError(f"the model has {len(inputs)} inputs ({names}); a cnndsl network "
                        "has one")
    v = inputs[0]
    tt = v.type.tensor_type
    if not v.type.HasField("tensor_type") or tt.elem_type not in FLOATS:
        raise UserError(f"the model's input {v.name!r} is not a tensor of floats")
    dims: list[int | str] = [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?")
                             for d in tt.shape.dim]
    text = "x".join(map(str, dims)) if tt.HasField("shape") else "unknown"
    if len(dims) not in (2, 4):
        raise UserError(f"the model's input is {text}; cnndsl reads N x C x H x W maps and "
                        "N x F vectors")
    batch = dims[0] if isinstance(dims[0], int) and dims[0] > 0 else 1
    sample = dims[1:]
    if override is not None:
        given = TensorType.parse(override).dims if isinstance(override, str) else \
            tuple(int(d) for d in override)
        if len(given) != len(sample) or any(isinstance(d, int) and d > 0 and d != e
                                            for d, e in zip(sample, given)):
            raise UserError(f"input {'x'.join(map(str, given))} does not fit the model's "
                            f"input {text}", exit_code=2)
        sample = list(given)
    loose = [str(d) for d in sample if not (isinstance(d, int) and d > 0)]
    if loose:
        raise UserError(f"the model's input is {text}: {', '.join(loose)} "
                        f"{'is' if len(loose) == 1 else 'are'} not fixed",
                        help="give its size: --input CxHxW (input_shape= in Python), e.g. "
                             "--input 3x224x224", exit_code=2)
    return v.name, batch, tuple(int(d) for d in sample)


# ---------------------------------------------------------------- the output
def classifier_softmax(g: OnnxGraph) -> int | None:
    """The node of a trailing Softmax over the features of a vector output (a
    classifier's probabilities), which the import leaves out; None if there is none."""
    if not g.outputs:
        return None
    k = g.producer.get(g.outputs[0])
    while k is not None and g.nodes[k].op_type == "Identity" and \
            g.users(g.nodes[k].output[0]) == [-1]:
        k = g.producer.get(g.nodes[k].input[0])
    if k is None:
        return None
    n = g.nodes[k]
    shape = g.shape(n.input[0]) if n.op_type == "Softmax" else None
    if shape is None or len(shape) != 2 or len(g.users(n.output[0])) != 1 or \
            n.domain not in ("", "ai.onnx"):
        return None
    return k if attrs_of(n).get("axis", -1) % 2 == 1 else None


# ---------------------------------------------------------------- the import
def import_onnx(model_or_path: Any, name: str | None = None,
                input_shape: str | tuple[int, ...] | None = None) -> Imported:
    """Read an ONNX model (a path, bytes or a ModelProto) into an imported graph (see
    the module's doc). ``input_shape`` (CxHxW) fixes the input's symbolic dimensions.
    Raises :class:`UserError` for a file that is not a model the importer can read."""
    what = os.fspath(model_or_path) if isinstance(model_or_path, (str, os.PathLike)) \
        else "the model"
    model = load_model(model_or_path)
    complaint = _check(model, what)
    value, batch, sample = _input(model, input_shape)
    g = OnnxGraph(model, batch)
    for _ in range(ROUNDS):  # folded values fix shapes, which fix more values (onnx's
        g.infer_shapes({value: (batch, *sample)})  # inference does not divide shapes)
        before = len(g.consts)
        g.fold()
        if len(g.consts) == before:
            break
    r = Reader(g, value, sample, _name(name, model_or_path, model))
    output = g.outputs[0]
    soft = classifier_softmax(g)
    if soft is not None:
        r.dropped.add(soft)
        output = g.nodes[soft].input[0]
        r.notes.append(f"the model ends in a Softmax ({g.nodes[soft].name or 'its output'}) "
                       "turning class scores into probabilities; it is left out, as a "
                       "cnndsl classifier returns the scores (logits): apply softmax to "
                       "the imported network's output to get the model's")
    if complaint:
        r.notes.append(complaint)
    try:
        find_patterns(r)
        r.run(HANDLERS)
        return _finish(r, output, model)
    except (KeyError, IndexError, ValueError, TypeError, AttributeError) as e:
        # a graph shaped in a way no rule here expected: said plainly, never a traceback
        raise UserError(f"cannot read {what}: the importer failed on it "
                        f"({type(e).__name__}: {_first_line(e)})",
                        help="please report it with the model") from None


def _name(name: str | None, source: Any, model: Any) -> str:
    if name:
        return name
    if isinstance(source, (str, os.PathLike)):
        base = Path(source).stem
    else:
        base = model.graph.name if model.graph.name not in ("", "main_graph", "torch_jit") \
            else "imported"
    base = re.sub(r"\W", "_", base).strip("_") or "imported"
    return base if not base[0].isdigit() else f"net_{base}"


def _finish(r: Any, output: str, model: Any) -> Imported:
    """Paths from the module tree, the graph of what the output needs, weights by name."""
    g = r.g
    unsupported: dict[tuple[str, str], int] = {}
    for what, k in r.unsupported:
        where = module_of(g.nodes[k].name)
        key = (what, where if where is not None else (g.nodes[k].name or f"node {k}"))
        unsupported[key] = unsupported.get(key, 0) + 1
    out = r.env.get(output)
    if out is not None and out.layout != "nchw":
        unsupported[(f"an output as {LAYOUTS[out.layout]}", "")] = 1
        out = None
    for extra in g.outputs[1:]:
        key = ("a second output", module_of(g.nodes[g.producer[extra]].name) or extra
               if extra in g.producer else extra)
        unsupported[key] = unsupported.get(key, 0) + 1
    keep = _needed(r.ops, out.op) if out is not None else set(range(len(r.ops)))
    owned = {str(k): g.nodes[k].name for op in r.ops[1:] for k in op.nodes}
    owned.update({str(k): g.nodes[k].name for _, k in r.unsupported})
    tree = Tree(owned)
    maker = GraphMaker(r.maker.name, r.maker.type_of(r.maker.input).dims)
    names = {0: maker.input}
    weights: dict[str, list[Any]] = {}
    for index, op in enumerate(r.ops):
        if index == 0 or index not in keep:
            continue
        path = tree.path([str(k) for k in op.nodes], op.op)
        names[index] = maker.add(op.op, op.attrs, [names[j] for j in op.inputs], path)
        if op.weights:
            weights[names[index]] = op.weights
    graph = maker.graph(names[out.op] if out is not None else None)
    result = graph.output_type
    graph = dataclasses.replace(graph, num_classes=result.dims[0] if result.is_vector else None)
    notes = list(r.notes)
    kinds = {FLOATS.get(w.data_type) for w in model.graph.initializer} - {"float32", None}
    if kinds:
        notes.append(f"weights stored as {', '.join(sorted(kinds))} are read as float32")
    return Imported(graph, {}, weights,
                    [Unsupported(w, p, c) for (w, p), c in unsupported.items()], notes)


def _needed(ops: list[Any], out: int) -> set[int]:
    seen, stack = set(), [out]
    while stack:
        k = stack.pop()
        if k not in seen:
            seen.add(k)
            stack.extend(ops[k].inputs)
    return seen
