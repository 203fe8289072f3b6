"""Parameters, MACs and activations per node, from the operators' own rules.

A pure analysis: it returns a report keyed by node name and never touches the graph.

>>> from cnndsl import compile
>>> c = cost(compile("input 3x32x32\\nconv(16, 3) - relu").graph)
>>> c.nodes["conv1"].params.total, c.nodes["conv1"].macs
(448, 442368)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import ops
from ..ir.graph import Graph
from ..ops.schema import Params


@dataclass(frozen=True)
class NodeCost:
    params: Params
    macs: int
    macs_kind: str  # conv, linear, norm, pool, elementwise, none
    activations: int  # output elements per image


@dataclass(frozen=True)
class Cost:
    nodes: dict[str, NodeCost]
    params: Params = field(default_factory=Params)
    macs_by_kind: dict[str, int] = field(default_factory=dict)

    @property
    def macs(self) -> int:
        """Convolution and fully connected MACs (the slides' "ops", fvcore's conv+linear)."""
        return self.macs_by_kind.get("conv", 0) + self.macs_by_kind.get("linear", 0)

    @property
    def macs_with_norm(self) -> int:
        return self.macs + self.macs_by_kind.get("norm", 0)


def cost(graph: Graph) -> Cost:
    per: dict[str, NodeCost] = {}
    total = Params()
    kinds: dict[str, int] = {}
    for node in graph.nodes:
        op = ops.get(node.op)
        ins = [graph[i].type for i in node.inputs]
        attrs = node.a
        p = op.params(attrs, ins, node.type) if node.inputs else Params()
        m = op.macs(attrs, ins, node.type) if node.inputs else 0
        per[node.name] = NodeCost(p, m, op.macs_kind, node.type.numel)
        total = total + p
        if m:
            kinds[op.macs_kind] = kinds.get(op.macs_kind, 0) + m
    return Cost(per, total, kinds)
