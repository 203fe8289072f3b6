"""A graph and its module tree as one program: bodies written bottom-up (a module's
body calls its children's blocks), module kinds shared as blocks, the network's own
body, and the text of it all.

How much is shared is the :class:`Plan`: the writer tries the most readable plan first
and plainer ones where that does not compile to the graph (:mod:`.writer`).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, replace

from ..ir.graph import Graph, Node
from .common import ImportFailure
from .dag_text import ENTRY, Options, Region, Unit, write
from .expr import (
    Aux,
    Call,
    Context,
    Label,
    Layer,
    Ref,
    Signature,
    Stmt,
    Verbatim,
    calls,
    render,
)
from .folding import fold_body
from .layer_text import literal, opdef, shown
from .layout import Program, classes_param, network_lines
from .modules import Module, base, effective, heights, kind, kinds, tree, walk
from .names import Names
from .prelude_calls import prelude_call
from .templates import Instance, Template, group

AUX_SPACE = 100_000  # an auxiliary head's tensors are numbered apart from its body's
FIXED = 10 ** 9  # and a tensor an aux head reads from its body, apart from both
INLINE_PARAMS = 3  # a chain of block calls shared with more parameters is inlined
SHORT_CHAIN = 3  # an unnamed chain of this many layers or fewer is inlined


@dataclass(frozen=True)
class Plan:
    blocks: bool = True  # modules as blocks
    share: bool = True  # a block with parameters for modules alike
    fold: bool = True  # runs as repeats
    residual: bool = True  # residual(...) where it gives the graph
    explicit: bool = False  # every tensor named, one line per layer


class Assembler:
    def __init__(self, graph: Graph, classes: Mapping[str, str], plan: Plan, name: str):
        self.g, self.plan = graph, plan
        self.index = {n.name: i for i, n in enumerate(graph.nodes)}
        self.root = tree(graph, classes, modules=plan.blocks)
        self.parent = {c: m for m in walk(self.root) for c in m.children}
        self.opts = Options(residual=plan.residual)
        self.items: dict[Module, tuple] = {}  # what a called module writes where it is
        self.hints: dict[Module, dict[int, str]] = {}  # an aux head's tensor hints
        self.templates: list[Template] = []
        self.signatures: dict[int, Signature] = {}
        self.ids = itertools.count(1)
        self.name = name
        self.exports: dict[str, int] = {}  # a node an aux head names for later: its number
        self.fixed: dict[str, int] = {}  # a node an aux head reads besides its entry

    # ------------------------------------------------------------ the whole
    def program(self) -> Program:
        inside = self._prelude_calls() if self.plan.share else set()
        mods = [m for m in walk(self.root) if m is not self.root and (m.siso or m.aux is not None)
                and m not in inside and m not in self.items]
        mods.sort(key=lambda m: -1 if m.aux is None else m.aux)  # heads in order: one may
        # read what an earlier one names
        for same in kinds(mods, heights(self.root)):
            if same[0].aux is not None:
                self._head(same[0])
            else:
                self._blocks(same)
        body, hints, _ = self._body(self.root)
        if self.plan.fold:
            body = fold_body(body, stepped=True)
        classes, body = classes_param(self.g, body)
        self._prune([x for s in body for x in s.items])
        names = self._name_blocks(classes)
        tensors = self._tensors(hints, names, set())
        ctx = Context(self.signatures, tensors)
        lines = network_lines(body, ctx) if body != (Stmt(()),) else []
        return Program([self._definition(t, names) for t in self.templates], self.name,
                       f"(classes={classes})" if classes else "",
                       str(self.g.input_type), lines)

    def _prune(self, items: list) -> None:
        """Only the blocks the network calls (a projection a residual took in is not)."""
        by_id = {t.id: t for t in self.templates}
        used: set[int] = set()
        todo = list(calls(items))
        while todo:
            k = todo.pop()
            if k not in used:
                used.add(k)
                todo.extend(calls([x for s in by_id[k].body for x in s.items]))
        self.templates = [t for t in self.templates if t.id in used]

    def _prelude_calls(self) -> set[Module]:
        """Modules that are calls of prelude blocks, written so; the set of the modules
        inside them (written by the call)."""
        inside: set[Module] = set()
        todo = list(self.root.children)
        while todo:
            m = todo.pop()
            text = prelude_call(self.g, m)
            if text is None:
                todo.extend(m.children)
                continue
            self.items[m] = (Verbatim(text, tag=_top(m.path), down=self._down(m)),)
            inside |= set(walk(m)) - {m}
        return inside

    # ------------------------------------------------------------ bodies
    def _region(self, m: Module) -> Region:
        own, kids = effective(m)
        key: dict[str, str] = {n: n for n in own}
        for k in kids:
            if k.aux is None:
                key[k.exit] = k.key

        external: dict[str, int] = {}

        def src(name: str) -> str:
            if name == m.entry:
                return ENTRY
            if name in key:
                return key[name]
            if name in self.exports or name in m.inputs:  # named elsewhere
                external[name] = self.exports.get(name) or self._fixed(name)
                return name
            raise ImportFailure(f"{name} is read inside {m.path or 'the network'} but "
                                "computed inside a module it cannot see", name)
        placed: list[tuple[tuple[int, int], Unit]] = []
        for n in own:
            node = self.g[n]
            placed.append(((self.index[n], 0), self._unit(node, [src(i) for i in node.inputs], m)))
        for k in kids:
            if k.aux is None:
                placed.append(((self.index[k.exit], 0), Unit(
                    k.key, (src(k.entry),), self.items[k], self.g[k.exit].type,
                    tag=self._tag(k.path, m), hint=self._hint(k.path, m))))
        placed.sort(key=lambda x: x[0])
        units = {u.key: u for _, u in placed}
        exit_ = key[m.exit] if m.exit != m.entry else ENTRY
        tips: dict[str, str] = {}
        fixed: dict[str, int] = {}
        for k in sorted((k for k in kids if k.aux is not None), key=lambda k: k.aux or 0):
            at = src(k.entry)
            if at != ENTRY and at not in units:
                raise ImportFailure("an auxiliary head that continues from a tensor of another "
                                    "auxiliary head cannot be written", k.entry)
            tip = tips.get(at, at)
            exit_ = self._attach(units, k, tip, exit_, self.g[k.entry].type)
            tips[at] = k.key
            for i in k.inputs:  # the other tensors the head reads: named here
                if i != k.entry and i not in self.exports:
                    fixed[src(i)] = self._fixed(i)
        return Region(self.g[m.entry].type, units, exit_, external, fixed)

    def _down(self, m: Module) -> bool:
        """Whether module ``m`` shrinks the map by a stride (a stage ends there)."""
        t, u = self.g[m.entry].type, self.g[m.exit].type
        return t.is_map and u.is_map and 2 * u.dims[1] <= t.dims[1]

    def _fixed(self, name: str) -> int:
        return self.fixed.setdefault(name, FIXED + len(self.fixed))

    def _attach(self, units: dict[str, Unit], k: Module, at: str, exit_: str, t) -> str:
        """An aux head's unit right after the tensor it reads, which everything else
        then reads through it (it passes its input on)."""
        aux = Unit(k.key, (at,), self.items[k], t)
        for u in units.values():
            if at in u.inputs:
                u.inputs = tuple(aux.key if i == at else i for i in u.inputs)
        order = list(units.items())
        pos = 0 if at == ENTRY else next(i for i, (key, _) in enumerate(order) if key == at) + 1
        order.insert(pos, (aux.key, aux))
        units.clear()
        units.update(order)
        return aux.key if exit_ == at else exit_

    def _unit(self, node: Node, inputs: list[str], m: Module) -> Unit:
        op = opdef(node.op)
        types = [self.g[i].type for i in node.inputs]
        merge = op.family == "merge"
        if node.op in ("input", "identity"):
            raise ImportFailure(f"a node of `{node.op}` cannot be written as a layer "
                                "(leave it out of the graph)", node.path)
        if merge and len(inputs) < 2:
            raise ImportFailure(f"a {node.op} of one input cannot be written (leave it out)",
                                node.path)
        if not merge and len(inputs) != 1:
            raise ImportFailure(f"{node.op} has {len(inputs)} inputs; only merges take "
                                "several", node.path)
        t = types[0]
        down = t.is_map and node.type.is_map and 2 * node.type.dims[1] <= t.dims[1]
        items = () if merge else (Layer(node.op, node.attrs, shown(node, types),
                                        tag=self._tag(node.path, m, leaf=True), down=down),)
        return Unit(node.name, tuple(inputs), items, node.type, node.op, merge,
                    self._tag(node.path, m, leaf=True), self._hint(node.path, m))

    def _tag(self, path: str, m: Module, leaf: bool = False) -> str:
        """The child of ``m`` a path is in (a line of the network each); "" for ``m``'s
        own nodes."""
        rel = _relative(path, m.path).split(".")
        return "" if leaf and len(rel) == 1 else rel[0]

    def _hint(self, path: str, m: Module) -> str:
        """A name for a tensor: the child of ``m`` it comes from (``denselayer2``), or
        its whole path where every tensor is named."""
        rel = _relative(path, m.path)
        return rel.replace(".", "_") if self.plan.explicit else rel.split(".")[0]

    def _body(self, m: Module, names: set[str] | None = None
              ) -> tuple[tuple[Stmt, ...], dict[int, str], dict[str, int]]:
        region = self._region(m)
        names = set(names or ())
        if self.plan.explicit:
            names |= set(region.units) - {region.exit}
        body, hints, numbers = write(region, self.opts, names)
        own, kids = effective(m)
        for k in kids:
            hints.update(self.hints.get(k, {}))
        return body, hints, numbers

    def _head(self, m: Module) -> None:
        """An auxiliary head: its body as one chain (named tensors labelled in line),
        its tensors numbered apart; those the network reads later keep their names."""
        own, kids = effective(m)
        at = {n: n for n in own} | {k.exit: k.key for k in kids if k.aux is None}
        if any(e not in at for e in m.exports):
            raise ImportFailure("the network reads a tensor from inside a module of an "
                                "auxiliary head", m.exit)
        body, hints, numbers = self._body(m, {at[e] for e in m.exports})
        if self.plan.fold:
            body = fold_body(body)
        base = (m.aux + 1) * AUX_SPACE
        items: list = []
        for s in body:
            items += [_renumber(x, base) for x in s.items]
            if s.label is not None:
                items.append(Label(_local(s.label, base)))
        for e in m.exports:
            self.exports[e] = _local(numbers[at[e]], base)
        self.items[m] = (Aux(tuple(items)),)
        self.hints[m] = {_local(k, base): v for k, v in hints.items()}

    # ------------------------------------------------------------ blocks
    def _blocks(self, mods: list[Module]) -> None:
        """One module kind: its instances' bodies, shared as blocks or inlined."""
        instances = []
        for m in mods:
            body, hints, _ = self._body(m)
            instances.append(Instance(m, body, hints, self.g[m.entry].type,
                                      self.g[m.exit].type))
        share = self.plan.share and self.plan.fold
        made = group(instances, base(mods[0]), self.signatures, lambda: next(self.ids), share)
        for t in made:
            if self._inline(t, len(made) == 1):
                for inst in t.instances:
                    body = fold_body(inst.body) if self.plan.fold else inst.body
                    self.items[inst.module] = body[0].items
                    self.hints[inst.module] = {}
                continue
            self.templates.append(t)
            self.signatures[t.id] = t.signature
            for inst, args in zip(t.instances, t.args):
                layers = inst.body[0].items if len(inst.body) == 1 and all(
                    isinstance(x, Layer) for x in inst.body[0].items) else ()
                self.items[inst.module] = (Call(t.id, args, tag=_top(inst.module.path),
                                                down=self._down(inst.module), body=layers),)

    def _inline(self, t: Template, whole: bool) -> bool:
        """Whether a module kind is written in place rather than as a block: chains of
        block calls used once, containers (Sequential) but those that are all one block
        with few parameters at the top (ResNet's layers), modules of no class used once,
        and short chains of layers of no class (a projection shortcut). ``whole``: ``t``
        is its kind's only block. A body with named tensors is always a block."""
        if len(t.body) != 1 or t.body[0].label is not None:
            return False
        single = len(t.instances) == 1
        params = len(t.signature.params)
        kinds = {kind(i.module) for i in t.instances}
        roles = [p.role for p in t.signature.params]
        if t.container and (single or params > INLINE_PARAMS or len(set(roles)) < params):
            return True  # one call each, or calls that differ: written where they are
        if t.container and "named" in kinds:
            return False
        if t.container:
            top = all(self.parent[i.module] is self.root or kind(self.parent[i.module])
                      != "named" for i in t.instances)
            return not (whole and top and params <= INLINE_PARAMS)
        if kinds == {"generic"} or (single and "named" not in kinds):
            return True
        layers = [x for x in t.body[0].items if isinstance(x, Layer)]
        return "named" not in kinds and len(layers) == len(t.body[0].items) <= SHORT_CHAIN

    # ------------------------------------------------------------ names and text
    def _name_blocks(self, classes: int | None) -> dict[int, str]:
        taken = {self.name, "x"} | {p.name for t in self.templates for p in t.signature.params}
        names = Names(taken | ({"classes"} if classes else set()))
        out = {}
        for t in self.templates:
            out[t.id] = t.signature.name = names.fresh(t.base)
        return out

    def _tensors(self, hints: dict[int, str], blocks: dict[int, str],
                 params: set[str]) -> dict[int, str]:
        names = Names(set(blocks.values()) | params | {self.name, "classes"})
        out = {}
        for k in sorted(hints):
            out[k] = names.short("x" if k == 0 else hints[k] or "t")
        return out

    def _definition(self, t: Template, blocks: dict[int, str]) -> str:
        params = {p.name for p in t.signature.params}
        tensors = self._tensors(t.instances[0].hints, blocks, params)
        lines = render(t.body, Context(self.signatures, tensors, iter(t.texts)))
        sig = ", ".join(p.name + (f"={literal(p.default)}" if p.has_default else "")
                        for p in t.signature.params)
        head = f"block {t.signature.name}" + (f"({sig})" if sig else "")
        if len(lines) == 1:
            return f"{head} = {lines[0]}"
        return f"{head}:\n" + "\n".join("    " + ln for ln in lines)


def _relative(path: str, prefix: str) -> str:
    return path[len(prefix) + 1:] if prefix and path.startswith(prefix + ".") else path


def _top(path: str) -> str:
    """The network's child a path is in (a line of the network each)."""
    return path.split(".")[0]


def _local(number: int, base: int) -> int:
    """A head's own tensor numbered from ``base``; another's number kept."""
    return number + base if number < AUX_SPACE else number


def _renumber(it, base: int):
    """An item with its named tensors numbered from ``base`` (an aux head's)."""
    if isinstance(it, Ref):
        return Ref(_local(it.tensor, base))
    if isinstance(it, Label):
        return Label(_local(it.tensor, base))
    for field_name in ("branches", "body", "head"):
        inner = getattr(it, field_name, None)
        if isinstance(inner, tuple) and field_name == "branches":
            return replace(it, branches=tuple(tuple(_renumber(x, base) for x in b)
                                              for b in inner))
        if isinstance(inner, tuple):
            return replace(it, **{field_name: tuple(_renumber(x, base) for x in inner)})
    return it

