"""One layer as the language writes it: its leading attributes positional
(``conv(64, 3)``), the others by keyword, and an attribute left out where the
operator's own default resolves to the node's value (a 3x3 conv's padding 1, a pool's
stride equal to its kernel).

Everything is read from the operator's schema (:func:`cnndsl.ops.lookup`: its
attributes, defaults and ``resolve``), so plugin operators are written the same way.

>>> from cnndsl import compile
>>> g = compile("input 3x32x32\\nconv(16, 3, stride=2, bias=false) - maxpool(3, stride=2) - dropout(0.25)").graph
>>> [layer_text(n, [g[i].type for i in n.inputs]) for n in list(g)[1:]]
['conv(16, 3, stride=2, bias=false)', 'maxpool(3, stride=2)', 'dropout(0.25)']
>>> literal((1, 1, 0, 2)), literal((3, 3)), literal((1, 7)), literal(1e-05), literal(False)
('1x1x0x2', '3', '1x7', '1e-05', 'false')
>>> literal(0.111111111111), literal(0.375)
('1 / 9', '0.375')
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from fractions import Fraction
from typing import Any

from .. import ops
from ..ir.graph import Node, TensorType
from ..ops.schema import REQUIRED, Attr, OpDef, ShapeError
from .common import ImportFailure

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def opdef(name: str) -> OpDef:
    op = ops.lookup(name)
    if op is None:
        raise ImportFailure(f"no operator {name!r}")
    return op


def _required(a: Attr) -> bool:
    return a.default is REQUIRED or callable(a.default)


def leading(op: OpDef) -> tuple[str, ...]:
    """The attributes always written, positionally: the required ones (a conv's width)
    and, after them, the first optional one that is a size (its kernel)."""
    out = [a.name for a in op.attrs if _required(a)]
    rest = [a for a in op.attrs if not _required(a) and a.positional]
    if out and rest and rest[0].kind in ("int", "pair"):
        out.append(rest[0].name)
    return tuple(out)


def main(op: OpDef) -> tuple[str, ...]:
    """The attributes written positionally when given: the leading ones, or else the
    first one where it is a size or the operator's only attribute (``maxpool(3)``,
    ``dropout(0.2)``; a batch norm's ``eps`` is a keyword)."""
    lead = leading(op)
    if lead:
        return lead
    usable = [a for a in op.attrs if a.positional]
    if usable and (usable[0].kind in ("int", "pair") or len(op.attrs) == 1):
        return (usable[0].name,)
    return ()


def _defaulted(a: Attr) -> Any:
    v = a.default
    return (v, v) if a.kind == "pair" and isinstance(v, int) else v


def resolved(op: OpDef, given: Mapping[str, Any], types: Sequence[TensorType]) -> dict | None:
    """The attributes the compiler gives a node of ``op`` written with ``given`` (the
    rest defaulted), as the node holds them; None where they do not resolve."""
    attrs: dict[str, Any] = {}
    for a in op.attrs:
        if a.name in given:
            attrs[a.name] = given[a.name]
        elif _required(a):
            return None
        else:
            attrs[a.name] = _defaulted(a)
    try:
        attrs = op.resolve(attrs, list(types))
    except (ShapeError, KeyError, TypeError, ValueError, IndexError):
        return None
    return {k: v for k, v in attrs.items() if v is not None and k[:1] != "_"}


def shown(node: Node, types: Sequence[TensorType]) -> frozenset[str]:
    """The fewest attributes to write for ``node``: the leading ones, then (in schema
    order) each one whose default does not resolve to the node's value. An attribute
    that is not an argument (the softmax classifier's ``head``) is the compiler's to
    set: the writer puts the layer where it sets it."""
    op = opdef(node.op)
    want = dict(node.attrs)
    fixed = {a.name: want[a.name] for a in op.attrs if not a.positional and a.name in want}
    given = {name: want[name] for name in leading(op) if name in want}

    def wrong(given: dict) -> list[str] | None:
        got = resolved(op, {**given, **fixed}, types)
        if got == want:
            return None
        return [a.name for a in op.attrs if a.name not in given and a.name in want
                and a.name not in fixed and (got is None or got.get(a.name) != want[a.name])]
    for _ in range(len(op.attrs) + 1):
        left = wrong(given)
        if left is None:
            return frozenset(given)
        if not left:
            break
        # the attribute that puts the most others right (a dilation, before the padding
        # it makes)
        best = min(left, key=lambda k: len(wrong({**given, k: want[k]}) or ()))
        given[best] = want[best]
    raise ImportFailure(f"{node.op} with {_show(want)} cannot be written in the language",
                        node.path)


def _show(attrs: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={literal(v)}" for k, v in attrs.items()) or "no attributes"


def attr_literal(op: str, attr: str, v: Any) -> str:
    """An attribute's value as source text: a choice of the schema's (``bilinear``)
    as a name, any other string quoted."""
    a = opdef(op).attr(attr)
    return literal(v, bare=a is not None and bool(a.choices))


def literal(v: Any, bare: bool = False) -> str:
    """A value as source text: ``3`` for a square pair, ``1x7``, ``1x1x0x2`` for four
    sides, ``true``, ``1e-05``, a string quoted (``bare``: a name where it is one)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if v.is_integer() and abs(v) < 1e15:
            return str(int(v))
        return _fraction(v) or repr(v)
    if isinstance(v, tuple):
        if len(v) == 2 and v[0] == v[1]:
            return literal(v[0])
        if len(v) == 4 and v[0] == v[1] and v[2] == v[3]:
            return literal((v[0], v[2]))
        if all(isinstance(x, int) and x >= 0 for x in v):
            return "x".join(str(x) for x in v)
        raise ImportFailure(f"the value {v!r} cannot be written")
    if isinstance(v, str):
        if bare and _IDENT.match(v):
            return v
        for q in ('"', "'"):
            if q not in v and "\n" not in v and "\r" not in v:
                return f"{q}{v}{q}"
        raise ImportFailure(f"the string {v[:40]!r} cannot be written")
    raise ImportFailure(f"the value {v!r} cannot be written")


def _fraction(v: float) -> str | None:
    """A long decimal as the fraction it is (``1 / 9`` for 0.111111111111), where a
    small one gives the value as the compiler keeps it (rounded to 12 places)."""
    if len(repr(v)) <= 8:
        return None
    f = Fraction(v).limit_denominator(1000)
    if f.denominator > 1 and round(f.numerator / f.denominator, 12) == v:
        return f"{f.numerator} / {f.denominator}"
    return None


def call_text(op: OpDef, args: Sequence[tuple[str, str]],
              positional: Callable[[str, str], bool] | None = None) -> str:
    """``op(...)`` with ``args`` (attribute, text) in schema order: positional while
    they are the operator's main attributes (or ``positional(name, text)`` says so) and
    none before them is left out, keywords after."""
    names = [a.name for a in op.attrs if a.positional]
    first = set(main(op))
    given = dict(args)
    parts, by_position = [], True
    for name in [a.name for a in op.attrs]:
        if name not in given:
            by_position = by_position and name not in names
            continue
        text = given[name]
        if by_position and name in names and (
                name in first or (positional is not None and positional(name, text))):
            parts.append(text)
        else:
            by_position = False
            parts.append(f"{name}={text}")
    return f"{op.name}({', '.join(parts)})" if parts else op.name


def layer_text(node: Node, types: Sequence[TensorType]) -> str:
    """The node as one layer of source, its attributes at their defaults left out."""
    op = opdef(node.op)
    values = dict(node.attrs)
    keep = shown(node, types)
    return call_text(op, [(a.name, attr_literal(node.op, a.name, values[a.name]))
                          for a in op.attrs if a.name in keep])
