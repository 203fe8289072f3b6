"""Annotations under a box's title: parameters, MACs, receptive field.

For a box standing for several nodes (a collapsed block, a folded run) parameters and
MACs are summed; the receptive field is the one of its last node. MACs follow the
project's convention (convolutions and fully connected layers, see docs/cost.md).
"""

from __future__ import annotations

from ..ir.graph import Graph
from .style import human

ANNOTATIONS = ("params", "macs", "rf")


class Notes:
    """Annotation lines (parameters, MACs, receptive field) for a box's nodes."""

    def __init__(self, graph: Graph, annotate: tuple[str, ...]):
        self.annotate = annotate
        self.graph = graph
        self.cost = None
        if {"params", "macs"} & set(annotate):
            from ..passes.cost import cost
            self.cost = cost(graph)
        self.rf = _receptive_fields(graph) if "rf" in annotate else {}

    def lines(self, nodes: list[str]) -> tuple[str, ...]:
        if not self.annotate or self.graph[nodes[-1]].op == "input":
            return ()
        out = []
        if self.cost is not None and "params" in self.annotate:
            p = sum(self.cost.nodes[x].params.total for x in nodes)
            if p:
                out.append(f"{human(p)} params")
        if self.cost is not None and "macs" in self.annotate:
            m = sum(self.cost.nodes[x].macs for x in nodes
                    if self.cost.nodes[x].macs_kind in ("conv", "linear"))
            if m:
                out.append(f"{human(m)} MACs")
        if nodes[-1] in self.rf:
            out.append(f"RF {self.rf[nodes[-1]]}")
        return tuple(out)


def _receptive_fields(graph: Graph) -> dict[str, str]:
    """Node -> receptive field size as text; empty where the pass is unavailable."""
    try:
        from ..passes.receptive_field import receptive_field
    except ImportError:
        return {}
    out = {}
    for name, rf in receptive_field(graph).items():
        size = getattr(rf, "size", None)
        if isinstance(size, tuple):
            out[name] = str(size[0]) if len(set(size)) == 1 else "x".join(map(str, size))
        elif size is not None:
            out[name] = str(size)
    return out
