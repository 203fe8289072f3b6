"""Prelude blocks kept: a module the graph records as a call of one of the prelude's
blocks (a compiled graph's frame, ``dense(6, 32)``) is written as that call, where the
call alone gives exactly the module's nodes.

The call's text is read as data: only a prelude block's name with plain numbers for
arguments is taken, and written anew from what was read.

>>> from cnndsl import compile
>>> from cnndsl.importer.modules import tree
>>> g = compile("input 16x8x8\\ndense(2, 4) - transition").graph
>>> root = tree(g, {})
>>> [prelude_call(g, m) for m in root.children]
['dense(2, 4)', 'transition']
"""

from __future__ import annotations

import functools
import re

from ..diagnostics import CnnError
from ..ir.canon import first_difference
from ..ir.graph import Frame, Graph, Node
from .modules import Module
from .names import prelude_blocks

_CALL = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?:\((.*)\))?\Z")
_ARG = re.compile(r"(?:([A-Za-z_][A-Za-z0-9_]*)=)?(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\Z")


def _frame(graph: Graph, m: Module) -> Frame | None:
    """The block call the graph records for module ``m`` (by its path)."""
    node = graph[next(iter(m.nodes))]
    path: list[str] = []
    for f in node.scope:
        if f.named:
            path.append(f.name)
            if ".".join(path) == m.path:
                return f if f.kind == "block" else None
    return None


def _safe(call: str) -> str | None:
    """``call`` written anew where it is a prelude block with number arguments."""
    m = _CALL.match(call.strip())
    if m is None or m.group(1).lower() not in prelude_blocks():
        return None
    if m.group(2) is None or not m.group(2).strip():
        return m.group(1).lower()
    args = []
    for part in m.group(2).split(","):
        a = _ARG.match(part.strip())
        if a is None:
            return None
        args.append(f"{a.group(1)}={a.group(2)}" if a.group(1) else a.group(2))
    return f"{m.group(1).lower()}({', '.join(args)})"


def prelude_call(graph: Graph, m: Module) -> str | None:
    """The prelude call that writes module ``m``, or None."""
    if m.aux is not None or not m.siso:
        return None
    frame = _frame(graph, m)
    text = _safe(frame.call) if frame is not None else None
    if text is None:
        return None
    entry = graph[m.entry].type
    made = _compiled(text, str(entry))
    if made is None:
        return None
    nodes = [Node("input", "input", "input", (("shape", str(entry)),), (), entry)]
    for n in graph.nodes:
        if n.name in m.nodes:
            nodes.append(Node(n.name, n.path, n.op, n.attrs,
                              tuple("input" if i == m.entry else i for i in n.inputs), n.type))
    return text if first_difference(Graph("m", tuple(nodes), m.exit), made) is None else None


@functools.lru_cache(maxsize=256)
def _compiled(text: str, entry: str) -> Graph | None:
    from ..api import loads

    try:
        net = loads(f"input {entry}\n{text}\n", name="<prelude call>")
    except CnnError:
        return None
    # a warning inside the prelude could not be allowed on a line of the program
    return None if any(d.severity == "warning" for d in net.diagnostics) else net.graph
