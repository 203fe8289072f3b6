"""Block calls expanded once: a call that repeats an earlier one (same block, same numeric
arguments, same input shape) is replayed from the nodes the first expansion made.

NOTE: when a replay is exact. A block's expansion depends only on its arguments, its
input's type, the network's parameters (fixed for a compile) and whether it ends the
network (``tail``), unless it reads something from outside: a tensor named before the
call, an auxiliary head it adds to the network, or an error it reports. The first
expansion is recorded; any of those makes it unrecordable (it is simply never replayed).
A replay makes the same nodes under the new call's frame, with the new path and names,
inputs mapped from the recorded input to the new one, and the same warnings, bindings
used, expansion steps and parameters as the first expansion, so every limit and report
sees what a fresh expansion would have made. ResNet-152's 50 bottleneck calls are
expanded 8 times.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..diagnostics import Diagnostic
from ..ir.graph import Node
from .env import Port


@dataclass
class Recording:
    """What happens between the start and the end of one block call's expansion."""

    start: int  # index of the first node it makes
    depth: int  # scope depth of the caller (the call's frame is at this index)
    steps: int
    params: int
    errors: int
    diags: int
    aux: int
    used: frozenset[str]
    pure: bool = True  # false once it reads a tensor made before it


@dataclass
class Expansion:
    """A recorded expansion, relative to its call's frame."""

    nodes: list[Node]
    depth: int
    prefix: str  # the recorded call's named path ("stage2.bottleneck3")
    input: str | None
    output: str
    steps: int
    params: int
    diags: list[Diagnostic]
    used: frozenset[str]
    names: dict[str, int] = field(default_factory=dict)  # node name -> index


class Memo:
    """The expansions of one compile, by key (block, numeric arguments, input, tail)."""

    def __init__(self) -> None:
        self.done: dict[tuple, Expansion] = {}
        self.open: list[Recording] = []

    def read(self, port: Port, index_of: dict[str, int]) -> None:
        """A named tensor was read: recordings that started after it was made are not
        replayable (they depend on where they are called from)."""
        at = index_of.get(port.node or "", -1)
        for rec in self.open:
            if rec.start > at:
                rec.pure = False

    def finish(self, rec: Recording, el: Any, key: tuple, x: Port, out: Port,
               prefix: str) -> None:
        if not (rec.pure and out.ok and el.errors == rec.errors and len(el.aux) == rec.aux):
            return
        nodes = el.builder.nodes[rec.start:]
        if not nodes or out.node not in {n.name for n in nodes}:
            return  # a block that passes its input through: nothing to replay
        self.done[key] = Expansion(
            nodes, rec.depth, prefix, x.node, out.node, el.steps - rec.steps,
            el.params_total - rec.params, list(el.diags[rec.diags:]), frozenset(
                el.used - rec.used), {n.name: i for i, n in enumerate(nodes)})


def replay(exp: Expansion, el: Any, x: Port, prefix: str) -> Port:
    """The recorded nodes again, under the current frame (``prefix`` its named path)."""
    b = el.builder
    scope = tuple(b.scope)  # ends with the new call's frame
    renamed: dict[str, str] = {}
    if exp.input is not None:
        renamed[exp.input] = x.node
    cut = len(exp.prefix)
    for n in exp.nodes:
        path = prefix + n.path[cut:]
        name = b.unique(path.replace(".", "_"))
        renamed[n.name] = name
        b.index[name] = len(b.nodes)
        b.nodes.append(Node(name, path, n.op, n.attrs, tuple([renamed.get(i, i) for i in
                                                              n.inputs]),
                            n.type, n.span, scope + n.scope[exp.depth + 1:]))
    el.steps += exp.steps
    el.params_total += exp.params
    el.diags.extend(exp.diags)
    el.used |= exp.used
    out = next(n for n in reversed(exp.nodes) if n.name == exp.output)
    return Port(renamed[exp.output], out.type)
