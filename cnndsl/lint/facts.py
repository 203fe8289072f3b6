"""What the lint rules read from a network: its main path, classifier and residual branches.

A :class:`Facts` is made once per network and handed to every rule; each fact is
computed on first use. Everything here is a pure function of the IR and the cost and
receptive-field reports.

>>> from cnndsl import compile
>>> f = Facts.of(compile("input 3x32x32\\nconv(16) - relu - se(16) - gap - fc(10)"))
>>> f.main_path
['input', 'conv1', 'relu1', 'se1_mul1', 'gap1', 'fc1']
>>> f.classifier, f.after_classifier
('fc1', [])

NOTE: the main path is the chain of dominators of the output: the nodes every path from
the input to the output goes through (a residual block's input and its sum, a
concatenation, never one of its branches, never the gate of a squeeze-and-excitation).
Everything the classifier learns passes through each of them, so they are where a
narrow layer is a true bottleneck. Immediate dominators are found in one pass over the
topological order (Cooper, Harvey, Kennedy: intersect the inputs' dominator chains).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Protocol

from .. import ops
from ..ir.graph import Graph, Node
from ..passes.cost import Cost


class Compiled(Protocol):
    """What lint needs of a compiled network (:class:`cnndsl.Network` has it)."""

    graph: Graph

    @property
    def cost(self) -> Cost: ...

    @property
    def receptive_fields(self) -> dict: ...

    @property
    def num_classes(self) -> int | None: ...


@dataclass
class Facts:
    graph: Graph
    cost: Cost
    fields: dict
    classes: int | None

    @classmethod
    def of(cls, net: Compiled) -> Facts:
        return cls(net.graph, net.cost, net.receptive_fields, net.num_classes)

    def op(self, name: str) -> ops.OpDef:
        return ops.get(self.graph[name].op)

    def params(self, name: str) -> int:
        return self.cost.nodes[name].params.total

    @cached_property
    def uses(self) -> dict[str, list[str]]:
        return self.graph.consumers()

    @cached_property
    def order(self) -> dict[str, int]:
        return {n.name: i for i, n in enumerate(self.graph.nodes)}

    @cached_property
    def idom(self) -> dict[str, str | None]:
        """Each node's immediate dominator (None for the input)."""
        order, idom = self.order, {}
        for n in self.graph.nodes:
            d = n.inputs[0] if n.inputs else None
            for other in n.inputs[1:]:
                a, b = d, other
                while a != b:
                    while order[a] > order[b]:
                        a = idom[a]
                    while order[b] > order[a]:
                        b = idom[b]
                d = a
            idom[n.name] = d
        return idom

    @cached_property
    def main_path(self) -> list[str]:
        """The output's dominators, from the input to the output."""
        chain, x = [], self.graph.output
        while x is not None:
            chain.append(x)
            x = self.idom[x]
        return chain[::-1]

    @cached_property
    def _head(self) -> tuple[str | None, list[str]]:
        """The classifier (the last conv or fc before the output, through parameter-free
        single-input layers) and those layers, in order; (None, []) where there is no
        such layer or it does not make the class scores."""
        g, x, after = self.graph, self.graph.output, []
        while True:
            n = g[x]
            if self.op(x).family in ("conv", "fc"):
                break
            if len(n.inputs) != 1 or self.params(x):
                return None, []
            after.append(x)
            x = n.inputs[0]
        if not self.classes or g[x].type.dims[0] != self.classes:
            return None, []
        return x, after[::-1]

    @property
    def classifier(self) -> str | None:
        return self._head[0]

    @property
    def after_classifier(self) -> list[str]:
        return self._head[1]

    def branch(self, start: str, fork: str) -> set[str]:
        """The nodes between ``fork`` (exclusive) and ``start`` (inclusive): one input of
        a merge that ``fork`` dominates; empty for the identity."""
        seen: set[str] = set()
        todo = [start] if start != fork else []
        while todo:
            x = todo.pop()
            if x in seen:
                continue
            seen.add(x)
            todo += [i for i in self.graph[x].inputs if i != fork]
        return seen


def width(node: Node) -> int:
    """Channels of a map, features of a vector."""
    return node.type.dims[0]


def area(node: Node) -> int:
    """Positions of a map (H x W); 1 for a vector."""
    return node.type.dims[1] * node.type.dims[2] if node.type.is_map else 1
