"""Per-layer summaries of a network, as Python objects and as text, JSON, Markdown, CSV.

>>> from cnndsl import compile
>>> s = compile("input 3x32x32\\nconv(16, 3) - relu - pool - fc(10)").summary()
>>> [(r.name, r.output, r.params, r.macs, r.activations) for r in s.layers][1:3]
[('conv1', (16, 32, 32), 448, 442368, 16384), ('relu1', (16, 32, 32), 0, 0, 16384)]
>>> s.params, s.macs, s.activations, str(s.layers[3].receptive_field)
(41418, 483328, 23562, '4')

Conventions (docs/cost.md): ``macs`` counts convolutions and fully connected layers
(the slides' "ops"); batch norm and adaptive pooling MACs are kept by kind and added in
``macs_fvcore``. A row's ``activations`` are its output elements per image; ``created``
are the elements of the tensors it allocates (0 for in-place activations and views), and
the totals sum ``created``. With ``depth``, the nodes inside block calls deeper than
``depth`` are collapsed into one row per call.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from . import ops
from .diagnostics import Diagnostic
from .ir.graph import Graph, Node
from .ir.scopes import Scope, cut, is_level, scope_tree
from .passes.cost import HEAD_KINDS, NodeCost, fvcore_macs, head_macs
from .passes.memory import ActivationMemory, TrainingMemory, activation_memory, training_memory
from .passes.receptive_field import RF
from .views import SummaryViews, md_cell, md_table

if TYPE_CHECKING:
    from .passes.pipeline import Analysis


@dataclass(frozen=True)
class LayerRow:
    name: str  # node name, or the scope of a collapsed block call (stage2/bottleneck1)
    op: str  # operator, or the block called
    label: str
    output: tuple[int, ...]
    params: int
    macs: int  # convolution and fully connected MACs
    activations: int  # output elements per image
    span: dict | None
    weights: int = 0
    bias: int = 0
    buffers: int = 0
    macs_by_kind: dict[str, int] = field(default_factory=dict)
    created: int = 0  # elements of the tensors this row allocates
    receptive_field: RF | None = None
    path: str = ""  # module path in the emitted code ("" for a call without a module)
    scope: str = ""
    nodes: int = 1  # IR nodes in this row

    @property
    def flops(self) -> int:
        return 2 * self.macs

    def to_dict(self) -> dict:
        return {
            "name": self.name, "op": self.op, "label": self.label, "path": self.path,
            "scope": self.scope, "output": list(self.output), "params": self.params,
            "weights": self.weights, "bias": self.bias, "buffers": self.buffers,
            "macs": self.macs, "macs_by_kind": dict(self.macs_by_kind),
            "activations": self.activations, "created": self.created,
            "receptive_field": self.receptive_field.to_json() if self.receptive_field else None,
            "span": self.span, "nodes": self.nodes,
        }


@dataclass(frozen=True, repr=False)
class Summary(SummaryViews):
    """Per-layer rows and totals. It prints as ``cnndsl summary``'s table and shows in a
    notebook as HTML; ``rows``, ``totals``, ``to_pandas()``: see cnndsl.views."""

    network: str
    input: tuple[int, ...]
    output: tuple[int, ...]
    layers: list[LayerRow]
    params: int
    weights: int
    bias: int
    buffers: int
    macs_by_kind: dict[str, int]
    activations: int  # created tensors per image, the input included
    activations_all: int  # every node's output elements per image
    memory: ActivationMemory
    training: TrainingMemory
    depth: int | None = None
    diagnostics: tuple[Diagnostic, ...] = ()
    source: str = ""

    @property
    def params_trainable(self) -> int:
        return self.params  # the language has no frozen parameters

    @property
    def macs(self) -> int:
        return head_macs(self.macs_by_kind)

    @property
    def flops(self) -> int:
        return 2 * self.macs

    @property
    def macs_fvcore(self) -> int:
        return fvcore_macs(self.macs_by_kind)

    @property
    def dtype(self) -> str:
        return self.memory.dtype

    @property
    def batch(self) -> int:
        return self.training.batch

    @property
    def activation_bytes(self) -> int:
        return self.memory.bytes

    @property
    def totals(self) -> dict:
        m, b = self.memory, self.batch
        return {
            "params": self.params,
            "params_trainable": self.params_trainable,
            "params_weights": self.weights,
            "params_bias": self.bias,
            "buffers": self.buffers,
            "macs": self.macs,
            "flops": self.flops,
            "macs_by_kind": dict(self.macs_by_kind),
            "macs_fvcore": self.macs_fvcore,
            "activations": self.activations,
            "activations_all": self.activations_all,
            "activation_bytes": m.bytes,
            "peak_activations": m.peak_elements,
            "peak_activation_bytes": m.peak_bytes,
            "dtype": m.dtype,
            "batch": b,
            "memory": {
                "batch": b, "dtype": m.dtype, "forward_bytes": m.bytes * b,
                "peak_bytes": m.peak_bytes * b, "peak_at": m.peak_at,
                "training": self.training.to_json(),
            },
        }

    def to_dict(self) -> dict:
        return {
            "network": self.network,
            "source": self.source,
            "input": list(self.input),
            "output": list(self.output),
            "totals": self.totals,
            "depth": self.depth,
            "layers": [r.to_dict() for r in self.layers],
            "diagnostics": [d.to_json() for d in self.diagnostics],
        }


# ---------------------------------------------------------------- building
def node_row(node: Node, nc: NodeCost, rf: RF | None) -> LayerRow:
    kinds = {nc.macs_kind: nc.macs} if nc.macs else {}
    head = nc.macs if nc.macs_kind in HEAD_KINDS else 0
    return LayerRow(
        node.name, node.op, ops.get(node.op).describe(node.attr_map, node.type), node.type.dims,
        nc.params.total, head, nc.activations, node.span.to_json() if node.span else None,
        nc.params.weights, nc.params.bias, nc.params.buffers, kinds,
        nc.activations if nc.new_tensor else 0, rf, node.path, node.scope_str())


def block_row(scope: Scope, rows: list[LayerRow]) -> LayerRow:
    """One row for the nodes of one block call (``scope.nodes[i]`` made ``rows[i]``)."""
    frames = [f for f in scope.frames if is_level(f)]
    last, out = frames[-1], rows[-1]
    kinds: dict[str, int] = {}
    for r in rows:
        for k, v in r.macs_by_kind.items():
            kinds[k] = kinds.get(k, 0) + v
    return LayerRow(
        "/".join(f.name for f in frames), last.block, last.call, out.output,
        sum(r.params for r in rows), sum(r.macs for r in rows), out.activations,
        last.span.to_json() if last.span else None, sum(r.weights for r in rows),
        sum(r.bias for r in rows), sum(r.buffers for r in rows), kinds,
        sum(r.created for r in rows), out.receptive_field,
        ".".join(f.name for f in frames), "/".join(f.name for f in frames[:-1]), len(rows))


def collapse(graph: Graph, rows: list[LayerRow], depth: int | None) -> list[LayerRow]:
    """One row per block call at level ``depth`` (0: the top-level calls), as `draw`
    does: the calls of :func:`cnndsl.ir.scopes.cut`, the nodes around them."""
    if depth is None:
        return rows
    by_name = {n.name: r for n, r in zip(graph.nodes, rows)}
    return [by_name[it.name] if isinstance(it, Node) else
            block_row(it, [by_name[n.name] for n in it.nodes])
            for it in cut(scope_tree(graph), depth)]


def summarize(graph: Graph, analysis: Analysis, *, name: str | None = None,
              source: str = "", depth: int | None = None, dtype: str = "fp32",
              batch: int = 1, optimizer: str = "adam") -> Summary:
    """The summary of a graph from its analysis (what ``cnndsl summary`` prints;
    :meth:`cnndsl.Network.summary` passes its own)."""
    if depth is not None and depth < 0:
        raise ValueError(f"depth must be 0 or more, got {depth}")
    c, rfs = analysis.cost, analysis.fields
    rows = [node_row(n, c.nodes[n.name], rfs[n.name]) for n in graph.nodes]
    mem = analysis.memory if dtype.lower() == analysis.memory.dtype else \
        activation_memory(graph, dtype, c)
    train = training_memory(graph, batch, optimizer, dtype, c=c)
    return Summary(name or graph.name, graph.input_type.dims, graph.output_type.dims,
                   collapse(graph, rows, depth), c.params.total, c.params.weights,
                   c.params.bias, c.params.buffers, dict(c.macs_by_kind), c.activations,
                   c.activations_all, mem, train, depth, analysis.diagnostics, source)


# ---------------------------------------------------------------- numbers
def si(n: float, unit: str = "") -> str:
    """``15470264320`` -> ``'15.47 G'``.

    >>> si(15470264320), si(123633664), si(999), si(61_000_000, "B")
    ('15.47 G', '123.6 M', '999', '61.0 MB')
    """
    for div, p in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= div:
            v = n / div
            digits = 2 if v < 100 and p in "TG" else 1
            return f"{v:.{digits}f} {p}{unit}"
    return f"{n:g} {unit}".rstrip() if unit else f"{n:g}"


def _shape(dims) -> str:
    return "x".join(map(str, dims))


def _cells(r: LayerRow) -> tuple[str, ...]:
    """Table cells; a value in parentheses is not in the total below it."""
    if r.nodes == 1 and not r.created:
        act = f"({r.activations:,})"
    else:
        act = f"{(r.created if r.nodes > 1 else r.activations):,}"
    other = sum(v for k, v in r.macs_by_kind.items() if k not in HEAD_KINDS)
    macs = f"{r.macs:,}" if r.macs or not other else f"({other:,})"
    rf = str(r.receptive_field) if r.receptive_field else ""
    return (r.name, r.label, _shape(r.output), act, f"{r.params:,}", macs, rf)


HEADS = ("layer", "op", "output", "activations", "params", "MACs", "RF")


def footer(s: Summary) -> list[tuple[str, str]]:
    """The totals under the table, with the split by kind and the memory figures."""
    k, m, t = s.macs_by_kind, s.memory, s.training
    return [
        ("params", f"{s.params:,} = {si(s.params)} (weights {s.weights:,} + biases "
         f"{s.bias:,}); buffers {s.buffers:,}"),
        ("MACs", f"{s.macs:,} = {si(s.macs)} (conv {si(k.get('conv', 0))} + linear "
         f"{si(k.get('linear', 0))}); FLOPs = 2 x MACs = {si(s.flops)}"),
        ("fvcore", f"{s.macs_fvcore:,} = MACs + norm {k.get('norm', 0):,} + pool "
         f"{k.get('pool', 0):,}" + (f" + resize {k['resize']:,}" if k.get("resize") else "")),
        ("activations", f"{s.activations:,} per image = {si(m.bytes, 'B')} {m.dtype} "
         f"(every node's output: {s.activations_all:,})"),
        ("peak", f"{m.peak_elements:,} live at {m.peak_at} = {si(m.peak_bytes, 'B')} "
         "per image"),
        ("training", f"batch {t.batch}, {t.optimizer}: {si(t.total, 'B')} = activations "
         f"{si(t.activations, 'B')} + params {si(t.params, 'B')} + grads "
         f"{si(t.grads, 'B')} + optimizer {si(t.optimizer_state, 'B')} + buffers "
         f"{si(t.buffers, 'B')}"),
    ]


def total_cells(s: Summary) -> tuple[str, ...]:
    return ("total", "", _shape(s.output), f"{s.activations:,}", f"{s.params:,}",
            f"{s.macs:,}", "")


LEGEND = "(n): not in the total (in-place or a view; norm and pool MACs apart); MB = 10^6 bytes"


def format_table(s: Summary) -> str:
    rows = [_cells(r) for r in s.layers]
    total = total_cells(s)
    widths = [max(len(h), *(len(r[i]) for r in rows + [total])) for i, h in enumerate(HEADS)]
    right = {3, 4, 5, 6}

    def line(cells) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    rule = "  ".join("-" * w for w in widths)
    out = [f"{s.network}: {_shape(s.input)} -> {_shape(s.output)}", line(HEADS), rule]
    out += [line(r) for r in rows] + [rule, line(total), ""]
    out += [f"{key:<12} {text}" for key, text in footer(s)]
    out.append(LEGEND)
    return "\n".join(out)


def format_markdown(s: Summary) -> str:
    """The table in Markdown, the user's names escaped (see views.md_cell)."""
    rows = [*map(_cells, s.layers), ("**total**", *total_cells(s)[1:])]
    out = [f"**{md_cell(s.network)}**: {_shape(s.input)} -> {_shape(s.output)}", "",
           *md_table(HEADS, rows, 3), ""]
    return "\n".join(out + [f"- **{key}**: {md_cell(text)}" for key, text in footer(s)])


CSV_FIELDS = ("name", "op", "label", "output", "activations", "created", "params",
              "weights", "bias", "buffers", "macs", "macs_norm", "macs_pool",
              "receptive_field", "path")


def csv_rows(s: Summary) -> list[list]:
    """The CSV format's rows (and ``Summary.to_pandas()``'s), as values in CSV_FIELDS order."""
    return [[r.name, r.op, r.label, _shape(r.output), r.activations, r.created, r.params,
             r.weights, r.bias, r.buffers, r.macs, r.macs_by_kind.get("norm", 0),
             r.macs_by_kind.get("pool", 0), str(r.receptive_field) if r.receptive_field else "",
             r.path] for r in s.layers]


def format_csv(s: Summary) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows([CSV_FIELDS, *csv_rows(s)])
    return buf.getvalue().rstrip("\n")


def format_json(s: Summary) -> str:
    return json.dumps(s.to_dict(), indent=2)


FORMATS = {"table": format_table, "json": format_json, "markdown": format_markdown,
           "csv": format_csv}
