"""A DAG as text: chains, merges whose branches part at one tensor, residuals, and
named tensors (``as``) where the graph is not that regular.

A *region* is what one body writes: units (an operator's node, a block call, an
inlined module, an auxiliary head) on one input tensor, in topological order, with one
exit. Each line of the body is a chain written backwards from its target: a
single-input unit continues the chain of its input; a merge's branches start at its
split point (its immediate dominator) and are written as ``add(body | id)``,
``concat(a | b)``. Where a tensor would be written twice (its branches are not
disjoint: DenseNet's concatenations, HRNet's fusions), it is named and given a line of
its own, ``... as t``, which later lines refer to; then the body is written again. Only
the tensors that need it get names, and the result always writes each unit once.

>>> from cnndsl.ir.graph import TensorType
>>> t = TensorType((8, 4, 4))
>>> relu = Layer("relu", (), frozenset())
>>> units = {"a": Unit("a", ("",), (relu,), t, "relu"),
...          "b": Unit("b", ("a",), (relu,), t, "relu"),
...          "c": Unit("c", ("a", "b"), (), t, "add", merge=True)}
>>> body, _, _ = write(Region(t, units, "c"))
>>> render(body, Context(tensors={0: "x"}))
['relu - residual(relu)']
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..ir.graph import TensorType
from .common import ImportFailure
from .expr import Call, Context, Layer, Merge, Ref, Residual, Stmt, render  # noqa: F401 (doctest)
from .layer_text import opdef

ENTRY = ""  # the region's input tensor


@dataclass
class Unit:
    """What the region computes at one tensor: ``items`` written on its input (for a
    merge, nothing: its branches are written), ``type`` its output."""

    key: str
    inputs: tuple[str, ...]
    items: tuple
    type: TensorType
    op: str = ""  # the operator of a node's unit
    merge: bool = False
    tag: str = ""
    hint: str = ""  # a name for its tensor, should it need one


@dataclass
class Region:
    """``external``: tensors it reads that other text names (by their numbers there);
    ``fixed``: its tensors that other text reads, and the numbers they must have."""

    entry: TensorType
    units: dict[str, Unit]  # topological order
    exit: str
    external: dict[str, int] = field(default_factory=dict)
    fixed: dict[str, int] = field(default_factory=dict)
    consumers: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for u in self.units.values():
            for i in u.inputs:
                self.consumers[i] = self.consumers.get(i, 0) + 1

    def type_of(self, key: str) -> TensorType | None:
        return self.entry if key == ENTRY else \
            self.units[key].type if key in self.units else None


@dataclass(frozen=True)
class Options:
    residual: bool = True  # add(body | id) as residual(body) where it is one
    implicit_flatten: bool = True  # `fc` after a map flattens it itself


class _NeedName(Exception):
    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


def write(region: Region, options: Options = Options(), names: set[str] | None = None
          ) -> tuple[tuple[Stmt, ...], dict[int, str], dict[str, int]]:
    """The region's body, its named tensors' hints by number (0: the input, named only
    where a line refers to it) and their numbers by unit. ``names``: tensors to name
    from the start (every node's, for the plainest writing)."""
    names = set(names or ()) | set(region.fixed)
    for _ in range(len(region.units) + 2):
        try:
            return _Writer(region, names, options).body()
        except _NeedName as e:
            if e.key in names:  # cannot happen: a named tensor is never written twice
                break
            names.add(e.key)
    raise ImportFailure("the graph could not be written as chains and named tensors")


class _Writer:
    def __init__(self, region: Region, names: set[str], options: Options):
        self.r, self.opt = region, options
        self.order = {k: i for i, k in enumerate(region.units)}
        self.names = sorted(set(names) - {ENTRY}, key=self.order.__getitem__)
        self.leaves = set(names) | {ENTRY} | set(region.external)
        self.tensor = {**region.external, ENTRY: region.fixed.get(ENTRY, 0),
                       **{k: region.fixed.get(k, i + 1) for i, k in enumerate(self.names)}}
        self.written: set[str] = set()
        self.refs: set[int] = set()
        self.idom: dict[str | None, str | None] = {}
        self.depth: dict[str | None, int] = {None: 0}

    def body(self) -> tuple[tuple[Stmt, ...], dict[int, str], dict[str, int]]:
        stmts, base = [], ENTRY
        named = set(self.names)
        for t in self.names + ([] if self.r.exit in named else [self.r.exit]):
            items: tuple = ()
            if t != ENTRY:  # an empty network's body writes nothing
                self._dominators(t)
                items = tuple(self._write(t, base, line=True))
            stmts.append(Stmt(items, self.tensor[t] if t in named else None))
            base = t
        if self.tensor[ENTRY] in self.refs or ENTRY in self.r.fixed:
            stmts.insert(0, Stmt((), self.tensor[ENTRY]))
        hints = {self.tensor[k]: self.r.units[k].hint for k in self.names}
        hints[self.tensor[ENTRY]] = "x"
        return tuple(stmts), hints, dict(self.tensor)

    # ------------------------------------------------------------ dominators
    def _dominators(self, target: str) -> None:
        """The immediate dominators of the units ``target`` is written from (its
        ancestors up to named tensors); the named ones hang from a common root (None)."""
        seen, todo = set(), [target]
        leaves = self.leaves - {target}  # the line's own target is written, not read
        while todo:
            k = todo.pop()
            if k not in seen:
                seen.add(k)
                if k not in leaves:
                    todo.extend(self.r.units[k].inputs)
        self.idom, self.depth = {}, {None: 0}
        for k in sorted(seen, key=lambda k: (k not in leaves, self.order.get(k, -1))):
            if k in leaves:
                d = None
            else:
                ins = self.r.units[k].inputs
                d = ins[0]
                for i in ins[1:]:
                    d = self._meet(d, i)
            self.idom[k] = d
            self.depth[k] = self.depth[d] + 1

    def _meet(self, a: str | None, b: str | None) -> str | None:
        while a != b:
            if self.depth[a] >= self.depth[b]:
                a = self.idom[a]
            else:
                b = self.idom[b]
        return a

    # ------------------------------------------------------------ chains
    def _write(self, t: str | None, start: str | None, line: bool = False) -> list:
        """The chain from ``start`` (None: from a named tensor) to ``t`` (``line``: the
        target of a line, written even where it is named), walked back along its spine
        (a loop: a 4,000-layer chain is no recursion); only a merge's branches recurse."""
        out: list = []
        while t != start:
            if t is None:  # a merge of named tensors' branches: nothing before it
                break
            if t in self.leaves and not line:
                self.refs.add(self.tensor[t])
                out.append([Ref(self.tensor[t])])
                break
            line = False
            self._visit(t)
            u = self.r.units[t]
            if not u.merge:
                (p,) = u.inputs
                if self._flattens(u, p):
                    self._visit(p)
                    p = self.r.units[p].inputs[0]
                out.append(list(u.items))
                t = p
                continue
            d = self.idom[t]  # None: no common split point, each branch from its name
            out.append([self._merge(u, d, [self._write(i, d) for i in u.inputs])])
            t = d
        return [x for part in reversed(out) for x in part]

    def _visit(self, key: str) -> None:
        if key in self.written:
            raise _NeedName(key)
        self.written.add(key)

    def _flattens(self, u: Unit, p: str) -> bool:
        """``fc`` after a ``flatten`` of a map: the fc flattens the map itself."""
        first = u.items[0] if u.items else None
        if not (self.opt.implicit_flatten and isinstance(first, Layer)
                and opdef(first.op).family == "fc") or p in self.leaves:
            return False
        f = self.r.units[p]
        t = self.r.type_of(f.inputs[0])
        return f.op == "flatten" and self.r.consumers.get(p) == 1 and t is not None and t.is_map

    def _merge(self, u: Unit, split: str | None, branches: list[list]) -> Merge | Residual:
        if split is None:  # a merge of named tensors: a branch that merges gets a line
            for i, b in zip(u.inputs, branches):
                if i not in self.leaves and any(isinstance(x, (Merge, Residual)) for x in b):
                    raise _NeedName(i)
        if self.opt.residual and u.op == "add" and len(branches) == 2 and split is not None \
                and split not in self.r.external:
            x = self.r.type_of(split)
            for k in (0, 1):
                body, short = branches[k], branches[1 - k]
                mode = shortcut(short, x, self.r.type_of(u.inputs[k])) if body else None
                if mode is not None:
                    return Residual(tuple(body), mode, tag=u.tag)
        return Merge(u.op, tuple(tuple(b) for b in branches), tag=u.tag)


def _stride(x: TensorType, y: TensorType) -> tuple[int, int] | None:
    """The stride residual() gives its shortcut from ``x`` to ``y`` (the smallest that
    makes the size), None where there is none."""
    out = []
    for n, m in zip(x.dims[1:], y.dims[1:]):
        s = next((s for s in range(1, n + 1) if -(-n // s) == m), None)
        if s is None:
            return None
        out.append(s)
    return out[0], out[1]


def _is(it, op: str, values: dict) -> bool:
    return isinstance(it, Layer) and it.op == op and dict(it.values) == values


def shortcut(short: list, x: TensorType, y: TensorType) -> str | None:
    """The residual() shortcut mode that gives ``short`` (items on the input ``x``, the
    body giving ``y``; a block call as the layers it makes): "" for the identity or the
    projection, "pad", "conv"; None where residual() would not make it."""
    short = [y_ for it in short for y_ in (it.body if isinstance(it, Call) and it.body
                                           else (it,))]
    if not short:
        return "" if x == y else None
    if x == y or not (x.is_map and y.is_map):
        return None
    stride = _stride(x, y)
    if stride is None:
        return None
    if len(short) == 1 and _is(short[0], "shortcut_pad", {"out": y.channels, "stride": stride}):
        return "pad" if y.channels >= x.channels else None
    conv = {"out": y.channels, "kernel": (1, 1), "stride": stride, "pad": (0, 0, 0, 0),
            "dilation": (1, 1), "groups": 1, "bias": False}
    bn = {"eps": 1e-5, "momentum": 0.1, "affine": True}
    if len(short) == 2 and _is(short[0], "conv", conv) and _is(short[1], "bn", bn):
        return ""
    if len(short) == 1 and _is(short[0], "conv", conv):
        return "conv"
    return None
