"""Classes for the emitted PyTorch source: instances of one block with the same structure
share a class whose constructor takes what differs between them.

The numbers in the instances' constructors (:class:`~cnndsl.ops.ctor.Ctor` values) are
compared slot by slot; a slot that varies becomes a constructor parameter named after
the block's own parameter where the values match it (``Bottleneck(in_channels, c)``
with ``nn.Conv2d(c, 4 * c, ...)``). What is decided here is written out by
:mod:`cnndsl.backends.torch_render`.

NOTE: slots and their roles. A constructor's numbers are its slots, in the order of its
text; the rest of it (callee, keywords, words, booleans, the sign of a number) is its
structure, which instances must share. A slot no block argument explains gets a
parameter named after its role: the keyword its number is the value of
(``conv1_stride``; both numbers of ``padding=(1, 2)``), or else its place among the
constructor's numbers (``conv1_in``, ``conv1_out``, ``conv1_arg2``). A number inside a
nested tuple or constructor, or after a minus sign, takes its place, not the keyword.

>>> from cnndsl.ops.ctor import Ctor
>>> _numbers(Ctor("nn.Conv2d", (8, 16), (("kernel_size", 3), ("padding", (1, 0)))))
([8, 16, 3, 1, 0], ['in', 'out', 'kernel_size', 'padding', 'padding'])
"""

from __future__ import annotations

from dataclasses import dataclass

from ..ops.ctor import Ctor, Value, is_number, render
from .pynames import RESERVED, Namespace, camel
from .torch_tree import Instance

_MULTIPLES = (2, 3, 4, 6, 8)


def _numbers(ctor: Ctor) -> tuple[list, list[str]]:
    """The numbers of ``ctor`` in the order of its text (their magnitudes) and the role
    of each (see the NOTE above)."""
    values: list = []
    roles: list[str] = []
    keyword: list = [None]  # the keyword whose value is being read, until something ends it

    def walk(v: Value) -> None:
        if is_number(v):
            if render(v).startswith("-"):
                keyword[0] = None  # a minus sign ends a keyword's value
            k = len(values)
            roles.append(keyword[0] or ("in" if k == 0 else "out" if k == 1 else f"arg{k}"))
            values.append(abs(v))
        elif isinstance(v, tuple):
            for x in v:
                walk(x)
            keyword[0] = None  # its closing bracket
        elif isinstance(v, Ctor):
            keyword[0] = None  # the callee
            for x in v.args:
                walk(x)
            for name, x in v.kwargs:
                keyword[0] = name
                walk(x)
            keyword[0] = None  # its closing bracket
        else:  # a word, a boolean, None
            keyword[0] = None

    walk(ctor)
    return values, roles


def _shape(v: Value):
    """The structure of a value: its numbers taken out, their signs kept."""
    if is_number(v):
        return ("-" if render(v).startswith("-") else "+", 0)
    if isinstance(v, tuple):
        return ("()", tuple(_shape(x) for x in v))
    if isinstance(v, Ctor):
        return (v.callee, tuple(_shape(x) for x in v.args),
                tuple((k, _shape(x)) for k, x in v.kwargs))
    return ("=", type(v).__name__, v)


@dataclass(frozen=True)
class Slot:
    """How a varying number is written: ``factor * name``, ``name // divisor`` or a
    parameter of its own (``name`` is then the role, e.g. ``conv1_out``)."""

    name: str
    factor: int = 1
    divisor: int = 1


@dataclass(frozen=True)
class ClassPlan:
    """One class: its first instance (whose constructors and forward it writes), how
    each number of the constructors is written (None: as it is), the parameter names
    (a slot's name -> the Python name) and how many instances it serves."""

    inst: Instance
    slots: tuple[Slot | None, ...]
    names: dict[str, str]
    count: int


class ClassMaker:
    """Assigns classes to instances, children first; :attr:`plans` lists them in order."""

    def __init__(self, class_names: Namespace, graph_name: str):
        self.class_names = class_names
        self.graph_name = graph_name
        self.plans: list[ClassPlan] = []

    def build(self, root: Instance) -> str:
        levels: dict[int, list[Instance]] = {}

        def walk(inst: Instance) -> None:
            levels.setdefault(inst.height, []).append(inst)
            for c in inst.children:
                walk(c)
        walk(root)
        for h in sorted(levels):
            self.assign(levels[h])
        return root.cls

    @staticmethod
    def _template(inst: Instance) -> tuple[tuple, list, list]:
        """The instance's structure with its numbers taken out, the numbers, and where
        each number stands (attribute, keyword or position) to name it if it varies."""
        lines, values, roles = [], [], []
        for attr, ctor, child in inst.init:
            if child is not None:
                ctor = child.call()
            nums, rs = _numbers(ctor)
            values += nums
            roles += [f"{attr}_{r}" for r in rs]
            lines.append((attr, _shape(ctor)))
        key = (inst.frame.block if inst.frame else None, tuple(lines),
               tuple(code for code, _, _ in inst.fwd))
        return key, values, roles

    @staticmethod
    def _name_slot(column: list, insts: list[Instance], role: str) -> Slot:
        """The block's parameter equal to the slot in every instance (or a small multiple
        or fraction of one), then the input width; else a parameter of its own."""
        cands = [i.candidates() for i in insts]
        kind = type(column[0])  # an int slot is written with ints only (no 2 * 0.5)
        names = [n for n in cands[0] if all(n in c and type(c[n]) is kind for c in cands)]
        for group in ([n for n in names if n != "in_channels"], ["in_channels"]):
            group = [n for n in group if n in names]
            for n in group:
                if all(c[n] == v for c, v in zip(cands, column)):
                    return Slot(n)
            for m in _MULTIPLES:
                for n in group:
                    if all(c[n] * m == v for c, v in zip(cands, column)):
                        return Slot(n, factor=m)
                    if all(isinstance(c[n], int) and c[n] % m == 0 and c[n] // m == v
                           for c, v in zip(cands, column)):
                        return Slot(n, divisor=m)
        return Slot(role)

    def assign(self, insts: list[Instance]) -> None:
        """Give one class to every group of same-structure instances."""
        _spell_defaults(insts)
        by_key: dict[tuple, list[tuple[Instance, list, list]]] = {}
        for inst in insts:
            key, values, roles = self._template(inst)
            by_key.setdefault(key, []).append((inst, values, roles))
        suffixes = _variant_suffixes(list(by_key))
        for key, group in by_key.items():
            members = [g[0] for g in group]
            slots: list[Slot | None] = []
            used: list[str] = []
            fresh: dict[str, list] = {}  # roles made up for slots no argument explains
            for k in range(len(group[0][1])):
                column = [g[1][k] for g in group]
                if len(set(column)) == 1:
                    slots.append(None)
                    continue
                role = group[0][2][k]
                if role in fresh and fresh[role] != column:
                    role = f"{role}_{k}"
                    for g in group:
                        g[2][k] = role
                slot = self._name_slot(column, members, role)
                if slot.name == role:
                    fresh[role] = column
                slots.append(slot)
                if slot.name not in used:
                    used.append(slot.name)
            first = members[0]
            cls = self.class_names.claim(camel(first.frame.block) + suffixes.get(key, "")
                                         if first.frame else self.graph_name, "Net")
            cands = first.candidates()
            order = (["in_channels"] + [p for p in cands if p != "in_channels"]
                     + [p for p in used if p not in cands])
            raw = [p for p in order if p in used]
            # parameter names: never a keyword, builtin, module or class the body uses
            ns = Namespace(RESERVED | self.class_names.taken)
            names = {p: ns.claim(p) for p in raw}
            for inst, values, roles in group:
                inst.cls, inst.shared = cls, len(group) > 1
                inst.params = tuple(names[p] for p in raw)
                cands = inst.candidates()
                inst.call_values = {names[p]: cands[p] if p in cands else values[roles.index(p)]
                                    for p in raw}
            self.plans.append(ClassPlan(first, tuple(slots), names, len(group)))


def _kind(attr: str) -> str:
    """A module attribute's name without its number: ``conv`` for ``conv2``,
    ``b1_conv`` for ``b1_conv1``, ``downsample`` for ``downsample_1``."""
    base = attr.rstrip("0123456789")
    if base != attr and base.endswith("_"):
        base = base[:-1]
    return base


def _variant_suffixes(keys: list[tuple]) -> dict[tuple, str]:
    """Names for the structures of one block that differ by the modules they hold: the
    variant with a projection shortcut is ``BottleneckDownsample``, the other plain
    ``Bottleneck``; failing a module only one variant has, one that not all have
    (``BneckSeHs``). Where no module tells them apart, the names get numbers."""
    by_block: dict[str, list[tuple]] = {}
    for key in keys:
        if key[0] is not None:
            by_block.setdefault(key[0], []).append(key)
    out: dict[tuple, str] = {}
    for variants in by_block.values():
        if len(variants) < 2:
            continue
        kinds = {key: list(dict.fromkeys(_kind(attr) for attr, _ in key[1]))
                 for key in variants}
        common = set.intersection(*(set(v) for v in kinds.values()))
        for key in variants:
            others = set().union(*(set(kinds[k]) for k in variants if k != key))
            extra = [k for k in kinds[key] if k not in others] or \
                [k for k in kinds[key] if k not in common]
            if extra:
                out[key] = camel(extra[0])
    return out


def _spell_defaults(insts: list[Instance]) -> None:
    """``nn.Conv2d(64, 64, kernel_size=3)`` beside ``nn.Conv2d(64, 64, kernel_size=3,
    stride=2)`` in another call of the block: the first gains ``stride=1``, a keyword its
    constructor leaves out at its default (:attr:`Ctor.defaults <cnndsl.ops.ctor.Ctor>`),
    so that the calls share a class."""
    lines: dict[tuple, list[tuple[Instance, int]]] = {}
    for inst in insts:
        if inst.frame is None:
            continue
        for i, (attr, ctor, child) in enumerate(inst.init):
            if child is None and ctor.defaults:
                lines.setdefault((inst.frame.block, attr), []).append((inst, i))
    for members in lines.values():
        defaults = dict(members[0][0].init[members[0][1]][1].defaults)
        keys = [[k for k, _ in inst.init[i][1].kwargs] for inst, i in members]
        wanted = [k for k in defaults if any(k in ks for ks in keys)
                  and not all(k in ks for ks in keys)]
        if not wanted:
            continue
        order = max(keys, key=len)
        for (inst, i), ks in zip(members, keys):
            attr, ctor, child = inst.init[i]
            for k in wanted:
                if k in ks:
                    continue
                before = [b for b in order[:order.index(k)] if b in ks] if k in order else []
                if before:  # after the keyword that comes before it where it is written
                    ctor = ctor.with_kwarg(k, defaults[k], after=before[-1])
                    ks.insert(ks.index(before[-1]) + 1, k)
            inst.init[i] = (attr, ctor, child)
