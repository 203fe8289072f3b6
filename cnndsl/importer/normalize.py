"""Rewrites of an imported graph into the form the language writes, computing the same.

One today: **concatenations reuse earlier ones.** torchvision's DenseNet concatenates
all earlier features afresh in every layer (``cat([x0, f1, f2])``, then
``cat([x0, f1, f2, f3])``); the language's dense block concatenates each layer's
features to the previous concatenation (``concat(id | layer)``, repeated). A concat
whose inputs but the last are exactly those of an earlier concat becomes a concat of
that one and the last input: the same values (concatenation is associative), the graph
the language writes, so the writer folds a dense block into one repeated call.

>>> from cnndsl.importer.common import GraphMaker
>>> g = GraphMaker("d", (4, 8, 8))
>>> f1 = g.add("conv", {"out": 2, "kernel": 1}, [g.input], "l1")
>>> c2 = g.add("concat", {}, [g.input, f1], "cat2")
>>> f2 = g.add("conv", {"out": 2, "kernel": 1}, [c2], "l2")
>>> c3 = g.add("concat", {}, [g.input, f1, f2], "cat3")
>>> [n.inputs for n in reuse_concats(g.graph()) if n.op == "concat"]
[('input', 'l1'), ('cat2', 'l2')]
"""

from __future__ import annotations

from dataclasses import replace

from ..ir.graph import Graph


def reuse_concats(graph: Graph) -> Graph:
    """The graph with each concat that extends an earlier one by one input rewritten."""
    made: dict[tuple[str, ...], str] = {}  # a concat's inputs -> the (first) concat
    nodes = []
    for n in graph.nodes:
        if n.op == "concat" and len(n.inputs) >= 2:
            # where its inputs are a concat of all but the last, reuse that concat
            earlier = made.get(n.inputs[:-1]) if len(n.inputs) > 2 else None
            made.setdefault(n.inputs, n.name)
            if earlier is not None:
                n = replace(n, inputs=(earlier, n.inputs[-1]))
        nodes.append(n)
    return Graph(graph.name, tuple(nodes), graph.output, graph.bindings, graph.num_classes,
                 graph.aux)
