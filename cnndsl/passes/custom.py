"""User passes: rewrites (graph -> graph) and analyses (network -> a summary column).

A *rewrite* is a function ``(Graph) -> Graph`` returning a new graph (the IR is frozen
data: build it with ``dataclasses.replace``). :func:`run` applies rewrites in order and
checks each result as the compiler checks its own graphs, then returns a new
:class:`~cnndsl.Network`; the original is untouched. An *analysis* is a function
``(Network) -> {node name: value}`` registered with a column name; :func:`analyze`
runs it and ``cnndsl summary --pass`` shows the values as a column (docs/plugins.md).

>>> import dataclasses
>>> from cnndsl import compile
>>> @rewrite
... def relu_to_gelu(graph):
...     nodes = [dataclasses.replace(n, op="gelu", attrs=()) if n.op == "relu" else n
...              for n in graph.nodes]
...     return dataclasses.replace(graph, nodes=tuple(nodes))
>>> net = compile("input 3x8x8\\nconv(4, 3) - relu - fc(10)")
>>> [n.op for n in run(net, [relu_to_gelu]).graph][1:3], net.graph.nodes[2].op
(['conv', 'gelu'], 'relu')

NOTE: how a rewrite's graph is checked. The result must be a :class:`Graph` whose
``lint()`` finds nothing and whose first node is the input. Then every node, in order,
is read again through its operator's definition, as the elaborator reads a call: its
operator must be registered (plugins included) and given as many inputs as it takes;
attributes the node leaves out take their schema defaults, unknown or missing ones are
errors; ``resolve`` and ``infer`` run on the inputs' *re-inferred* types. The result
carries the re-inferred types, so a rewrite that changes a width need not compute the
shapes after it, and a rewrite whose change some later layer cannot take (a residual
add of 16 and 8 channels) gets that layer's own shape error, naming the pass (E0903).
Last, the whole-graph checks (windows that do not fit, misaligned merges) run again.
A pass that raises, or returns the wrong kind of value, is E0901; a malformed graph
is E0902.
"""

from __future__ import annotations

import dataclasses
import math
import traceback
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .. import ops
from ..diagnostics import CnnError, Diagnostic
from ..ir.graph import Graph, Node
from ..ops.schema import REQUIRED, OpDef, ShapeError
from .check import check
from .receptive_field import receptive_field

if TYPE_CHECKING:
    from ..api import Network


@dataclasses.dataclass(frozen=True)
class Rewrite:
    """A rewrite pass: ``fn(graph) -> graph``; ``name`` is what diagnostics call it."""

    fn: Callable[[Graph], Graph]
    name: str

    def __call__(self, graph: Graph) -> Graph:
        return self.fn(graph)


@dataclasses.dataclass(frozen=True)
class Analysis:
    """An analysis pass: ``fn(network) -> {node name: value}``, shown as ``column``."""

    fn: Callable[[Network], Mapping[str, Any]]
    column: str
    name: str

    def __call__(self, net: Network) -> Mapping[str, Any]:
        return self.fn(net)


def rewrite(fn: Callable[[Graph], Graph] | None = None, *, name: str | None = None):
    """Mark ``fn`` as a rewrite (``@rewrite`` or ``@rewrite(name="fold-bn")``). A plain
    function given to :func:`run` or ``--pass`` is taken as a rewrite too."""
    def make(f: Callable[[Graph], Graph]) -> Rewrite:
        return Rewrite(f, name or getattr(f, "__name__", "rewrite"))
    return make(fn) if fn is not None else make


def analysis(column: str, *, name: str | None = None):
    """Mark a function ``(network) -> {node name: value}`` as the analysis that fills
    the summary column ``column``: ``@analysis("MACs/element")``."""
    if not isinstance(column, str) or not column.strip():
        raise TypeError("analysis() takes the column's name: @analysis('intensity')")

    def make(f: Callable[[Network], Mapping[str, Any]]) -> Analysis:
        return Analysis(f, column.strip(), name or getattr(f, "__name__", column))
    return make


def as_pass(obj: Any) -> Rewrite | Analysis:
    """A :class:`Rewrite` or :class:`Analysis`; a plain callable is a rewrite."""
    if isinstance(obj, (Rewrite, Analysis)):
        return obj
    if callable(obj):
        return Rewrite(obj, getattr(obj, "__name__", type(obj).__name__))
    raise TypeError(f"a pass is a function, @rewrite or @analysis, got {type(obj).__name__}")


# ---------------------------------------------------------------- rewrites
def run(net: Network, passes: Iterable[Any], strict: bool = False) -> Network:
    """A new :class:`~cnndsl.Network`: ``net`` with the rewrites applied in order, each
    result checked (see the NOTE above); ``net`` is untouched. Raises
    :class:`~cnndsl.CnnError` with the diagnostics of the first pass that breaks the
    graph; ``strict`` makes the warnings of the new graph errors, as ``compile`` does."""
    from ..api import Network
    graph = net.graph
    todo = [as_pass(p) for p in passes]
    for p in todo:
        if isinstance(p, Analysis):
            raise TypeError(f"{p.name} is an analysis (the column {p.column!r}): give it to "
                            "analyze(), or to `cnndsl summary --pass`")
    for p in todo:
        graph = apply_rewrite(p, graph)
    fields = receptive_field(graph)
    redone = {_key(d) for d in check(net.graph, net.receptive_fields)}
    diags = [d for d in net.diagnostics if _key(d) not in redone]
    seen = {_key(d) for d in diags}
    diags += [d for d in check(graph, fields) if _key(d) not in seen]
    if strict:
        diags = [d if d.is_error else d.as_error() for d in diags]
    if any(d.is_error for d in diags):
        raise CnnError(diags)
    out = Network(graph, net.program, net.source_name, net.bindings, diags, net.path,
                  net.imported, net.blocks, net.preset)
    out._fields = fields
    return out


def _key(d: Diagnostic) -> tuple:
    return (d.code, d.message, d.span, d.label)


def apply_rewrite(p: Rewrite, graph: Graph) -> Graph:
    """``p(graph)``, checked and with its types re-inferred; CnnError otherwise."""
    try:
        out = p.fn(graph)
    except Exception as e:  # the user's code: say where it failed, never crash cnndsl
        raise CnnError([_raised(p.name, e)]) from None
    if not isinstance(out, Graph):
        raise CnnError([Diagnostic(
            "E0901", f"pass `{p.name}` returned a {type(out).__name__}, not a Graph",
            help="a rewrite returns a new graph, e.g. dataclasses.replace(graph, "
            "nodes=tuple(nodes)); an analysis is marked @analysis('column')")])
    problems = out.lint()
    if not out.nodes or out.nodes[0].op != "input":
        problems.insert(0, "its first node is not the `input` node")
    if problems:
        raise CnnError([Diagnostic(
            "E0902", f"pass `{p.name}` returned a malformed graph: {problems[0]}",
            notes=tuple(problems[1:6]),
            help="keep the nodes in topological order with unique names, and rewire the "
            "readers of a node you remove (and the graph's output) to its input")])
    return retype(out, p.name)


def _raised(name: str, e: Exception) -> Diagnostic:
    frames = traceback.extract_tb(e.__traceback__)
    where = f" at {frames[-1].filename}:{frames[-1].lineno}" if frames else ""
    return Diagnostic("E0901", f"pass `{name}` raised {type(e).__name__}: {e}"[:500],
                      help=f"the error is in the pass{where}, not in the network")


def retype(graph: Graph, name: str = "<rewrite>") -> Graph:
    """``graph`` with every node's attributes completed and resolved and its type
    re-inferred through its operator's rules; CnnError naming pass ``name`` where a
    node cannot be read so."""
    types = {graph.input.name: graph.input.type}
    nodes = [graph.input]
    for node in graph.nodes[1:]:
        op = ops.lookup(node.op)
        if op is None or op.name != node.op:
            hint = f"; did you mean `{op.name}`?" if op is not None else ""
            raise _malformed(name, node, f"operator `{node.op}` is not registered{hint}")
        if op.family == "io":
            raise _malformed(name, node, "a second `input` node")
        if op.arity != -1 and len(node.inputs) != op.arity or not node.inputs:
            raise _malformed(name, node, f"{op.name} takes {op.arity if op.arity > 0 else 'one or more'} "
                             f"input(s), the node has {len(node.inputs)}")
        attrs = _attrs(op, node, name)
        ins = [types[i] for i in node.inputs]
        try:
            attrs = op.resolve(attrs, ins)
            out = op.infer(attrs, ins)
        except ShapeError as ex:
            raise CnnError([Diagnostic(
                "E0903", f"after pass `{name}`: {node.name} ({op.name}): {ex.message}",
                node.span, help=ex.help, label=ex.label,
                notes=(f"its inputs are {', '.join(map(str, ins))}",))]) from None
        except Exception as ex:  # a shape rule that cannot read these attributes
            raise CnnError([Diagnostic(
                "E0903", f"after pass `{name}`: the shape rule of {op.name} fails on "
                f"{node.name}: {type(ex).__name__}: {ex}", node.span)]) from None
        types[node.name] = out
        nodes.append(dataclasses.replace(
            node, attrs=tuple((a.name, attrs[a.name]) for a in op.attrs if a.name in attrs),
            type=out))
    return dataclasses.replace(graph, nodes=tuple(nodes))


def _malformed(name: str, node: Node, why: str) -> CnnError:
    return CnnError([Diagnostic("E0902", f"pass `{name}` returned a malformed graph: "
                                f"{node.name}: {why}", node.span)])


_KINDS = {"int": (int,), "float": (int, float), "bool": (bool,), "str": (str,),
          "pair": (int, tuple), "pad": (int, tuple, str)}


def _attrs(op: OpDef, node: Node, name: str) -> dict[str, Any]:
    """The node's attributes against the schema: defaults filled, types checked."""
    if not isinstance(node.attrs, tuple) or not all(
            isinstance(p, tuple) and len(p) == 2 and isinstance(p[0], str) for p in node.attrs):
        raise _malformed(name, node, "its attrs are not (name, value) pairs")
    given = dict(node.attrs)
    unknown = [k for k in given if op.attr(k) is None]
    if unknown:
        raise _malformed(name, node, f"{op.name} has no attribute `{unknown[0]}` (it has "
                         f"{', '.join(a.name for a in op.attrs) or 'none'})")
    out: dict[str, Any] = {}
    for a in op.attrs:
        if a.name not in given:
            if a.default is REQUIRED or callable(a.default):
                raise _malformed(name, node, f"{op.name} needs the attribute `{a.name}`")
            v = a.default
            out[a.name] = (v, v) if a.kind == "pair" and isinstance(v, int) else v
            continue
        v = given[a.name]
        bad = v is not None and (not isinstance(v, _KINDS.get(a.kind, (object,)))
                                 or (a.kind != "bool" and isinstance(v, bool))
                                 or (isinstance(v, float) and not math.isfinite(v)))
        if bad:
            raise _malformed(name, node, f"attribute `{a.name}` of {op.name} is a "
                             f"{a.kind}, got {v!r:.40}")
        out[a.name] = v
    return out


# ---------------------------------------------------------------- analyses
def analyze(net: Network, analyses: Iterable[Any]) -> dict[str, dict[str, Any]]:
    """Column name -> {node name: value} for each analysis, run on ``net``. Raises
    :class:`~cnndsl.CnnError` (E0901) for an analysis that fails or returns values for
    names that are not the network's nodes."""
    out: dict[str, dict[str, Any]] = {}
    for obj in analyses:
        a = as_pass(obj)
        if not isinstance(a, Analysis):
            raise TypeError(f"{a.name} is a rewrite: give it to run(); mark an analysis "
                            "with @analysis('column')")
        try:
            values = a.fn(net)
        except Exception as e:  # the user's code
            raise CnnError([_raised(a.name, e)]) from None
        if not isinstance(values, Mapping):
            raise CnnError([Diagnostic("E0901", f"analysis `{a.name}` returned a "
                                       f"{type(values).__name__}, not a mapping of node "
                                       "names to values")])
        names = {n.name for n in net.graph}
        stray = [k for k in values if k not in names]
        if stray:
            raise CnnError([Diagnostic("E0901", f"analysis `{a.name}` returned a value "
                                       f"for {stray[0]!r:.60}, which is not a node of "
                                       f"{net.name}", help="key the values by node name "
                                       "(node.name, as the summary's layer column shows)")])
        out[a.column] = dict(values)
    return out


__all__ = ["Analysis", "Rewrite", "analysis", "analyze", "apply_rewrite", "as_pass",
           "retype", "rewrite", "run"]
