"""The abstract syntax tree: small frozen dataclasses, each with its source span.

Expressions are shared by layers and integers (see grammars/cnn.lark); the elaborator
gives them meaning by context.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..diagnostics import Source, Span


@dataclass(frozen=True)
class Node:
    span: Span = field(compare=False, repr=False)

    @property
    def text(self) -> str:
        """The exact source text of this node (one line, or the first line of it)."""
        s = self.span
        if s.line == s.end_line:
            return s.source.line(s.line)[s.col - 1 : s.end_col - 1]
        lines = s.source.lines[s.line - 1 : s.end_line]
        if not lines:
            return ""
        lines[0] = lines[0][s.col - 1 :]
        lines[-1] = lines[-1][: s.end_col - 1] if len(lines) > 1 else lines[-1]
        return " ".join(x.strip() for x in lines)


# ---------------------------------------------------------------- expressions
@dataclass(frozen=True)
class Expr(Node):
    pass


@dataclass(frozen=True)
class Name(Expr):
    id: str


@dataclass(frozen=True)
class Num(Expr):
    value: int | float


@dataclass(frozen=True)
class Str(Expr):
    value: str


@dataclass(frozen=True)
class ShapeLit(Expr):
    dims: tuple[int, ...]


@dataclass(frozen=True)
class Arg(Node):
    name: str | None  # None for positional
    value: Expr


@dataclass(frozen=True)
class Call(Expr):
    func: Name
    args: tuple[Arg, ...]


@dataclass(frozen=True)
class Seq(Expr):
    """``a - b -> c , d + e``: layers in sequence, or integer +/- arithmetic."""

    items: tuple[Expr, ...]
    ops: tuple[str, ...]  # len(items) - 1 separators as written


@dataclass(frozen=True)
class Alt(Expr):
    """``a | b | c``: parallel branches, the argument of a merge (concat, add, mul)."""

    branches: tuple[Expr, ...]


@dataclass(frozen=True)
class BinOp(Expr):
    """``x * n`` (repetition or product), ``/``, ``//``, ``%``."""

    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Neg(Expr):
    value: Expr


@dataclass(frozen=True)
class Optional(Expr):
    """``X?``: present by default; the binding ``X?=false`` removes it."""

    value: Expr


@dataclass(frozen=True)
class Label(Expr):
    """``X as name``: the tensor X produces, reusable later by its name."""

    value: Expr
    name: str


@dataclass(frozen=True)
class Group(Expr):
    value: Expr


@dataclass(frozen=True)
class VggConv(Expr):
    """``conv3-64``: the VGG paper's notation (kernel, filters)."""

    kernel: int
    width: int


@dataclass(frozen=True)
class VggFc(Expr):
    """``FC-4096``."""

    width: int


# ---------------------------------------------------------------- statements
@dataclass(frozen=True)
class Domain(Node):
    """The values a family's parameter ranges over: the whole numbers ``low..high``
    (both included), or the ``choices`` of ``{32, 64, 128}`` (numbers, true/false,
    names as strings). A range is never materialized: ``1..10**9`` is two numbers."""

    low: int = 0
    high: int = -1
    choices: tuple[bool | int | float | str, ...] | None = None

    @property
    def size(self) -> int:
        """How many values (any size: ``len()`` stops at 2^63)."""
        return len(self.choices) if self.choices is not None else max(0, self.high - self.low + 1)

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, i: int) -> bool | int | float | str:
        if self.choices is not None:
            return self.choices[i]
        if not 0 <= i < self.size:
            raise IndexError(i)
        return self.low + i

    def __contains__(self, value: object) -> bool:
        if self.choices is None:
            return (isinstance(value, (int, float)) and not isinstance(value, bool)
                    and value == int(value) and self.low <= value <= self.high)
        return any(same_value(value, c) for c in self.choices)

    def __str__(self) -> str:
        if self.choices is None:
            return f"{self.low}..{self.high}"
        return "{" + ", ".join(_show(c) for c in self.choices) + "}"


def same_value(a: object, b: object) -> bool:
    """Values as bindings compare them: names ignore case, a bool is not a number."""
    if isinstance(a, str) and isinstance(b, str):
        return a.lower() == b.lower()
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return type(a) is not str and type(b) is not str and a == b


def _show(value: bool | int | float | str) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


@dataclass(frozen=True)
class Param(Node):
    name: str
    default: Expr | None
    domain: Domain | None = None  # a family's range or choices (`N=2 in 1..5`)


@dataclass(frozen=True)
class Not(Expr):
    value: Expr


@dataclass(frozen=True)
class Stmt(Node):
    pass


@dataclass(frozen=True)
class Import(Stmt):
    path: str


@dataclass(frozen=True)
class InputStmt(Stmt):
    dims: tuple[Expr, ...]


@dataclass(frozen=True)
class Let(Stmt):
    name: str
    value: Expr


@dataclass(frozen=True)
class ChainStmt(Stmt):
    value: Expr


@dataclass(frozen=True)
class BlockDef(Stmt):
    name: str
    params: tuple[Param, ...]
    body: tuple[Stmt, ...]  # Let and ChainStmt lines, sequenced


@dataclass(frozen=True)
class NetworkDef(Stmt):
    name: str | None
    params: tuple[Param, ...]
    body: tuple[Stmt, ...]  # InputStmt, Let and ChainStmt lines


@dataclass(frozen=True)
class Preset(Stmt):
    """``preset NAME(k=v, ...)``: a named binding of the network's parameters."""

    name: str
    args: tuple[Arg, ...]


@dataclass(frozen=True)
class Program(Node):
    source: Source = field(compare=False, repr=False)
    imports: tuple[Import, ...]
    blocks: tuple[BlockDef, ...]
    network: NetworkDef | None
    presets: tuple[Preset, ...] = ()
