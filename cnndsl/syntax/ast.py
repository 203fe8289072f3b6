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
class Param(Node):
    name: str
    default: Expr | None


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
