"""A graph's nodes nested by the block calls that made them: one tree for every view.

NOTE: levels and transparent frames.
Every node carries its scope, the :class:`~cnndsl.ir.graph.Frame` of each block call it
sits in, outermost first. :func:`scope_tree` nests the nodes by those frames, in the
graph's order: a :class:`Scope` per call, holding its nodes and the calls inside it.
A frame is a *level* (a row of ``summary --depth``, a box or cluster of a diagram, a
submodule of the emitted code) unless it is an unnamed built-in grouping such as
``residual``: that one is *transparent*, at its parent's level. The top-level calls are
at level 0, the calls inside them at level 1, and so on; the root (the network) is at
level -1. Scopes are told apart by their frames' names from the outermost (``key``),
which the elaborator makes unique.

>>> from cnndsl import compile
>>> g = compile("block b(c) = residual(conv(c, 3) - relu)\\ninput 4x8x8\\nb(4) - b(4)").graph
>>> root = scope_tree(g)
>>> [(s.key, s.level, len(s.nodes)) for s in root.walk()][1:]
[(('b1',), 0, 3), (('b1', 'residual1'), 0, 3), (('b2',), 0, 3), (('b2', 'residual1'), 0, 3)]
>>> [x.name if isinstance(x, Node) else x.frame.call for x in cut(root, 0)]
['input', 'b(4)', 'b(4)']
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from .graph import Frame, Graph, Node


def is_level(frame: Frame) -> bool:
    """Whether a frame is a level (a block's call, an ``aux`` head), not a grouping that
    only holds nodes together (``residual``)."""
    return frame.named or frame.kind != "builtin"


@dataclass(eq=False)
class Scope:
    """One block call: its frame (None at the root), the frames from the outermost
    (``frames``, their names ``key``), its level, its items in order (nodes and the
    scopes of the calls inside it) and every node inside it, nested ones included."""

    frame: Frame | None
    frames: tuple[Frame, ...]
    level: int
    items: list[Node | Scope] = field(default_factory=list)
    nodes: list[Node] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.frames)

    @property
    def transparent(self) -> bool:
        return self.frame is not None and not is_level(self.frame)

    def walk(self) -> Iterator[Scope]:
        """This scope and every scope inside it, in order."""
        yield self
        for it in self.items:
            if isinstance(it, Scope):
                yield from it.walk()

    def max_level(self) -> int:
        """The deepest level inside (-1 for a network without block calls)."""
        return max(s.level for s in self.walk())

    def parts(self) -> list[Node | Scope]:
        """The items with transparent scopes opened: nodes and the level scopes
        directly inside (how the emitted code nests submodules)."""
        out: list[Node | Scope] = []
        for it in self.items:
            out.extend(it.parts() if isinstance(it, Scope) and it.transparent else [it])
        return out


def scope_tree(graph: Graph) -> Scope:
    """The root :class:`Scope` of ``graph``: its items are the top-level nodes (the
    input first) and calls. A call whose nodes are not contiguous (never made by the
    elaborator) is one scope, placed where its first node is."""
    root = Scope(None, (), -1)
    scopes: dict[tuple[str, ...], Scope] = {(): root}
    for n in graph.nodes:
        parent = root
        for k, f in enumerate(n.scope):
            frames = n.scope[: k + 1]
            key = tuple(x.name for x in frames)
            s = scopes.get(key)
            if s is None:
                level = parent.level + (1 if is_level(f) else 0)
                s = scopes[key] = Scope(f, frames, level)
                parent.items.append(s)
            s.nodes.append(n)
            parent = s
        parent.items.append(n)
    root.nodes = list(graph.nodes)
    return root


def cut(scope: Scope, depth: int) -> list[Node | Scope]:
    """What is seen at ``depth`` (0: the top-level calls): each scope at that level
    whole, the nodes and shallower calls' insides around them, in order (one row per
    item in ``summary --depth``)."""
    out: list[Node | Scope] = []
    for it in scope.parts():
        if isinstance(it, Scope) and it.level < depth:
            out.extend(cut(it, depth))
        else:
            out.append(it)
    return out


__all__ = ["Scope", "cut", "is_level", "scope_tree"]
