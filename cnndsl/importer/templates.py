"""Modules of one structure as one block with parameters.

The instances of a module kind (one class) are compared by skeleton: their bodies with
the numbers left out (:func:`cnndsl.importer.expr.skeleton`). Instances alike become one
block; each number that differs between them becomes a parameter named by what it sets
(``c`` for a width, ``k``, ``stride``, ``groups``, ``n`` for a repeat count), shared by
the positions always equal to it, or written from one already there: ``in_c`` (the
block input's channels), ``4 * c``, ``in_c // 16``. A parameter gets a default where
most instances agree on one value (``stride=1``).

Instances that differ only in how they fold (``bottleneck(64) * 3`` against
``bottleneck(128, 2) - bottleneck(128) * 3``) are folded alike (first call and a repeat
of the rest), and a body with a residual where the shape is kept and none where it
changes (MobileNetV2's inverted residuals) is ``residual(..., shortcut=none)``; kinds
that still differ are several blocks.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..ir.graph import TensorType
from .expr import (
    Call,
    Label,
    Param,
    Repeat,
    Residual,
    Signature,
    Slot,
    Stmt,
    Verbatim,
    body_skeleton,
    body_slots,
)
from .folding import fold_body
from .layer_text import attr_literal, literal
from .names import Names

ROLE = {"out": "c", "kernel": "k", "count": "n"}  # a parameter's name by what it sets
WIDTHS = {"c", "groups", "start", "stop"}  # channel counts: related to in_c and each other
MAX_FACTOR = 16


@dataclass
class Instance:
    module: Any  # what it writes (a module of the tree)
    body: tuple[Stmt, ...]  # unfolded
    hints: dict[int, str]  # its named tensors' hints
    in_type: TensorType
    out_type: TensorType


@dataclass
class Template:
    id: int
    base: str  # the block's name, before it is made unique
    instances: list[Instance]
    body: tuple[Stmt, ...]  # the first instance's, folded as all are
    texts: list[str | None]  # each slot's text in the body (None: left out)
    signature: Signature
    args: list[tuple]  # each instance's arguments

    @property
    def container(self) -> bool:
        """A chain of block calls only (a Sequential of blocks)."""
        return len(self.body) == 1 and self.body[0].label is None and all(
            isinstance(x, (Call, Verbatim)) or isinstance(x, Repeat) and all(
                isinstance(y, (Call, Verbatim)) for y in x.body) for x in self.body[0].items)


# ---------------------------------------------------------------- normal forms
def _residual_none(inst: Instance, body: tuple[Stmt, ...]) -> tuple[Stmt, ...]:
    """A body written ``residual(..., shortcut=none)``: with the identity shortcut
    where the shape is kept, the plain body where it changes."""
    if len(body) != 1 or body[0].label is not None:
        return body
    items = body[0].items
    if len(items) == 1 and isinstance(items[0], Residual) and items[0].mode == "" \
            and inst.in_type == inst.out_type:
        return (Stmt((Residual(items[0].body, "none"),)),)
    if inst.in_type != inst.out_type and items and not any(
            isinstance(x, (Label, Residual)) for x in items):
        return (Stmt((Residual(items, "none"),)),)
    return body


# (fold, head runs, residual none): the ways instances may be written alike, in order
VARIANTS = ((True, False, False), (True, True, False), (True, False, True), (True, True, True),
            (False, False, False), (False, False, True))


def _forms(instances: Sequence[Instance]):
    """Each way of writing the instances: their bodies, and the same before any was
    made a residual with no shortcut."""
    for folded, head_run, none in VARIANTS:
        plain = [fold_body(i.body, head_run) if folded else i.body for i in instances]
        yield [_residual_none(i, b) for i, b in zip(instances, plain)] if none else plain, plain


def _kinds_left(bodies: list[tuple[Stmt, ...]]) -> tuple[int, int]:
    """How many blocks a way of writing leaves; a repeat of at most one everywhere (a
    first call's part made optional) counts against it."""
    parts: dict[Any, list[list]] = {}
    for b in bodies:
        parts.setdefault(body_skeleton(b), []).append(
            [s.value for s in body_slots(b) if s.kind == "count"])
    forced = sum(any(all(c <= 1 for c in col) for col in zip(*rows))
                 for rows in parts.values() if len(rows) > 1)
    return len(parts) + forced, forced


def group(instances: list[Instance], base: str, signatures: dict[int, Signature],
          next_id, share: bool = True) -> list[Template]:
    """The templates of one module kind: one where the instances fold alike, else one
    per skeleton. Without ``share``, only identical instances share a block."""
    if share:  # the way of writing them that leaves the fewest kinds
        bodies, plain = min(_forms(instances), key=lambda f: _kinds_left(f[0]))
        key = body_skeleton
    else:
        bodies = plain = [i.body for i in instances]
        key = tuple  # identical bodies, numbers and all
    parts: dict[Any, list[int]] = {}
    for k, b in enumerate(bodies):
        parts.setdefault(key(b), []).append(k)
    out = []
    for ks in parts.values():
        chosen = [bodies[k] for k in ks]
        if len({key(plain[k]) for k in ks}) == 1:  # alike without an added residual
            chosen = [plain[k] for k in ks]
        out.append(unify(next_id(), base, [instances[k] for k in ks], chosen, signatures))
    return out


# ---------------------------------------------------------------- parameters
@dataclass
class _Param:
    name: str
    role: str
    values: list[Any]  # per instance; None where any value does


def _ints(values: Sequence[Any]) -> list[int | None] | None:
    """The values as whole numbers (a square pair as one), None where they are not."""
    out: list[int | None] = []
    for v in values:
        if v is None:
            out.append(None)
        elif isinstance(v, tuple) and len(v) == 2 and v[0] == v[1] and isinstance(v[0], int):
            out.append(v[0])
        elif isinstance(v, int) and not isinstance(v, bool):
            out.append(v)
        else:
            return None
    return out


def _same(a: Sequence, b: Sequence) -> bool:
    """``a`` follows from ``b`` everywhere ``a`` matters (and ``b`` is known there)."""
    return all(x is None or (y is not None and x == y) for x, y in zip(a, b))


def _relation(vals: list, role: str, params: list[_Param], in_c: list[int]) -> str | None:
    ints = _ints(vals)
    if ints is not None and role in WIDTHS:
        if _same(ints, in_c):
            return "in_c"
        for k in range(2, MAX_FACTOR + 1):
            if _same(ints, [k * c for c in in_c]):
                return f"{k} * in_c"
            if all(c % k == 0 for c in in_c) and _same(ints, [c // k for c in in_c]):
                return f"in_c // {k}"
    for p in params:
        if not (p.role == role or (p.role in WIDTHS and role in WIDTHS)):
            continue
        if _same(vals, p.values):
            return p.name
        pints = _ints(p.values)
        if ints is None or pints is None or any(x is None for x in pints):
            continue
        for k in range(2, MAX_FACTOR + 1):
            if _same(ints, [k * x for x in pints]):
                return f"{k} * {p.name}"
            if all(x % k == 0 for x in pints) and _same(ints, [x // k for x in pints]):
                return f"{p.name} // {k}"
    return None


def unify(tid: int, base: str, instances: list[Instance], bodies: list[tuple[Stmt, ...]],
          signatures: dict[int, Signature]) -> Template:
    """One block for ``instances`` (their bodies alike): its slot texts, parameters and
    each instance's arguments."""
    per = [body_slots(b) for b in bodies]
    in_c = [i.in_type.dims[0] for i in instances]
    names = Names()
    params: list[_Param] = []
    texts: list[str | None] = []
    for j, col in enumerate(zip(*per)):
        first = col[0]
        vals = [None if s.free else s.value for s in col]
        known = [v for v in vals if v is not None] or [first.value]
        if first.kind == "attr":
            if not any(s.shown for s in col):
                texts.append(None)
                continue
            role = ROLE.get(first.name, first.name)
        elif first.kind == "arg":
            p = signatures[int(first.op)].params[int(first.name)]
            if p.has_default and all(v == p.default for v in known):
                texts.append(None)
                continue
            role = re.sub(r"\d+$", "", p.name) or "v"
        else:
            role = "n"
        if all(v == known[0] for v in known):  # the same everywhere: a number
            texts.append("in_c" if _depthwise(per, j, role, in_c) else
                         attr_literal(first.op, first.name, known[0]) if first.kind == "attr"
                         else literal(known[0]))
            continue
        text = _relation(vals, role, params, in_c)
        if text is None:
            text = names.short(role)
            params.append(_Param(text, role, vals))
        texts.append(text)
    sig_params, args = _signature(params, len(instances))
    return Template(tid, base, instances, bodies[0], texts, Signature(base, sig_params), args)


def _depthwise(per: list[list[Slot]], j: int, role: str, in_c: list[int]) -> bool:
    """Whether slot ``j`` is the width or groups of a depthwise conv of the block's
    input (groups = in_c, and the width too): written ``in_c``."""
    if role not in ("c", "groups"):
        return False
    slots = per[0]
    mine = [k for k, s in enumerate(slots) if s.layer == slots[j].layer >= 0]
    groups = [k for k in mine if slots[k].name == "groups"]
    return bool(groups) and all(
        p[k].value == c != 1 and p[j].value == c for p, c in zip(per, in_c) for k in groups)


def _signature(params: list[_Param], n: int) -> tuple[tuple[Param, ...], list[tuple]]:
    """The parameters (required first, then those with a default: the value most
    instances take) and each instance's arguments."""
    made = []
    for p in params:
        known = [v for v in p.values if v is not None]
        value, count = Counter(map(_key, known)).most_common(1)[0] if known else (None, 0)
        default = next((v for v in known if _key(v) == value), None)
        usual = p.role not in ("c", "n")  # widths and counts are the point
        made.append(Param(p.name, default, usual and count >= 2 and 2 * count > len(known),
                          p.role))
    order = sorted(range(len(params)), key=lambda k: made[k].has_default)
    sig = tuple(made[k] for k in order)
    args = []
    for i in range(n):
        row = []
        for k in order:
            v = params[k].values[i]
            if v is None:
                v = made[k].default if made[k].has_default else next(
                    (x for x in params[k].values if x is not None), 0)
            row.append(v)
        args.append(tuple(row))
    return sig, args


def _key(v: Any) -> Any:
    return (type(v).__name__, v)
