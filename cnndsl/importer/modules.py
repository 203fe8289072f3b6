"""The module tree of an imported graph, and which modules can be blocks.

Node paths (``layer1.0.conv1``) name the modules a node sits in (``layer1``,
``layer1.0``). A module whose nodes read one tensor from outside and give one tensor
to the outside is single-input single-output: it can be a block, called where its
input is. One that is not (several inputs, several outputs used later) is written
inline in its parent, its own single-input single-output parts still blocks.

Each auxiliary output's head (the nodes only it needs) is a module of its own, written
``aux(head)`` where the last tensor it reads is. Modules of one node, modules holding
the whole network (a wrapper) and unnamed modules holding the same nodes as their
parent are no modules at all. A module that first merges what it reads (a DenseNet
layer concatenating the features before it) leaves that merge to its parent and is a
block for the rest.

Modules are of one *kind* where their class names agree (or, without one, their
attribute names: ``layer1``, ``layer2`` are ``layer``): the candidates for one shared
block, written after the kinds they call.

>>> from cnndsl.importer.common import GraphMaker
>>> g = GraphMaker("m", (4, 8, 8))
>>> x = g.add("conv", {"out": 4, "kernel": 3}, [g.input], "stem")
>>> a = g.add("conv", {"out": 4, "kernel": 3}, [x], "block.conv1")
>>> b = g.add("relu", {}, [a], "block.relu")
>>> y = g.add("add", {}, [b, x], "block.add")
>>> root = tree(g.graph(), {"block": "Basic"})
>>> [(m.path, m.cls, m.siso, sorted(m.nodes)) for m in root.children]
[('block', 'Basic', True, ['block_add', 'block_conv1', 'block_relu'])]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ..ir.graph import Graph
from .common import ImportFailure
from .names import GENERIC_CLASSES, attribute_name, snake


@dataclass(eq=False)
class Module:
    path: str  # dotted module path; "" for the network
    nodes: set[str]
    cls: str | None = None  # its class name, where known
    aux: int | None = None  # the auxiliary output it computes (a head)
    children: list[Module] = field(default_factory=list)
    entry: str = ""  # the node it reads (single-input single-output modules)
    exit: str = ""  # the node it gives
    siso: bool = False
    # an aux head: every node it reads (its entry the last), and those read later
    inputs: tuple[str, ...] = ()
    exports: set[str] = field(default_factory=set)

    @property
    def key(self) -> str:
        return f"aux:{self.aux}" if self.aux is not None else f"m:{self.path}"


def heads(graph: Graph) -> list[set[str]]:
    """Each auxiliary output's head: the nodes only it needs, or that the rest reads
    through its output (a tensor the head names for later); a node two heads share
    goes to the first."""
    taken: set[str] = set()
    out = []
    for k, a in enumerate(graph.aux):
        others = [graph.output, *(b for j, b in enumerate(graph.aux) if j != k)]
        h = graph.ancestors([a]) - _ancestors_before(graph, others, a) - taken
        taken |= h
        out.append(h)
    return out


def _ancestors_before(graph: Graph, roots: list[str], cut: str) -> set[str]:
    """The ancestors of ``roots`` reached other than through ``cut``."""
    seen: set[str] = set()
    todo = [r for r in roots if r != cut]
    while todo:
        n = todo.pop()
        if n not in seen:
            seen.add(n)
            todo.extend(i for i in graph[n].inputs if i != cut)
    return seen


def tree(graph: Graph, classes: Mapping[str, str], modules: bool = True) -> Module:
    """The module tree: the network's root, each module's children by nesting (with
    ``modules`` false, the auxiliary heads alone)."""
    nodes = [n for n in graph.nodes if n.op != "input"]
    every = {n.name for n in nodes}
    members: dict[str, set[str]] = {}
    for n in nodes:
        parts = n.path.split(".")
        for k in range(1, len(parts)):
            members.setdefault(".".join(parts[:k]), set()).add(n.name)
    aux = heads(graph)
    mods = [Module(p, s, classes.get(p)) for p, s in members.items()
            if modules and len(s) > 1 and s != every and not any(_crosses(s, h) for h in aux)]
    mods += [Module(f"<aux {i}>", h, aux=i) for i, h in enumerate(aux) if h]
    # bigger first: each module's parent is the smallest earlier one holding it
    mods.sort(key=lambda m: (-len(m.nodes), m.aux is None, m.path.count("."), m.path))
    root = Module("", every)
    placed: list[Module] = []
    for m in mods:
        parent = next((p for p in reversed(placed) if m.nodes <= p.nodes), root)
        if m.nodes == parent.nodes and m.cls is None and m.aux is None:
            continue  # an unnamed module that only repeats its parent
        parent.children.append(m)
        placed.append(m)
    _order(root, {n.name: i for i, n in enumerate(graph.nodes)})
    _siso(root, graph)
    return root


def _crosses(s: set[str], head: set[str]) -> bool:
    """A module holding part of an auxiliary head and part of the rest."""
    return bool(s & head) and not (s <= head or head <= s)


def _order(m: Module, index: dict[str, int]) -> None:
    m.children.sort(key=lambda c: min(index[n] for n in c.nodes))
    for c in m.children:
        _order(c, index)


def _siso(root: Module, graph: Graph) -> None:
    uses = graph.consumers()
    aux = heads(graph)
    index = {n.name: i for i, n in enumerate(graph.nodes)}
    for m in _walk(root):
        if m is root:
            m.entry, m.exit, m.siso = graph.input.name, graph.output, True
            continue
        ins, outs = _ends(m, graph, uses, aux)
        if m.aux is not None:  # written where the last tensor of the rest it reads is
            m.inputs = tuple(sorted(ins, key=index.__getitem__))
            others = set().union(*(h for k, h in enumerate(aux) if k != m.aux))
            m.entry = next((i for i in reversed(m.inputs) if i not in others), m.inputs[-1])
            m.exit = graph.aux[m.aux]
            m.exports = {n for n in m.nodes if any(u not in m.nodes for u in uses[n])}
            continue
        if len(ins) > 1 and len(outs) == 1 and _merges_first(m, graph, uses, aux):
            ins, outs = _ends(m, graph, uses, aux)
        m.siso = len(ins) == 1 and len(outs) == 1
        if m.siso:
            (m.entry,), (m.exit,) = ins, outs


def _ends(m: Module, graph: Graph, uses, aux) -> tuple[set[str], set[str]]:
    """The tensors ``m`` reads from outside and those it gives to the outside."""
    ins = {i for n in m.nodes for i in graph[n].inputs if i not in m.nodes}
    outs = {n for n in m.nodes if any(u not in m.nodes for u in uses[n]) or n == graph.output}
    outs |= {a for a, h in zip(graph.aux, aux) if a in m.nodes and not h < m.nodes}
    return ins, outs


def _merges_first(m: Module, graph: Graph, uses, aux) -> bool:
    """A module that first merges what it reads (a dense layer concatenating the
    features before it): the merge is left to its parent, the rest is the module.
    Whether ``m`` changed so."""
    front = [n for n in m.nodes if all(i not in m.nodes for i in graph[n].inputs)]
    if len(front) != 1 or len(m.nodes) < 3 or any(front[0] in c.nodes for c in m.children):
        return False
    rest = m.nodes - {front[0]}
    ins = {i for n in rest for i in graph[n].inputs if i not in rest}
    if ins != {front[0]}:
        return False
    m.nodes = rest
    return True


def _walk(m: Module):
    yield m
    for c in m.children:
        yield from _walk(c)


def walk(m: Module):
    """The module and all its descendants, parents first."""
    return _walk(m)


def effective(m: Module) -> tuple[set[str], list[Module]]:
    """What ``m`` writes itself: its own nodes (those of children that are not
    single-input single-output included) and the children it calls (blocks and heads)."""
    own = set(m.nodes)
    kids: list[Module] = []
    for c in m.children:
        if c.siso or c.aux is not None:
            kids.append(c)
            own -= c.nodes
        else:
            inner_own, inner_kids = effective(c)
            kids += inner_kids
            own -= c.nodes
            own |= inner_own
    return own, kids


def heights(root: Module) -> dict[Module, int]:
    """Each module's height in the tree of blocks and heads: 1 for one calling none."""
    out: dict[Module, int] = {}

    def visit(m: Module) -> int:
        _, kids = effective(m)
        out[m] = 1 + max((visit(k) for k in kids), default=0)
        return out[m]
    visit(root)
    return out


# ---------------------------------------------------------------- kinds
def kind(m: Module) -> str:
    """``named`` for a module of a class, ``generic`` for a container's (Sequential),
    ``unknown`` where no class is given (ONNX)."""
    if m.cls is None:
        return "unknown"
    return "generic" if snake(m.cls) in GENERIC_CLASSES or not snake(m.cls) else "named"


def base(m: Module) -> str:
    """A module kind's block name: its class's, else its attribute's (``layer1``:
    ``layer``), else its parent's (``layer1.0``: ``layer_block``)."""
    if kind(m) == "named":
        return snake(m.cls or "")
    parts = m.path.split(".")
    for k, part in enumerate(reversed(parts)):
        name = attribute_name(part)
        if name:
            return name if k == 0 else f"{name}_block"
    return "block"


def kinds(mods: list[Module], height: dict[Module, int]) -> list[list[Module]]:
    """The modules by kind (an aux head is a kind of its own), each kind after the
    kinds its instances call: a block's body is written once all its instances'
    children are written."""
    def keyed(by_height: bool) -> dict[Module, tuple]:
        return {m: ("aux", m.aux) if m.aux is not None else
                ("block", base(m), height[m] if by_height else 0) for m in mods}
    for by_height in (False, True):  # by height where kinds call each other in a cycle
        key = keyed(by_height)
        kids = {m: [k for k in effective(m)[1] if k in key] for m in mods}
        level = dict.fromkeys(key.values(), 1)
        for _ in range(len(level) + 1):
            changed = False
            for m in mods:
                need = 1 + max((level[key[k]] for k in kids[m]), default=0)
                if need > level[key[m]]:
                    level[key[m]], changed = need, True
            if not changed:
                break
        else:
            continue
        found: dict[tuple, list[Module]] = {}
        for m in mods:
            found.setdefault(key[m], []).append(m)
        return sorted(found.values(), key=lambda ms: level[key[ms[0]]])
    raise ImportFailure("the module tree could not be ordered")  # heights never cycle
