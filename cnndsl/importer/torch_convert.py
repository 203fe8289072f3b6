"""Reading a traced PyTorch graph into the language's operators, node by node.

Every torch.fx node gets a value: an :class:`Act` (a tensor of the network: one node of
the draft, and how PyTorch holds it: channels first or last, a vector as Nx1x1), a
:class:`Const` (a tensor the input does not reach: a parameter, a buffer, a reshaped
one), a :class:`Pending` idiom (a channel shuffle half matched), :data:`BAD` (made from
an operation the language has no counterpart for, which was reported) or the Python
value a shape computation gave. Module calls are read by the operator that claims
the class (:attr:`OpDef.from_torch`), functional calls by :mod:`.torch_functions`,
multi-node idioms by :mod:`.torch_patterns`; each node made is checked against the
shape PyTorch gave, so a wrong reading stops where it happens, as an
:class:`~cnndsl.importer.common.Unsupported` entry.

The draft is turned into the imported graph at the end (:meth:`Converter.finish`),
after the folds that need a node's users (an ``add`` chain, ``(a + b) / 2``, a pool
then flatten); only what reaches the output is kept.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .. import ops
from ..diagnostics import CnnError
from ..elaborate.attrs import check_attr
from ..ir.graph import TensorType
from ..ops.schema import REQUIRED, ShapeError
from .common import GraphMaker, Imported, ImportFailure, Unsupported


@dataclass(frozen=True)
class Act:
    """A tensor of the network: draft node ``node``. ``layout`` "nhwc": PyTorch holds
    the CxHxW map as HxWxC (between a permute and its inverse); ``unsq``: it holds the
    vector of C as Cx1x1."""

    node: int
    layout: str = "nchw"
    unsq: bool = False


@dataclass(frozen=True)
class Const:
    """A tensor no input reaches; ``param``: made from a trainable parameter; ``attr``:
    exactly a module's attribute (its qualified name), else None."""

    value: Any
    param: bool = False
    attr: str | None = None


@dataclass(frozen=True)
class Pending:
    """The first steps of an idiom (``kind``: split, swapped, soft, subsample, expand)
    on ``base``, made at fx node ``at``; ``what`` names the idiom for a report when the
    rest never comes."""

    kind: str
    base: Act
    groups: int = 1
    what: str = ""
    at: Any = None


class _Bad:
    def __repr__(self) -> str:
        return "BAD"


BAD = _Bad()  # made from something unsupported (already reported)


@dataclass
class Draft:
    """A node before the final graph: op, attributes as the language writes them, input
    drafts, module path, the type checked against PyTorch's and the original's
    tensors; ``resolved``: the attributes as the operator resolved them (a conv's pad
    as four sides); ``absorbed``: paths of nodes folded into it; ``meta``: hints for
    the folds."""

    op: str
    attrs: dict[str, Any]
    inputs: list[int]
    path: str
    type: TensorType
    weights: list[Any] = field(default_factory=list)
    resolved: dict[str, Any] = field(default_factory=dict)
    absorbed: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)


# Operators that act on each element alone: the same on a channels-last tensor.
POINTWISE = frozenset({"relu", "relu6", "leakyrelu", "elu", "tanh", "sigmoid", "gelu",
                       "silu", "hardswish", "hardsigmoid", "dropout", "droppath", "scale",
                       "add", "mul"})


def infer(op: str, attrs: Mapping[str, Any],
          types: Sequence[TensorType]) -> tuple[dict[str, Any], TensorType]:
    """The resolved attributes and output type of ``op`` under the language's rules,
    as :meth:`GraphMaker.add` will find them; raises ImportFailure where they reject
    it."""
    opdef = ops.lookup(op)
    if opdef is None:
        raise ImportFailure(f"no operator {op!r}")
    values: dict[str, Any] = {}
    try:
        for a in opdef.attrs:
            if a.name in attrs:
                values[a.name] = check_attr(opdef, a, attrs[a.name], None)
            elif a.default is REQUIRED or callable(a.default):
                raise ImportFailure(f"{op} needs {a.name}")
            else:
                values[a.name] = check_attr(opdef, a, a.default, None)
        values = opdef.resolve(values, list(types))
        return values, opdef.infer(values, list(types))
    except ShapeError as e:
        raise ImportFailure(f"{op}: {e.message}") from None
    except CnnError as e:
        raise ImportFailure(f"{op}: {e}") from None


def torch_dims(t: TensorType, layout: str) -> tuple[int, ...]:
    """How PyTorch holds a value of type ``t`` (batch aside)."""
    if layout == "nhwc":
        c, h, w = t.dims
        return (h, w, c)
    return t.dims


class Converter:
    """The state of one import: draft, values, reports. ``shapes`` holds the recorded
    output of every node (:class:`~cnndsl.importer.torch_trace.Shape` for a tensor the
    input reaches, the value itself for everything else)."""

    def __init__(self, name: str, input_shape: tuple[int, ...], shapes: dict[Any, Any],
                 module_path: Callable[[Any], str]):
        self.name = name
        self.shapes = shapes
        self.module_path = module_path
        self.drafts: list[Draft] = [Draft("input", {}, [], "input", TensorType(input_shape))]
        self.env: dict[Any, Any] = {}
        self.found: dict[tuple[str, str], int] = {}
        self.notes: list[str] = []

    # ------------------------------------------------------------ values
    def value(self, arg: Any) -> Any:
        """``arg`` with every fx node replaced by its value (lists, tuples, dicts too)."""
        if isinstance(arg, (list, tuple)):
            return type(arg)(self.value(a) for a in arg)
        if isinstance(arg, dict):
            return {k: self.value(v) for k, v in arg.items()}
        if hasattr(arg, "op") and hasattr(arg, "users"):  # an fx node
            return self.env.get(arg, BAD)
        return arg

    def type_of(self, x: Act) -> TensorType:
        return self.drafts[x.node].type

    def torch_shape(self, n: Any) -> tuple[int, ...]:
        """The recorded shape of node ``n``'s tensor, batch aside."""
        return tuple(self.shapes[n].dims[1:])

    def path(self, n: Any, local: str) -> str:
        """A functional node's path: its module's, then a short local name."""
        where = self.module_path(n)
        return f"{where}.{local}" if where else local

    # ------------------------------------------------------------ reports
    def unsupported(self, what: str, path: str, count: int = 1) -> _Bad:
        key = (what, path)
        self.found[key] = self.found.get(key, 0) + count
        return BAD

    def partial(self, p: Pending, then: str, n: Any) -> _Bad:
        """An idiom whose first steps matched and whose next step is something else."""
        return self.unsupported(f"partly matched {p.what} (then {then})", self.module_path(n))

    # ------------------------------------------------------------ making nodes
    def node(self, op: str, attrs: Mapping[str, Any], ins: Sequence[Act], n: Any, path: str,
             weights: Sequence[Any] = (), layout: str | None = None,
             shape: tuple[int, ...] | None = None) -> Act | _Bad:
        """A draft node of ``op`` for fx node ``n`` (``shape``: PyTorch's, where ``n``
        gives several), checked against the shape PyTorch gave; BAD (reported) where
        the language rejects it, the shapes differ, or a channels-last input meets an
        operator that is not element-wise (``layout`` given: the caller read it so)."""
        if layout is None:
            layout = "nhwc" if any(x.layout == "nhwc" for x in ins) else "nchw"
            if layout == "nhwc" and op not in POINTWISE:
                return self.unsupported(f"{op} on a channels-last tensor", path)
        try:
            resolved, t = infer(op, attrs, [self.type_of(x) for x in ins])
        except ImportFailure as e:
            return self.unsupported(str(e), path)
        if not t.is_map:
            layout = "nchw"
        got = self.torch_shape(n) if shape is None else tuple(shape)
        unsq = False
        if got != torch_dims(t, layout):
            if layout == "nchw" and t.is_vector and got == (t.dims[0], 1, 1):
                unsq = True
            else:
                shown = "x".join(map(str, got))
                return self.unsupported(f"{op} gives {t} in the language but {shown} in "
                                        "PyTorch", path)
        self.drafts.append(Draft(op, dict(attrs), [x.node for x in ins], path, t,
                                 list(weights), resolved))
        return Act(len(self.drafts) - 1, layout, unsq)

    def same_as(self, x: Act, n: Any) -> Act | _Bad:
        """``x`` passed through (a contiguous, an identity): checked like a node."""
        t = self.type_of(x)
        want = (t.dims[0], 1, 1) if x.unsq else torch_dims(t, x.layout)
        if self.torch_shape(n) != want:
            return self.unsupported(f"{call_name(n)} changes the shape", self.module_path(n))
        return x

    # ------------------------------------------------------------ the result
    def finish(self, out: Any, classes: dict[str, str],
               fold: Callable[[list[Draft], int], None] | None = None) -> Imported:
        """The imported graph of what reaches ``out`` (the output's value), the draft
        rewritten by ``fold`` first (:func:`~.torch_patterns.fold`)."""
        root = self._output(out)
        if root is None and len(self.drafts) > 1:
            root = len(self.drafts) - 1  # a partial graph: as far as the reading went
        g = GraphMaker(self.name, self.drafts[0].type.dims)
        names: dict[int, str] = {0: g.input}
        weights: dict[str, list[Any]] = {}
        if root is not None and fold is not None:
            fold(self.drafts, root)
        if root is not None:
            for i in reaching(self.drafts, root):
                d = self.drafts[i]
                if i == 0 or any(j not in names for j in d.inputs):
                    continue  # an input that failed: reported there
                try:
                    name = g.add(d.op, d.attrs, [names[j] for j in d.inputs], d.path)
                except ImportFailure as e:
                    self.unsupported(str(e).split(": ", 1)[-1], d.path)
                    continue
                if g.type_of(name) != d.type:
                    self.unsupported(f"{d.op} gives {g.type_of(name)} in the language but "
                                     f"{d.type} in PyTorch", d.path)
                    continue
                names[i] = name
                if d.weights:
                    weights[name] = list(d.weights)
        graph = g.graph(names.get(root) if root is not None else None)
        if graph[graph.output].op == "softmax":
            self.notes.append("the model ends with a softmax, which its module computes; at "
                              "the end of a cnndsl network a softmax is the classifier, "
                              "whose module returns the logits")
        found = [Unsupported(what, path, k) for (what, path), k in self.found.items()]
        return Imported(graph, classes, weights, found, self.notes)

    def _output(self, out: Any) -> int | None:
        if isinstance(out, (tuple, list)) and out:
            if len(out) > 1:
                self.unsupported(f"{len(out)} outputs (the first is read)", "")
            out = out[0]
        if isinstance(out, dict) and out:
            self.unsupported(f"an output dict of {len(out)} (the first is read)", "")
            out = next(iter(out.values()))
        if isinstance(out, Pending):
            self.unsupported(f"partly matched {out.what} (then the output)", "")
            return None
        if not isinstance(out, Act):
            if out is not BAD:
                self.unsupported("an output that is not a tensor of the network", "")
            return None
        if out.layout != "nchw" or out.unsq:
            self.unsupported("a channels-last output" if out.layout == "nhwc" else
                             "an output of Cx1x1 that the language holds as a vector", "")
            return None
        return out.node


def reaching(drafts: list[Draft], root: int) -> list[int]:
    """The drafts ``root`` depends on, in draft (topological) order."""
    seen = {root}
    stack = [root]
    while stack:
        for j in drafts[stack.pop()].inputs:
            if j not in seen:
                seen.add(j)
                stack.append(j)
    return sorted(seen)


_PREFIX = {"torch": "torch", "torch.functional": "torch", "torch.nn.functional": "F",
           "torch._C._nn": "F", "_operator": "operator", "operator": "operator",
           "math": "math", "builtins": ""}


def call_name(n: Any) -> str:
    """What an fx call node calls, as code writes it (``torch.where``, ``F.pad``,
    ``Tensor.view``, ``autograd.Function Clip``)."""
    if n.op == "call_method":
        return f"Tensor.{n.target}"
    if n.op != "call_function":
        return f"{n.op} {n.target}"
    t = n.target
    fn_class = getattr(t, "autograd_function", None)
    if fn_class is not None:
        return f"autograd.Function {fn_class.__name__}"
    name = getattr(t, "__name__", None) or repr(t)
    module = getattr(t, "__module__", None)
    if module is None and hasattr(t, "__objclass__"):  # a Tensor method called as a function
        return f"Tensor.{name}"
    prefix = _PREFIX.get(module, module)
    return f"{prefix}.{name}" if prefix else name
