"""A rewrite pass: every ReLU becomes a GELU (same shape, no parameters either way).

    cnndsl summary net.cnn --pass examples/passes/relu_to_gelu.py:relu_to_gelu

A rewrite takes the IR graph and returns a new one; cnndsl checks the result (shapes
re-inferred through each operator's rule) before anything uses it. Nodes keep their
names, so the emitted module's attributes (``relu1``) and the weights do not move.
"""

from __future__ import annotations

import dataclasses

from cnndsl.ir.graph import Graph
from cnndsl.passes import rewrite


@rewrite
def relu_to_gelu(graph: Graph) -> Graph:
    """The graph with ``gelu`` wherever it had ``relu``."""
    nodes = [dataclasses.replace(n, op="gelu", attrs=()) if n.op == "relu" else n
             for n in graph.nodes]
    return dataclasses.replace(graph, nodes=tuple(nodes))
