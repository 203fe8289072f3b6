"""Which conditional parts of a family's source some member builds (lint W0801).

A conditional part is a branch of ``if(test, ...)`` or a repetition ``X*K`` whose test
or count reads a dimension of the family. A part that no member builds is dead design
space:
``if(K > 2, fc(64))`` with ``K in 0..2``, ``(FC-RELU)*K`` with ``K in {0}``. A node was
built by a part when its own span, or the span of a block call on its way (its scope),
lies inside the part's span. Parts that build nothing by nature (``id``, a tensor name)
are not judged, nor are values: an operator's arguments (``conv(if(m > 1, 16, 8))``),
arithmetic, and a name the program declares (a parameter, a ``NAME = ...`` line, a
block's parameter, a built-in default such as ``channels``) even where a layer has that
name (``dropout * m``). A parameter holding a layer (``norm=bn``) builds nodes spanning
its default, not the part, so a part that only names it cannot be judged by spans.

NOTE: the elaborator inlines a block whose body is one layer (``block single(c) =
conv(c, 1)``): its node carries the body's span and no frame records the call, so the
call's position would be lost. The members are walked from a copy of the program whose
one-layer bodies are parenthesized (``(conv(c, 1))``): the same layers, each call now a
scope frame with its span. Only this walk sees the copy; nothing compiled elsewhere
changes.

Only members that compile are walked (an invalid one has no graph): a part that only
they would build is reported with how many there were, as a sample is with its size.

>>> from cnndsl.family import Family
>>> fam = Family("network f(K in 0..2):\\n  input 1x8x8\\n  conv(4) - if(K > 2, conv(4)) - gap - fc(2)")
>>> [(d.code, d.span.col) for d in dead_parts(fam)]
[('W0801', 23)]
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass, replace

from .. import ops
from ..diagnostics import Diagnostic, Span
from ..elaborate import builtins
from ..elaborate.env import BUILTIN_DEFAULTS
from ..syntax import ast
from .members import Family, Member

SAMPLE = 2_000  # members walked at most (a larger space is sampled)


def dead_parts(family: Family, sample: int = SAMPLE) -> list[Diagnostic]:
    """W0801 for each conditional part of the program's own text that no member of the
    family builds (judged on ``sample`` members drawn at random where there are more)."""
    dims = {d.name for d in family.space.dims}
    parts = [part for part, values in _conditional_parts(family.program, dims)
             if _builds_layers(part, family, values)]
    if not parts:
        return []
    size = family.space.size
    drawn = None if size <= sample else sample
    seen: set[tuple[int, int]] = set()  # (line, col) of spans that built something
    walk = _Walk(size, drawn is not None)
    for member in _framed(family).members(drawn, seed=0, invalid=True, unique=False):
        walk.count(member)
        if member.network is None:
            continue
        for node in member.network.graph.nodes:
            for s in (node.span, *(f.span for f in node.scope)):
                if s is not None and s.source.name == family.program.source.name:
                    seen.add((s.line, s.col))
    if not walk.valid:
        return []  # no valid member: the errors say more than a lint could
    names = ", ".join(d.name for d in family.space.dims)
    return [Diagnostic("W0801", f"`{_short(part.text)}` is not built by {walk.members()}",
                       part.span, help=walk.help(names))
            for part in parts if not any(_inside(pos, part.span) for pos in seen)]


@dataclass
class _Walk:
    """The members a coverage walk saw: how many, how many failed to compile (the first
    such binding, for the help), and whether they were a sample of ``size``."""

    size: int
    sampled: bool
    walked: int = 0
    invalid: int = 0
    example: str = ""  # the first invalid member's binding, `K=1 N=2`

    def count(self, member: Member) -> None:
        self.walked += 1
        if member.network is None:
            self.invalid += 1
            self.example = self.example or " ".join(
                f"{k}={v}" for k, v in member.bindings.items())

    @property
    def valid(self) -> int:
        return self.walked - self.invalid

    def members(self) -> str:
        """Which members were judged: ``any of the family's 6 members``."""
        if not self.sampled:
            if not self.invalid:
                return f"any of the family's {_plural(self.walked, 'member')}"
            return (f"any of the family's {_plural(self.valid, 'valid member')} "
                    f"({self.invalid:,} of its {self.size:,} fail to compile)")
        if not self.invalid:
            return f"any of {self.walked:,} members sampled from {self.size:,}"
        return (f"any of the {_plural(self.valid, 'valid member')} of {self.walked:,} "
                f"sampled from {self.size:,} ({self.invalid:,} fail to compile)")

    def help(self, names: str) -> str:
        """What the walk shows, and no more: a member that failed to compile, or one not
        drawn, may build the part."""
        if not self.sampled and not self.invalid:
            return f"no binding of {names} turns it on: widen a range, or remove the part"
        which = "no sampled binding" if self.sampled else "no binding"
        where = " in a member that compiles" if self.invalid else ""
        maybe = []
        if self.invalid:
            maybe.append(f"members that fail to compile (e.g. {self.example})")
        if self.sampled:
            maybe.append(f"the {self.size - self.walked:,} members not sampled")
        fix = "fix those members, " if self.invalid else ""
        return (f"{which} of {names} turns it on{where}; it may be built only by "
                f"{' or '.join(maybe)}: {fix}widen a range, or remove the part")


def _plural(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'s' if n != 1 else ''}"


def _framed(family: Family) -> Family:
    """``family`` walking a copy of its program whose one-layer blocks are parenthesized,
    so that the elaborator gives each call a scope frame with its span (see the NOTE)."""
    if not any(_one_layer(b) for b in family.program.blocks):
        return family
    blocks = tuple(replace(b, body=(replace(b.body[0], value=ast.Group(
        b.body[0].value.span, b.body[0].value)),)) if _one_layer(b) else b
        for b in family.program.blocks)
    framed = copy.copy(family)
    framed.program = replace(family.program, blocks=blocks)
    return framed


def _one_layer(block: ast.BlockDef) -> bool:
    """Whether the elaborator may inline the block: one chain of one name or call."""
    return (len(block.body) == 1 and isinstance(block.body[0], ast.ChainStmt)
            and isinstance(block.body[0].value, (ast.Call, ast.Name)))


def _conditional_parts(program: ast.Program, dims: set[str]
                       ) -> Iterator[tuple[ast.Expr, frozenset[str]]]:
    """The branches of ``if`` whose test, and the repetitions whose count, read one of
    the family's dimensions ``dims`` (a part a fixed parameter controls is not the
    family's to judge), each with the names that are values where it is written."""
    net = program.network
    network_values = _declared(net) if net else frozenset()
    scopes = [(b.body, network_values | _declared(b)) for b in program.blocks]
    scopes += [(net.body, network_values)] if net else []
    for body, values in scopes:
        for stmt in body:
            for part in _parts_of(getattr(stmt, "value", None), dims):
                yield part, values


def _parts_of(expr: ast.Expr | None, dims: set[str]) -> Iterator[ast.Expr]:
    """The conditional parts inside one line's expression."""
    todo: list = [expr]
    while todo:
        n = todo.pop()
        if isinstance(n, tuple):
            todo.extend(n)
            continue
        if not isinstance(n, ast.Node):
            continue
        if isinstance(n, ast.Call) and _operator(n.func.id):
            continue  # its arguments are numbers and words (`conv(if(m > 1, 16, 8))`)
        if isinstance(n, ast.Call) and n.func.id.lower() == "if" and n.args and \
                _names(n.args[0].value) & dims:
            yield from (a.value for a in n.args[1:3] if a.name is None)
        elif isinstance(n, ast.BinOp) and n.op == "*" and (
                _names(n.left) & dims or _names(n.right) & dims):
            yield n  # the repetition (arithmetic builds nothing and is not judged)
        todo.extend(getattr(n, f) for f in n.__dataclass_fields__ if f != "span")


def _declared(defn: ast.NetworkDef | ast.BlockDef) -> frozenset[str]:
    """The names that hold values in a network's or block's body: its parameters, its
    ``NAME = ...`` lines and the built-in defaults (``channels``)."""
    lets = {s.name for s in defn.body if isinstance(s, ast.Let)}
    return frozenset({p.name for p in defn.params} | lets | set(BUILTIN_DEFAULTS))


def _operator(name: str) -> bool:
    """Whether a call of ``name`` is an operator (``conv``), whose arguments are values,
    rather than a block or a built-in such as ``residual``, whose arguments are layers
    (a block cannot take an operator's name, E0405)."""
    return name.lower() != "if" and builtins.lookup(name) is None and \
        ops.lookup(name) is not None


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


def _builds_layers(part: ast.Expr, family: Family, values: frozenset[str] = frozenset()
                   ) -> bool:
    """Whether the part names a layer or block (an arithmetic product or ``id`` does not,
    nor does a name in ``values``, which holds a number or a parameter's layer)."""
    blocks = {b.name.lower() for b in family.program.blocks}
    todo: list = [part]
    while todo:
        n = todo.pop()
        if isinstance(n, tuple):
            todo.extend(n)
        elif isinstance(n, (ast.VggConv, ast.VggFc)):
            return True
        elif isinstance(n, ast.Call) and n.args:  # `norm(...)` calls the layer, not the value
            if n.func.id.lower() != "if" and _layer(n.func.id, blocks):
                return True
            todo.append(n.args)
        elif isinstance(n, ast.Name):
            if n.id not in values and _layer(n.id, blocks):
                return True
        elif isinstance(n, ast.Node):
            todo.extend(getattr(n, f) for f in n.__dataclass_fields__ if f != "span")
    return False


def _layer(name: str, blocks: set[str]) -> bool:
    key = name.lower()
    return key not in ("id", "identity") and bool(
        key in blocks or ops.lookup(key) or builtins.lookup(key))


def _inside(pos: tuple[int, int], span: Span) -> bool:
    return (span.line, span.col) <= pos < (span.end_line, span.end_col)


def _short(text: str) -> str:
    return text if len(text) <= 40 else text[:37] + "..."
