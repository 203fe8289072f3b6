"""Which conditional parts of a family's source some member builds (lint W0801).

A conditional part is a branch of ``if(test, ...)`` or a repetition ``X*K`` whose test
or count reads a dimension of the family. A part that no member builds is dead design
space:
``if(K > 2, fc(64))`` with ``K in 0..2``, ``(FC-RELU)*K`` with ``K in {0}``. A node was
built by a part when its own span, or the span of a block call on its way (its scope),
lies inside the part's span. Parts that build nothing by nature (``id``, a tensor name)
are not judged.

>>> from cnndsl.family import Family
>>> fam = Family("network f(K in 0..2):\\n  input 1x8x8\\n  conv(4) - if(K > 2, conv(4)) - gap - fc(2)")
>>> [(d.code, d.span.col) for d in dead_parts(fam)]
[('W0801', 23)]
"""

from __future__ import annotations

from collections.abc import Iterator

from .. import ops
from ..diagnostics import Diagnostic, Span
from ..elaborate import builtins
from ..syntax import ast
from .members import Family

SAMPLE = 2_000  # members walked at most (a larger space is sampled)


def dead_parts(family: Family, sample: int = SAMPLE) -> list[Diagnostic]:
    """W0801 for each conditional part of the program's own text that no member of the
    family builds (judged on ``sample`` members drawn at random where there are more)."""
    dims = {d.name for d in family.space.dims}
    parts = [p for p in _conditional_parts(family.program, dims) if _builds_layers(p, family)]
    if not parts:
        return []
    size = family.space.size
    drawn = None if size <= sample else sample
    seen: set[tuple[int, int]] = set()  # (line, col) of spans that built something
    walked = 0
    for member in family.members(drawn, seed=0, unique=False):
        walked += 1
        for node in member.network.graph.nodes:
            for s in (node.span, *(f.span for f in node.scope)):
                if s is not None and s.source.name == family.program.source.name:
                    seen.add((s.line, s.col))
    if not walked:
        return []  # no valid member: the errors say more than a lint could
    out = []
    for part in parts:
        if not any(_inside(pos, part.span) for pos in seen):
            where = (f"any of the family's {walked:,} members" if drawn is None else
                     f"any of {walked:,} members sampled from {size:,}")
            out.append(Diagnostic(
                "W0801", f"`{_short(part.text)}` is not built by {where}", part.span,
                help="no binding of " + ", ".join(d.name for d in family.space.dims) +
                " turns it on: widen a range, or remove the part"))
    return out


def _conditional_parts(program: ast.Program, dims: set[str]) -> Iterator[ast.Expr]:
    """The branches of ``if`` whose test, and the repetitions whose count, read one of
    the family's dimensions ``dims`` (a part a fixed parameter controls is not the
    family's to judge)."""
    stmts = [s for b in program.blocks for s in b.body]
    stmts += list(program.network.body) if program.network else []
    for stmt in stmts:
        todo = [getattr(stmt, "value", None)]
        while todo:
            n = todo.pop()
            if isinstance(n, tuple):
                todo.extend(n)
                continue
            if not isinstance(n, ast.Node):
                continue
            if isinstance(n, ast.Call) and n.func.id.lower() == "if" and n.args and \
                    _names(n.args[0].value) & dims:
                yield from (a.value for a in n.args[1:3] if a.name is None)
            elif isinstance(n, ast.BinOp) and n.op == "*" and (
                    _names(n.left) & dims or _names(n.right) & dims):
                yield n  # the repetition (arithmetic builds nothing and is not judged)
            todo.extend(getattr(n, f) for f in n.__dataclass_fields__ if f != "span")


def _names(e: ast.Node) -> set[str]:
    out, todo = set(), [e]
    while todo:
        n = todo.pop()
        if isinstance(n, tuple):
            todo.extend(n)
        elif isinstance(n, ast.Name):
            out.add(n.id)
        elif isinstance(n, ast.Node):
            todo.extend(getattr(n, f) for f in n.__dataclass_fields__ if f != "span")
    return out


def _builds_layers(part: ast.Expr, family: Family) -> bool:
    """Whether the part names a layer or block (an arithmetic product or ``id`` does not)."""
    blocks = {b.name.lower() for b in family.program.blocks}
    todo: list = [part]
    while todo:
        n = todo.pop()
        if isinstance(n, tuple):
            todo.extend(n)
        elif isinstance(n, (ast.VggConv, ast.VggFc)):
            return True
        elif isinstance(n, ast.Name):
            key = n.id.lower()
            if key not in ("id", "identity") and (key in blocks or ops.lookup(key) or
                                                   builtins.lookup(key)):
                return True
        elif isinstance(n, ast.Node):
            todo.extend(getattr(n, f) for f in n.__dataclass_fields__ if f != "span")
    return False


def _inside(pos: tuple[int, int], span: Span) -> bool:
    return (span.line, span.col) <= pos < (span.end_line, span.end_col)


def _short(text: str) -> str:
    return text if len(text) <= 40 else text[:37] + "..."
