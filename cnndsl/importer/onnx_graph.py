"""An ONNX graph as the importer reads it: who produces and who reads each value, the
constants, and the static shapes.

Constants are the initializers, ``Constant`` nodes, and everything computed from
constants alone: exporters write the target of a ``Reshape`` or the pads of a ``Pad``
as a small computation (``Shape``, ``Gather``, ``Unsqueeze``, ``Concat`` ...), which is
evaluated here for its value (with numpy; the rarer operators with onnx's reference
implementation), never read as layers. A ``Shape`` is a constant where the shape of its
input is static; the batch dimension counts as :attr:`OnnxGraph.batch` (1 where it is
symbolic), which is what an importer of a per-sample network needs.

Shapes come from ``onnx.shape_inference`` run on a copy of the graph that holds the
small constants only (weights enter as typed inputs: inference needs their shapes, not
their values, and a copy of a 500 MB model costs 500 MB).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

import numpy as np

INT_MAX = 2**63 - 1
# Operators never folded even on constant inputs: a fresh random value on every run.
RANDOM = frozenset({"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike",
                    "Multinomial", "Bernoulli"})
SMALL = 4096  # elements: constants this small enter shape inference with their values


def attrs_of(node: Any) -> dict[str, Any]:
    """A node's attributes as Python values (strings decoded)."""
    from onnx import helper

    out = {}
    for a in node.attribute:
        v = helper.get_attribute_value(a)
        out[a.name] = v.decode("utf-8", "replace") if isinstance(v, bytes) else v
    return out


class OnnxGraph:
    """The nodes of ``model.graph`` with their producers, consumers, constants and
    shapes. ``batch``: the batch size constants are computed with."""

    def __init__(self, model: Any, batch: int = 1):
        self.model = model
        self.batch = batch
        g = model.graph
        self.opset = {(o.domain or "ai.onnx"): o.version for o in model.opset_import}
        self.nodes = list(g.node)
        self.producer: dict[str, int] = {}
        self.consumers: dict[str, list[int]] = defaultdict(list)
        for i, n in enumerate(self.nodes):
            for v in n.output:
                if v:
                    self.producer[v] = i
            for v in n.input:
                if v and i not in self.consumers[v]:
                    self.consumers[v].append(i)
        self.outputs = [o.name for o in g.output]
        self._tensors = {t.name: t for t in g.initializer}
        self.consts: dict[str, np.ndarray] = {}
        self.shapes: dict[str, tuple[int | None, ...]] = {}
        self.folded: set[int] = set()  # nodes whose outputs are all constants

    # ------------------------------------------------------------ questions
    def const(self, value: str) -> np.ndarray | None:
        """The constant ``value`` holds, or None where it is computed from the input."""
        if value in self.consts:
            return self.consts[value]
        t = self._tensors.get(value)
        if t is None:
            return None
        from onnx import numpy_helper
        arr = numpy_helper.to_array(t)
        self.consts[value] = arr
        return arr

    def is_const(self, value: str) -> bool:
        return value in self.consts or value in self._tensors

    def shape(self, value: str) -> tuple[int | None, ...] | None:
        if self.is_const(value):
            return tuple(self.const(value).shape)
        return self.shapes.get(value)

    def static_shape(self, value: str) -> tuple[int, ...] | None:
        s = self.shape(value)
        return None if s is None or any(d is None for d in s) else tuple(s)  # type: ignore

    def users(self, value: str) -> list[int]:
        """The nodes that read ``value`` (a folded ``Shape`` of it aside), and -1 for
        each graph output it is."""
        return [k for k in self.consumers.get(value, []) if k not in self.folded] + \
            [-1] * self.outputs.count(value)

    def sole_user(self, value: str) -> int | None:
        """The one node reading ``value`` (None: none, several, or a graph output)."""
        u = self.users(value)
        return u[0] if len(u) == 1 and u[0] >= 0 else None

    # ------------------------------------------------------------ shapes
    def infer_shapes(self, fixed_input: dict[str, tuple[int, ...]]) -> None:
        """Shapes of every value, by onnx's shape inference on a light copy of the graph
        whose inputs have the dims ``fixed_input`` gives."""
        import onnx
        from onnx import helper

        src = self.model.graph
        g = onnx.GraphProto()
        g.name = src.name
        g.node.extend(n for i, n in enumerate(src.node) if i not in self.folded)
        g.output.extend(src.output)
        for inp in src.input:
            if inp.name in fixed_input:
                elem = inp.type.tensor_type.elem_type or onnx.TensorProto.FLOAT
                g.input.append(helper.make_tensor_value_info(inp.name, elem,
                                                             list(fixed_input[inp.name])))
            elif inp.name not in self._tensors:
                g.input.append(inp)
        for name, t in self._tensors.items():
            if int(np.prod(t.dims, dtype=np.int64)) <= SMALL and t.data_location != 1:
                g.initializer.append(t)
            else:
                g.input.append(helper.make_tensor_value_info(name, t.data_type, list(t.dims)))
        for name, arr in self.consts.items():  # folded values (their nodes left out above):
            if name in self._tensors or arr.dtype == object:  # they fix later shapes
                continue
            try:
                if arr.size <= SMALL:
                    g.initializer.append(_tensor(arr, name))
                else:
                    g.input.append(helper.make_tensor_value_info(
                        name, helper.np_dtype_to_tensor_dtype(arr.dtype), list(arr.shape)))
            except (TypeError, ValueError, KeyError):
                pass
        light = helper.make_model(g, opset_imports=list(self.model.opset_import))
        light.ir_version = self.model.ir_version
        light.functions.extend(self.model.functions)
        try:
            inferred = onnx.shape_inference.infer_shapes(light, strict_mode=False,
                                                         data_prop=True)
        except Exception:  # noqa: BLE001 - inference is help, not a requirement
            inferred = light
        for vi in (*inferred.graph.input, *inferred.graph.value_info, *inferred.graph.output):
            tt = vi.type.tensor_type
            if tt.HasField("shape"):
                self.shapes[vi.name] = tuple(d.dim_value if d.HasField("dim_value") else None
                                             for d in tt.shape.dim)

    # ------------------------------------------------------------ folding
    def fold(self) -> None:
        """Evaluate every node whose inputs are constants (see the module's doc)."""
        for i, n in enumerate(self.nodes):
            if i in self.folded or n.op_type in RANDOM or n.domain not in ("", "ai.onnx"):
                continue
            if any(a.type in (5, 10) for a in n.attribute):  # a subgraph (If, Loop)
                continue
            if n.op_type in ("Shape", "Size"):
                shape = self.static_shape(n.input[0])
                if shape is None:
                    continue
                ins: list[Any] = [np.zeros(0)]
            elif n.op_type == "Constant" or all(not v or self.is_const(v) for v in n.input):
                ins = [self.const(v) if v else None for v in n.input]
            else:
                continue
            try:
                outs = _evaluate(n, ins, self)
            except Exception:  # noqa: BLE001 - left to the importer, which names it
                continue
            if outs is None:
                continue
            for v, arr in zip(n.output, outs):
                if v:
                    self.consts[v] = arr
            self.folded.add(i)


def _tensor(arr: np.ndarray, name: str) -> Any:
    from onnx import numpy_helper
    return numpy_helper.from_array(np.asarray(arr), name)


# ---------------------------------------------------------------- evaluation
def _axes(n: Any, ins: list, rank: int, index: int = 1) -> list[int] | None:
    """An axes list from the input at ``index`` (newer opsets) or the attribute."""
    a = attrs_of(n).get("axes")
    if a is None and len(ins) > index and ins[index] is not None:
        a = [int(x) for x in np.asarray(ins[index]).reshape(-1)]
    return None if a is None else [x + rank if x < 0 else x for x in a]


def _slice(n: Any, ins: list, g: OnnxGraph) -> list:
    data = ins[0]
    at = attrs_of(n)
    if "starts" in at:  # opset < 10
        starts, ends, axes, steps = at["starts"], at["ends"], at.get("axes"), None
    else:
        starts, ends = list(ins[1].reshape(-1)), list(ins[2].reshape(-1))
        axes = list(ins[3].reshape(-1)) if len(ins) > 3 and ins[3] is not None else None
        steps = list(ins[4].reshape(-1)) if len(ins) > 4 and ins[4] is not None else None
    axes = list(range(len(starts))) if axes is None else axes
    steps = [1] * len(starts) if steps is None else steps
    index = [slice(None)] * data.ndim
    for a, s, e, st in zip(axes, starts, ends, steps):
        index[int(a)] = slice(int(s), int(e), int(st))
    return [data[tuple(index)]]


def _reshape(n: Any, ins: list, g: OnnxGraph) -> list:
    data, shape = ins[0], [int(x) for x in ins[1].reshape(-1)]
    if not attrs_of(n).get("allowzero", 0):
        shape = [data.shape[i] if s == 0 else s for i, s in enumerate(shape)]
    return [data.reshape(shape)]


def _shape(n: Any, ins: list, g: OnnxGraph) -> list:
    shape = g.static_shape(n.input[0]) or ()
    if n.op_type == "Size":
        return [np.array(int(np.prod(shape, dtype=np.int64)), dtype=np.int64)]
    at = attrs_of(n)
    start, end = at.get("start", 0), at.get("end")
    return [np.array(shape[start:end], dtype=np.int64)]


def _div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if np.issubdtype(a.dtype, np.integer):
        return np.trunc(a / b).astype(a.dtype)  # integer division truncates (ONNX, C)
    return a / b


def _constant(n: Any, ins: list, g: OnnxGraph) -> list | None:
    from onnx import numpy_helper
    at = attrs_of(n)
    if "value" in at:
        return [numpy_helper.to_array(at["value"])]
    for key, dtype in (("value_float", np.float32), ("value_floats", np.float32),
                       ("value_int", np.int64), ("value_ints", np.int64)):
        if key in at:
            return [np.array(at[key], dtype=dtype)]
    return None  # a sparse or string constant: not a number the importer uses


def _cast(n: Any, ins: list, g: OnnxGraph) -> list:
    from onnx import helper
    return [ins[0].astype(helper.tensor_dtype_to_np_dtype(attrs_of(n)["to"]))]


def _unsqueeze(n: Any, ins: list, g: OnnxGraph) -> list:
    x = ins[0]
    rank = x.ndim + len(_axes(n, ins, 0) or [])
    for a in sorted(_axes(n, ins, rank) or []):
        x = np.expand_dims(x, a)
    return [x]


def _squeeze(n: Any, ins: list, g: OnnxGraph) -> list:
    axes = _axes(n, ins, ins[0].ndim)
    return [np.squeeze(ins[0], axis=tuple(axes) if axes is not None else None)]


def _constant_of_shape(n: Any, ins: list, g: OnnxGraph) -> list:
    from onnx import numpy_helper
    v = attrs_of(n).get("value")
    fill = numpy_helper.to_array(v).reshape(-1) if v is not None else np.zeros(1, np.float32)
    return [np.full([int(d) for d in ins[0].reshape(-1)], fill[0], dtype=fill.dtype)]


_NUMPY: dict[str, Callable[[Any, list, OnnxGraph], list | None]] = {
    "Constant": _constant,
    "Identity": lambda n, ins, g: [ins[0]],
    "Cast": _cast,
    "Shape": _shape,
    "Size": _shape,
    "Gather": lambda n, ins, g: [np.take(ins[0], ins[1], axis=attrs_of(n).get("axis", 0))],
    "Unsqueeze": _unsqueeze,
    "Squeeze": _squeeze,
    "Concat": lambda n, ins, g: [np.concatenate([np.atleast_1d(x) if x.ndim == 0 else x
                                                 for x in ins], axis=attrs_of(n)["axis"])],
    "Slice": _slice,
    "Reshape": _reshape,
    "Transpose": lambda n, ins, g: [np.transpose(ins[0], attrs_of(n).get("perm"))],
    "ConstantOfShape": _constant_of_shape,
    "Add": lambda n, ins, g: [ins[0] + ins[1]],
    "Sub": lambda n, ins, g: [ins[0] - ins[1]],
    "Mul": lambda n, ins, g: [ins[0] * ins[1]],
    "Div": lambda n, ins, g: [_div(ins[0], ins[1])],
    "Neg": lambda n, ins, g: [-ins[0]],
    "Sqrt": lambda n, ins, g: [np.sqrt(ins[0])],
    "Floor": lambda n, ins, g: [np.floor(ins[0])],
    "Ceil": lambda n, ins, g: [np.ceil(ins[0])],
    "Equal": lambda n, ins, g: [np.equal(ins[0], ins[1])],
    "Where": lambda n, ins, g: [np.where(ins[0], ins[1], ins[2])],
    "Range": lambda n, ins, g: [np.arange(ins[0], ins[1], ins[2]).astype(ins[0].dtype)],
    "Expand": lambda n, ins, g: [ins[0] * np.ones([int(d) for d in ins[1]], ins[0].dtype)],
    "Min": lambda n, ins, g: [np.minimum.reduce(ins)],
    "Max": lambda n, ins, g: [np.maximum.reduce(ins)],
}


def _evaluate(n: Any, ins: list, g: OnnxGraph) -> list | None:
    """The outputs of node ``n`` on constant inputs ``ins``."""
    f = _NUMPY.get(n.op_type)
    if f is not None:
        return f(n, ins, g)
    return _reference(n, ins, g)


def _reference(n: Any, ins: list, g: OnnxGraph) -> list | None:
    """onnx's reference implementation, for an operator numpy is not given here."""
    from onnx import helper
    from onnx.reference import ReferenceEvaluator

    names = [f"in{i}" if v else "" for i, v in enumerate(n.input)]
    node = helper.make_node(n.op_type, names, [f"out{i}" for i in range(len(n.output))],
                            domain=n.domain)
    node.attribute.extend(n.attribute)
    feeds = {name: arr for name, arr in zip(names, ins) if name}
    graph = helper.make_graph(
        [node], "fold", [helper.make_tensor_value_info(k, helper.np_dtype_to_tensor_dtype(
            v.dtype), list(v.shape)) for k, v in feeds.items()],
        [helper.make_tensor_value_info(o, 0, None) for o in node.output])
    model = helper.make_model(graph, opset_imports=[
        helper.make_opsetid("", g.opset.get("ai.onnx", 17))])
    return list(ReferenceEvaluator(model).run(None, feeds))
