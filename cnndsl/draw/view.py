"""What a diagram shows: boxes, arrows and frames around blocks, computed from the IR.

NOTE: levels of detail and folding.
Every block call leaves a :class:`Frame` on the nodes it makes, and
:func:`~cnndsl.ir.scopes.scope_tree` nests the nodes by them. The call of a user or
prelude block (``stage``, ``bottleneck``, ``se``) is a *level*: top-level calls are at
level 0, the calls inside them at level 1, and so on. Built-in combinators (``residual``)
are transparent: they are drawn as skip arcs, never as boxes. With ``depth=N`` a call at
level >= N becomes one box labelled with its call (:func:`~cnndsl.draw.calls.label`);
shallower calls become clusters (dashed frames) around their insides.

Consecutive calls of one block, each fed only by the previous one, *fold* into one
element marked "x N" (``unroll`` turns this off):

- a collapsed run is one box; its members have the same layers and attributes (shapes
  may grow, as in a DenseNet block), and the first member may differ when it ends in
  the same shape as the others (ResNet's strided or projecting first block, noted
  under the title);
- an expanded run is one cluster drawn once; its members are identical, shapes
  included. Arrows between copies are dropped; arrows out of the last copy leave the
  drawn one.

``depth=None`` picks the deepest level whose drawing has at most ``AUTO_NODES`` boxes.
Everything is derived from the IR's node order, so the same source gives the same view.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from .. import ops
from ..ir.graph import Frame, Graph, Node
from ..ir.scopes import Scope, scope_tree
from . import calls
from .notes import ANNOTATIONS, Notes

AUTO_NODES = 25
SHAPES = ("changes", "all", "none")


@dataclass(frozen=True)
class Box:
    """One drawn node. ``lines`` are secondary lines under the title."""

    id: str
    title: str
    family: str
    lines: tuple[str, ...] = ()
    tooltip: str = ""


@dataclass(frozen=True)
class Cluster:
    id: str
    label: str
    items: tuple[Item, ...]


Item = Box | Cluster


@dataclass(frozen=True)
class Edge:
    """An arrow carrying a tensor of ``shape``; ``label`` is the shape where it is shown."""

    src: str
    dst: str
    shape: str
    label: str = ""


@dataclass(frozen=True)
class View:
    name: str
    depth: int
    auto: bool  # the depth was chosen automatically
    items: tuple[Item, ...]
    edges: tuple[Edge, ...]

    def boxes(self) -> Iterator[Box]:
        yield from _walk(self.items)

    @property
    def families(self) -> list[str]:
        """Families drawn, in order of first appearance."""
        return list(dict.fromkeys(b.family for b in self.boxes()))


def _walk(items: tuple[Item, ...]) -> Iterator[Box]:
    for it in items:
        if isinstance(it, Box):
            yield it
        else:
            yield from _walk(it.items)


# ---------------------------------------------------------------- runs
@dataclass(eq=False)
class _Run:
    members: list[Scope]
    first_differs: bool


def _shown(run: _Run) -> Scope:
    """The member whose call names a run: the second where the first differs."""
    return run.members[1] if run.first_differs else run.members[0]


def _names(nodes: list[Node]) -> list[str]:
    return [n.name for n in nodes]


# ---------------------------------------------------------------- building a view
class _Builder:
    def __init__(self, graph: Graph, depth: int, unroll: bool, notes: Notes):
        self.graph = graph
        self.depth = depth
        self.unroll = unroll
        self.notes = notes
        self.consumers = graph.consumers()
        self.owner: dict[str, str] = {}  # IR node -> id of the box drawing it
        self.alias: dict[str, str] = {}  # node of a hidden copy -> same node of the drawn one
        self.member: dict[str, list[tuple[int, int]]] = {}  # node -> (run, copy index)
        self.runs = 0
        self._sigs: dict[tuple[int, bool], tuple] = {}
        self._calls: dict[int, str] = {}  # id of a frame (the graph keeps it) -> its label

    def call(self, f: Frame | None) -> str:
        """A frame's call as the diagram shows it (made once per frame)."""
        if f is None:
            return ""
        done = self._calls.get(id(f))
        if done is None:
            done = self._calls[id(f)] = calls.label(f)
        return done

    # ------------------------------------------------------------ items
    def emit(self, items: list[Node | Scope]) -> list[Item]:
        out: list[Item] = []
        for it in self._fold(items):
            if isinstance(it, Node):
                out.append(self._node_box(it))
            elif isinstance(it, _Run):
                collapsed = it.members[0].level >= self.depth
                out.append(self._run_box(it) if collapsed else self._run_cluster(it))
            elif it.transparent:
                out.extend(self.emit(it.items))
            elif it.level >= self.depth:
                out.append(self._group_box(it))
            else:
                out.append(Cluster("cluster_" + "/".join(it.key), self.call(it.frame),
                                   tuple(self.emit(it.items))))
        return out

    def _node_box(self, n: Node) -> Box:
        self.owner[n.name] = n.name
        title = ops.get(n.op).describe(n.attr_map, n.type)
        return Box(n.name, title, ops.get(n.op).family, self.notes.lines([n.name]),
                   f"{n.path} ({n.op})")

    def _group_box(self, g: Scope) -> Box:
        bid = "/".join(g.key)
        names = _names(g.nodes)
        for n in names:
            self.owner[n] = bid
        inner = self._fold(g.items)  # a block that is one run shows it: "basic(64) x 3"
        lines = ((f"{self.call(_shown(inner[0]).frame)} x {len(inner[0].members)}",)
                 if len(inner) == 1 and isinstance(inner[0], _Run) else ())
        return Box(bid, self.call(g.frame), "block", lines + self.notes.lines(names),
                   f"{'.'.join(g.key)}: {len(g.nodes)} layers")

    def _run_box(self, run: _Run) -> Box:
        first, rest = run.members[0], run.members[1:]
        n = len(run.members)
        bid = "/".join(first.key) + f"*{n}"
        nodes = [x.name for m in run.members for x in m.nodes]
        for x in nodes:
            self.owner[x] = bid
        shown = self.call(_shown(run).frame)
        lines = [self._first_note(first, rest[0])] if run.first_differs else []
        return Box(bid, f"{shown} x {n}", "block", tuple(lines) + self.notes.lines(nodes),
                   f"{'.'.join(first.key)} .. {'.'.join(run.members[-1].key)}: "
                   f"{len(nodes)} layers")

    def _run_cluster(self, run: _Run) -> Cluster:
        rep = run.members[0]
        self.runs += 1
        for i, m in enumerate(run.members):
            for x in m.nodes:
                self.member.setdefault(x.name, []).append((self.runs, i))
            if i:
                self.alias.update(zip(_names(m.nodes), _names(rep.nodes)))
        cid = "cluster_" + "/".join(rep.key) + f"*{len(run.members)}"
        return Cluster(cid, f"{self.call(rep.frame)} x {len(run.members)}",
                       tuple(self.emit(rep.items)))

    def _first_note(self, first: Scope, other: Scope) -> str:
        if self.call(first.frame) != self.call(other.frame):
            return f"first: {self.call(first.frame)}"
        seen = Counter((x.op, x.attrs) for x in other.nodes)
        extra = []
        for n in first.nodes:
            k = (n.op, n.attrs)
            if seen[k]:
                seen[k] -= 1
            elif ops.get(n.op).family not in ("norm", "act"):
                extra.append(ops.get(n.op).describe(n.attr_map, n.type))
        return "first: + " + ", ".join(extra) if extra else "first differs"

    # ------------------------------------------------------------ folding
    def _fold(self, items: list[Node | Scope]) -> list[Node | Scope | _Run]:
        out: list[Node | Scope | _Run] = []
        i = 0
        while i < len(items):
            it = items[i]
            if self.unroll or not self._foldable(it):
                out.append(it)
                i += 1
                continue
            collapsed = it.level >= self.depth
            j = self._extend(items, i, collapsed)
            if j - i >= 2:
                out.append(_Run(items[i:j], False))
                i = j
                continue
            nxt = items[i + 1] if i + 1 < len(items) else None
            if collapsed and nxt is not None and self._first_may_differ(it, nxt):
                j = self._extend(items, i + 1, collapsed)
                out.append(_Run(items[i:j], True))
                i = j
                continue
            out.append(it)
            i += 1
        return out

    def _first_may_differ(self, first: Scope, nxt) -> bool:
        """ResNet's first block: the same block, its arguments the next one's plus more
        (``bottleneck(128, stride=2)`` or ``bottleneck(128, 2)`` before
        ``bottleneck(128)``), and the same output shape."""
        return (self._foldable(nxt) and nxt.frame.block == first.frame.block
                and calls.extends(first.frame, nxt.frame)
                and self._out_type(first) == self._out_type(nxt) and self._chained(first, nxt))

    @staticmethod
    def _foldable(it) -> bool:
        return isinstance(it, Scope) and not it.transparent

    def _extend(self, items: list, start: int, collapsed: bool) -> int:
        """End of the run of calls equal to ``items[start]``, each fed by the previous."""
        want = self._signature(items[start], with_types=not collapsed)
        j = start + 1
        while (j < len(items) and self._foldable(items[j])
               and self._signature(items[j], with_types=not collapsed) == want
               and self._chained(items[j - 1], items[j])):
            j += 1
        return j

    def _signature(self, g: Scope, with_types: bool) -> tuple:
        """The call, its layers, attributes and wiring (and shapes), position-relative."""
        cache_key = (id(g), with_types)
        if cache_key in self._sigs:
            return self._sigs[cache_key]
        index = {x.name: i for i, x in enumerate(g.nodes)}
        ext: dict[str, int] = {}
        sig: list = [g.frame.block, self.call(g.frame)]
        for n in g.nodes:
            ins = tuple(index[i] if i in index else -1 - ext.setdefault(i, len(ext))
                        for i in n.inputs)
            inner = tuple((f.block, self.call(f)) for f in n.scope[len(g.key):])
            sig.append((n.op, n.attrs, ins, inner, n.type.dims if with_types else None))
        self._sigs[cache_key] = result = tuple(sig)
        return result

    def _chained(self, a: Scope, b: Scope) -> bool:
        """``b`` reads ``a``'s one output and nothing else from outside; only ``b`` reads it."""
        names_a = _names(a.nodes)
        inside_a, inside_b = set(names_a), set(_names(b.nodes))
        outs = [x for x in names_a if any(c not in inside_a for c in self.consumers[x])]
        if len(outs) != 1 or outs[0] == self.graph.output:
            return False
        if any(c not in inside_b for c in self.consumers[outs[0]]):
            return False
        ext = {i for x in b.nodes for i in x.inputs if i not in inside_b}
        return ext == {outs[0]}

    @staticmethod
    def _out_type(g: Scope):
        return g.nodes[-1].type

    # ------------------------------------------------------------ edges
    def edges(self) -> list[Edge]:
        out: dict[tuple[str, str], Edge] = {}
        for n in self.graph.nodes:
            for i in n.inputs:
                ends = self._resolve(i, n.name)
                if ends is None:
                    continue
                src, dst = self.owner[ends[0]], self.owner[ends[1]]
                if src != dst and (src, dst) not in out:
                    out[(src, dst)] = Edge(src, dst, str(self.graph[i].type))
        return list(out.values())

    def label(self, edges: list[Edge], shapes: str) -> list[Edge]:
        """Show shapes on all edges, none, or where they change (``changes``): an edge is
        labelled unless its box received the same shape (the input box "receives" its own).
        """
        if shapes not in SHAPES:
            raise ValueError(f"shapes must be one of {SHAPES}, got {shapes!r}")
        received: dict[str, set[str]] = {self.graph.input.name: {str(self.graph.input_type)}}
        for e in edges:
            received.setdefault(e.dst, set()).add(e.shape)
        out = []
        for e in edges:
            show = shapes == "all" or (shapes == "changes"
                                       and e.shape not in received.get(e.src, ()))
            out.append(Edge(e.src, e.dst, e.shape, e.shape if show else ""))
        return out

    def _resolve(self, u: str, v: str) -> tuple[str, str] | None:
        """Follow hidden copies to the drawn one; None for an arrow between copies."""
        while True:
            runs_u = dict(self.member.get(u, ()))
            if any(runs_u.get(r, i) != i for r, i in self.member.get(v, ())):
                return None
            if u not in self.alias and v not in self.alias:
                return u, v
            u, v = self.alias.get(u, u), self.alias.get(v, v)


# ---------------------------------------------------------------- the entry point
def build_view(graph: Graph, depth: int | None = None, unroll: bool = False,
               annotate: tuple[str, ...] = (), shapes: str = "changes") -> View:
    """The view of ``graph`` at ``depth`` (None: automatic), with annotations.

    ``shapes``: label edges with tensor shapes where they change, on ``all`` edges, or
    ``none``; the arrow to the output always carries the output shape.

    >>> from cnndsl import compile
    >>> g = compile("block b(c) = conv(c, 3) - relu\\ninput 3x8x8\\nb(4) - b(4)").graph
    >>> [b.title for b in build_view(g, depth=0).boxes()]
    ['input 3x8x8', 'b(4) x 2', 'output']
    >>> [b.title for b in build_view(g, depth=1).boxes()][1:3]
    ['3x3 conv, 4', 'relu']
    """
    notes = Notes(graph, annotate)
    root = scope_tree(graph)
    auto = depth is None
    if depth is None:
        depth = _auto_depth(graph, root, unroll)

    b = _Builder(graph, depth, unroll, notes)
    items = b.emit(root.items)
    items.append(Box("output", "output", "io", (), f"{graph.name} output"))
    edges = b.label(b.edges(), shapes)
    last = b.owner[_follow(b, graph.output)]
    edges.append(Edge(last, "output", str(graph.output_type), str(graph.output_type)))
    return View(graph.name, depth, auto, tuple(items), tuple(edges))


def _follow(b: _Builder, name: str) -> str:
    while name in b.alias:
        name = b.alias[name]
    return name


def _auto_depth(graph: Graph, root: Scope, unroll: bool) -> int:
    for d in range(root.max_level() + 1, 0, -1):  # no blocks: max level -1, depth 0
        b = _Builder(graph, d, unroll, Notes(graph, ()))
        if sum(1 for _ in _walk(tuple(b.emit(root.items)))) + 1 <= AUTO_NODES:
            return d
    return 0


__all__ = ["ANNOTATIONS", "AUTO_NODES", "SHAPES", "Box", "Cluster", "Edge", "Notes", "View",
           "build_view"]
