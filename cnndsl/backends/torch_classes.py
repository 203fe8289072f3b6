"""Classes for the emitted PyTorch source: instances of one block with the same structure
share a class whose constructor takes what differs between them.

The numbers in the instances' constructor lines are compared slot by slot; a slot that
varies becomes a constructor parameter named after the block's own parameter where the
values match it (``Bottleneck(in_channels, c)`` with ``nn.Conv2d(c, 4 * c, ...)``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..ir.graph import Frame
from .pynames import RESERVED, Namespace, camel, comment, docstring, identifier

_DIGITS = r"\d+\.\d+(?:e[-+]?\d+)?|\d+e[-+]?\d+|\d+"
_NUMBER = re.compile(rf"(?<![\w.])({_DIGITS})(?![\w.])")
# A constructor's text as keywords (``stride=``), numbers, and what ends a keyword's value
# (a word, any other symbol); spaces, commas and an opening bracket keep it.
_TOKEN = re.compile(rf"(?P<kw>\w+)=(?!=)|(?<![\w.])(?P<num>{_DIGITS})(?![\w.])"
                    r"|(?P<word>[A-Za-z_][\w.]*)|(?P<other>[^\d, (])")
_MULTIPLES = (2, 3, 4, 6, 8)


def _number(text: str) -> int | float:
    return float(text) if any(c in text for c in ".e") else int(text)


def _fmt_num(v) -> str:
    return repr(v) if isinstance(v, float) else str(v)


@dataclass
class Instance:
    """One scope (a block call, or the network) on its way to a class.

    ``init`` holds ``(attr, rhs, child)``: a module constructor text, or the child
    instance whose class builds the submodule. ``fwd`` holds ``(code, shape, where)``.
    """

    frame: Frame | None
    in_channels: int | None
    init: list = field(default_factory=list)
    fwd: list = field(default_factory=list)
    children: list = field(default_factory=list)
    cls: str = ""
    params: tuple[str, ...] = ()  # the class's constructor parameters
    call_values: dict = field(default_factory=dict)  # this instance's value of each
    shared: bool = False  # its class serves several instances
    returns: str = ""  # the forward's return annotation, if any

    @property
    def height(self) -> int:
        return 1 + max((c.height for c in self.children), default=-1)

    def candidates(self) -> dict[str, int | float]:
        """Names a number can be written with: the block's arguments, then its input width."""
        out = {identifier(k): v for k, v in self.frame.args} if self.frame else {}
        if self.in_channels is not None:
            out.setdefault("in_channels", self.in_channels)
        return out


def _child_call(child: Instance) -> str:
    args = ", ".join(f"{p}={_fmt_num(child.call_values[p])}" for p in child.params)
    return f"{child.cls}({args})"


@dataclass(frozen=True)
class _Slot:
    """How a varying number is written: ``factor * name``, ``name // divisor`` or a
    parameter of its own (``name`` is then the role, e.g. ``conv1_out``)."""

    name: str
    factor: int = 1
    divisor: int = 1

    def text(self, names: dict[str, str]) -> str:
        n = names[self.name]
        return f"{self.factor} * {n}" if self.factor > 1 else (
            f"{n} // {self.divisor}" if self.divisor > 1 else n)


class ClassMaker:
    """Assigns classes to instances, children first, and writes their text."""

    def __init__(self, class_names: Namespace, graph_name: str, graph_doc: str):
        self.class_names = class_names
        self.graph_name = graph_name
        self.graph_doc = graph_doc
        self.classes: list[str] = []

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
        for attr, rhs, child in inst.init:
            if child is not None:
                rhs = _child_call(child)
            pieces, pos, k, keyword = [], 0, 0, None
            for m in _TOKEN.finditer(rhs):
                if m.lastgroup == "kw":
                    keyword = m.group("kw")
                elif m.lastgroup == "num":  # named by the keyword it follows, or its place
                    pieces.append(rhs[pos:m.start()])
                    role = keyword or ("in" if k == 0 else "out" if k == 1 else f"arg{k}")
                    values.append(_number(m.group("num")))
                    roles.append(f"{attr}_{role}")
                    pos, k = m.end(), k + 1
                else:
                    keyword = None  # a word or a closing bracket ends a keyword's value
            pieces.append(rhs[pos:])
            lines.append((attr, tuple(pieces)))
        key = (inst.frame.block if inst.frame else None, tuple(lines),
               tuple(code for code, _, _ in inst.fwd))
        return key, values, roles

    @staticmethod
    def _name_slot(column: list, insts: list[Instance], role: str) -> _Slot:
        """The block's parameter equal to the slot in every instance (or a small multiple
        or fraction of one), then the input width; else a parameter of its own."""
        cands = [i.candidates() for i in insts]
        kind = type(column[0])  # an int slot is written with ints only (no 2 * 0.5)
        names = [n for n in cands[0] if all(n in c and type(c[n]) is kind for c in cands)]
        for group in ([n for n in names if n != "in_channels"], ["in_channels"]):
            group = [n for n in group if n in names]
            for n in group:
                if all(c[n] == v for c, v in zip(cands, column)):
                    return _Slot(n)
            for m in _MULTIPLES:
                for n in group:
                    if all(c[n] * m == v for c, v in zip(cands, column)):
                        return _Slot(n, factor=m)
                    if all(isinstance(c[n], int) and c[n] % m == 0 and c[n] // m == v
                           for c, v in zip(cands, column)):
                        return _Slot(n, divisor=m)
        return _Slot(role)

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
            slots: list[_Slot | None] = []
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
            self.classes.append(self._class_text(group[0][0], slots, names, len(group)))

    def _class_text(self, inst: Instance, slots: list, names: dict[str, str],
                    count: int) -> str:
        shared = count > 1
        init, k = [], 0
        for attr, rhs, child in inst.init:
            if child is not None:
                rhs = _child_call(child)
            out, pos = [], 0
            for m in _NUMBER.finditer(rhs):
                out.append(rhs[pos:m.start()])
                out.append(m.group(1) if slots[k] is None else slots[k].text(names))
                pos = m.end()
                k += 1
            out.append(rhs[pos:])
            note = f"  # {comment(child.frame.call)}" if child is not None and not shared else ""
            init.append(f"self.{attr} = {''.join(out)}{note}")
        fwd = []
        for code, shape, where in inst.fwd:
            note = "  ".join(x for x in ((shape if not shared else ""), where) if x)
            fwd.append(code + (f"  # {note}" if note else ""))
        sig = "".join(f", {p}" for p in inst.params)
        lines = [f"    def __init__(self{sig}):", "        super().__init__()"]
        lines += [f"        {ln}" for ln in init]
        returns = f" -> {inst.returns}" if inst.returns else ""
        lines += ["", f"    def forward(self, x){returns}:"] + [f"        {ln}" for ln in fwd]
        if inst.frame is None:
            doc = self.graph_doc
        elif shared:
            doc = docstring(f"The `{inst.frame.block}` block ({count} calls, e.g. "
                            f"{inst.frame.call}).")
        else:
            doc = docstring(inst.frame.call)
        return f'class {inst.cls}(nn.Module):\n    """{doc}"""\n\n' + "\n".join(lines) + "\n"


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
        kinds = {key: list(dict.fromkeys(re.sub(r"_?\d+$", "", attr) for attr, _ in key[1]))
                 for key in variants}
        common = set.intersection(*(set(v) for v in kinds.values()))
        for key in variants:
            others = set().union(*(set(kinds[k]) for k in variants if k != key))
            extra = [k for k in kinds[key] if k not in others] or \
                [k for k in kinds[key] if k not in common]
            if extra:
                out[key] = camel(extra[0])
    return out


# Keywords a convolution's text leaves out at their default value; spelled out where
# another call of the same block needs another value, so that the calls share a class.
_CONV_DEFAULTS = {"stride": "1", "padding": "0", "dilation": "1", "groups": "1"}
_KEYWORD = re.compile(r"(\w+)=[^,()]*(?:\([^()]*\))?")


def _spell_defaults(insts: list[Instance]) -> None:
    """``nn.Conv2d(64, 64, kernel_size=3)`` beside ``nn.Conv2d(64, 64, kernel_size=3,
    stride=2)`` in another call of the block: the first gains ``stride=1``."""
    lines: dict[tuple, list[tuple[Instance, int]]] = {}
    for inst in insts:
        if inst.frame is None:
            continue
        for i, (attr, rhs, child) in enumerate(inst.init):
            if child is None and rhs.startswith(("nn.Conv2d(", "nn.ConvTranspose2d(")):
                lines.setdefault((inst.frame.block, attr), []).append((inst, i))
    for members in lines.values():
        keys = [[m.group(1) for m in _KEYWORD.finditer(inst.init[i][1])] for inst, i in members]
        wanted = [k for k in _CONV_DEFAULTS if any(k in ks for ks in keys)
                  and not all(k in ks for ks in keys)]
        if not wanted:
            continue
        order = max(keys, key=len)
        for (inst, i), ks in zip(members, keys):
            attr, rhs, child = inst.init[i]
            for k in wanted:
                if k in ks:
                    continue
                before = [b for b in order[:order.index(k)] if b in ks] if k in order else []
                m = next((m for m in _KEYWORD.finditer(rhs) if before and
                          m.group(1) == before[-1]), None)
                if m is not None:
                    rhs = f"{rhs[:m.end()]}, {k}={_CONV_DEFAULTS[k]}{rhs[m.end():]}"
                    ks.insert(ks.index(before[-1]) + 1, k)
            inst.init[i] = (attr, rhs, child)

