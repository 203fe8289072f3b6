"""Graphs equal names aside: the same operators, attributes, types and edges, whatever
the nodes are called and in whichever topological order they are listed.

An imported program is right when it compiles to the graph it was read from; the names
(``layer1_0_conv1`` against ``layer1_bottleneck1_conv1``) and the order of independent
branches (a shortcut listed before or after the body) are not the network.

>>> from cnndsl import compile
>>> a = compile("input 3x8x8\\nconv(4) - relu - add(conv(4) | id)").graph
>>> b = compile("input 3x8x8\\nconv(4) as x - relu - add(id | conv(4))").graph
>>> first_difference(a, b) is None
True
>>> first_difference(a, compile("input 3x8x8\\nconv(4) - relu - add(conv(5, 1) - conv(4, 1) | id)").graph)
'node 3: conv(out=4, kernel=3x3, ...) against conv(out=5, kernel=1x1, ...)'

NOTE: how the order is made canonical. Each node gets a structural digest (its
operator, attributes, type and its inputs' digests, in order, except for the
commutative merges ``add``, ``mul`` and ``mean``, whose inputs are sorted by digest:
``x + y`` is ``y + x``). The nodes are then numbered by a depth-first walk from the
outputs that visits inputs in that order, so two graphs are equal exactly when their
numbered lists are.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from .graph import Graph, Node

COMMUTATIVE = frozenset({"add", "mul", "mean"})

# One node of the canonical form: op, attributes, type, and its inputs' positions.
CanonNode = tuple[str, tuple, tuple[int, ...], tuple[int, ...]]


def _digests(graph: Graph) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for n in graph.nodes:  # topological: inputs first
        ins = [out[i] for i in n.inputs]
        if n.op in COMMUTATIVE:
            ins.sort()
        h = hashlib.blake2b(repr((n.op, n.attrs, n.type.dims)).encode(), digest_size=16)
        for d in ins:
            h.update(d)
        out[n.name] = h.digest()
    return out


def _ordered_inputs(n: Node, digests: dict[str, bytes]) -> list[str]:
    return sorted(n.inputs, key=digests.__getitem__) if n.op in COMMUTATIVE else list(n.inputs)


def canonical(graph: Graph) -> tuple[list[CanonNode], list[Node]]:
    """The canonical list (op, attrs, input positions, dims) and the nodes it numbers,
    in the same order: the outputs' ancestors by a depth-first walk (output first,
    then the auxiliary heads), then any node that reaches no output, in listed order."""
    digests = _digests(graph)
    position: dict[str, int] = {}
    order: list[Node] = []

    def visit(root: str) -> None:
        stack: list[tuple[str, bool]] = [(root, False)]
        while stack:  # iterative: a 500-layer chain is not a recursion limit
            name, expanded = stack.pop()
            if name in position:
                continue
            node = graph[name]
            if expanded:
                position[name] = len(order)
                order.append(node)
                continue
            stack.append((name, True))
            for i in reversed(_ordered_inputs(node, digests)):
                if i not in position:
                    stack.append((i, False))

    for root in (graph.output, *graph.aux, *(n.name for n in graph.nodes)):
        visit(root)
    listed = [(n.op, n.attrs, tuple(position[i] for i in _ordered_inputs(n, digests)),
               n.type.dims) for n in order]
    return listed, order


def _short(op: str, attrs: Sequence[tuple[str, object]]) -> str:
    shown = ", ".join(f"{k}={_text(v)}" for k, v in list(attrs)[:2])
    more = ", ..." if len(attrs) > 2 else ""
    return f"{op}({shown}{more})"


def _text(v: object) -> str:
    if isinstance(v, tuple) and all(isinstance(x, int) for x in v):
        return "x".join(map(str, v))
    return str(v)


def first_difference(a: Graph, b: Graph) -> str | None:
    """None where ``a`` and ``b`` are the same network names aside, else the first
    difference in the canonical order, in words."""
    ca, na = canonical(a)
    cb, nb = canonical(b)
    for i, (x, y) in enumerate(zip(ca, cb)):
        if x == y:
            continue
        if x[0] != y[0] or x[1] != y[1]:
            return f"node {i}: {_short(x[0], x[1])} against {_short(y[0], y[1])}"
        if x[2] != y[2]:
            return (f"node {i} ({na[i].name} against {nb[i].name}): inputs "
                    f"{list(x[2])} against {list(y[2])}")
        return (f"node {i} ({na[i].name} against {nb[i].name}): type "
                f"{'x'.join(map(str, x[3]))} against {'x'.join(map(str, y[3]))}")
    if len(ca) != len(cb):
        return f"{len(ca)} nodes against {len(cb)}"
    return None
