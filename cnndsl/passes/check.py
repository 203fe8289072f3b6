"""The static checks that need the whole graph: windows that leave input unseen.

>>> from cnndsl import compile
>>> [d.code for d in check(compile("input 3x7x7\\nconv(10, 3, stride=3, pad=0)").graph)]
['W0301']
"""

from __future__ import annotations

from fractions import Fraction

from .. import ops
from ..diagnostics import Diagnostic
from ..ir.graph import Graph, Node
from ..ops import window as win
from .receptive_field import RF, alignment_warnings


def _fit_warning(node: Node, graph: Graph) -> Diagnostic | None:
    op = ops.get(node.op)
    w = op.window(node.attr_map)
    if w is None or not node.inputs:
        return None
    t = graph[node.inputs[0]].type
    if not t.is_map:
        return None
    lost = []
    for axis, what in ((0, "row"), (1, "column")):
        n = t.dims[1 + axis]
        k, s, d = w.kernel[axis], w.stride[axis], w.dilation[axis]
        p0, p1 = w.pad[2 * axis], w.pad[2 * axis + 1]
        if win.span(k, d) < s:
            continue  # the windows skip pixels by design (a strided 1x1 subsamples)
        f = win.fit(n, k, s, p0, p1, d, w.ceil_mode)
        if f.unseen:
            lost.append((axis, what, n, k, s, p0, p1, d, f))
    if not lost:
        return None
    axis, what, n, k, s, p0, p1, d, f = lost[0]
    which = " and ".join(f"{x[8].unseen} {x[1]}(s)" for x in lost)
    kernel = f"{w.kernel[0]}x{w.kernel[1]}"
    pad_text = f"2*{p0}" if p0 == p1 else f"{p0}+{p1}"
    ext = f"{k}" if d == 1 else f"{win.span(k, d)}"
    exact = Fraction(n - win.span(k, d) + p0 + p1, s) + 1
    arithmetic = (f"({n} - {ext} + {pad_text})/{s} + 1 = {_exact(exact)}; the last {which} "
                  "of the input are never seen")
    fixes = win.suggestions(n, k, s, p0, d) if p0 == p1 else []
    what_op = "window" if op.family != "pool" else "pooling window"
    return Diagnostic(
        "W0301",
        f"{kernel} {what_op} at stride {s} does not fit a {t.dims[1]}x{t.dims[2]} input",
        node.span, label=arithmetic, help="; or ".join(fixes) if fixes else None)


def _exact(q: Fraction) -> str:
    """A quotient as written by hand: 112, 111.5, or 2.333... (7/3) where it repeats."""
    if q.denominator == 1:
        return str(q.numerator)
    d = q.denominator
    for p in (2, 5):
        while d % p == 0:
            d //= p
    if d == 1:  # a terminating decimal: all of its digits
        return f"{float(q):.12g}" if len(str(float(q))) < 16 else str(q)
    return f"{float(q):.3f}... ({q.numerator}/{q.denominator})"


NODE_CHECKS = (_fit_warning,)


def check(graph: Graph, fields: dict[str, RF | None] | None = None) -> list[Diagnostic]:
    """Warnings about a well-typed graph (a pure function of the IR); ``fields``: its
    receptive fields, where the caller has them already."""
    out = []
    for node in graph.nodes:
        for rule in NODE_CHECKS:
            d = rule(node, graph)
            if d is not None:
                out.append(d)
    out += alignment_warnings(graph, fields)
    out += _stray_drop_paths(graph)
    return out


def _stray_drop_paths(graph: Graph) -> list[Diagnostic]:
    """W0702 at a drop path whose output is not added to a shortcut: dropping it drops
    the sample's whole signal, not one residual branch."""
    out = []
    uses = None
    for node in graph.nodes:
        if node.op != "droppath":
            continue
        uses = uses or graph.consumers()
        name = node.name
        while len(uses[name]) == 1 and len(graph[uses[name][0]].inputs) == 1:
            name = uses[name][0]  # through single-input layers (a scale, an activation)
        if any(graph[u].op in ("add", "mean") for u in uses[name]):
            continue
        out.append(Diagnostic(
            "W0702", "drop path outside a residual branch: in training it drops the whole "
            "signal of a sample", node.span, label="its output is not added to a shortcut",
            help="put it at the end of a residual body: residual(... - droppath(p)); "
            "for element-wise dropout write dropout(p)"))
    return out
