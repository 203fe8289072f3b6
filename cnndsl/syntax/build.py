"""The AST built while parsing: one callback per grammar rule, called by Lark's LALR
parser as it reduces (no parse tree is built and then walked).

NOTE: spans. The parser keeps every token (``keep_all_tokens``), brackets and ``=``
included, so a node's span runs from its first token to its last: ``conv(64, 3)``
covers the closing parenthesis. Tokens carry their positions; a node's children are
tokens, AST nodes (with ``.span``) or None (an absent optional part).
"""

from __future__ import annotations

import math

from lark import Token, Transformer

from ..diagnostics import Diagnostic, Source, Span
from . import ast

MAX_INT = 2**63 - 1  # what a number may be on its way to PyTorch's int64 arguments


def token_span(source: Source, tok: Token) -> Span:
    line = tok.line or 1
    col = tok.column or 1
    end_line = tok.end_line or line
    end_col = tok.end_column or col + max(len(tok), 1)
    if end_line != line:
        end_line, end_col = line, col + 1
    return Span(source, line, col, end_line, end_col)


def _first(x) -> tuple[int, int]:
    return (x.line, x.column) if isinstance(x, Token) else (x.span.line, x.span.col)


def _last(x) -> tuple[int, int]:
    if isinstance(x, Token):
        return x.end_line, x.end_column
    return x.span.end_line, x.span.end_col


def _nodes(c: list) -> list:
    """The children that are AST nodes (tokens and placeholders left out)."""
    return [x for x in c if isinstance(x, ast.Node)]


class AstBuilder(Transformer):
    """Lark's callbacks: ``rule(children) -> ast node``. :attr:`source` is set before
    each parse; :attr:`errors` collects literals that are out of range."""

    def __init__(self) -> None:
        super().__init__()
        self.source = Source("<input>", "")
        self.errors: list[Diagnostic] = []

    def _span(self, c: list) -> Span:
        present = [x for x in c if x is not None]
        (line, col), (end_line, end_col) = _first(present[0]), _last(present[-1])
        return Span(self.source, line, col, end_line, end_col)

    def _tok(self, tok: Token) -> Span:
        return token_span(self.source, tok)

    # ---------------------------------------------------------------- atoms
    def name(self, c):
        return ast.Name(self._tok(c[0]), str(c[0]))

    def member(self, c):  # NAME "." NAME: a tensor named inside a labelled block call
        return ast.Name(self._span(c), f"{c[0]}.{c[2]}")

    def int(self, c):
        return self.number(c[0])

    def number(self, tok: Token) -> ast.Num:
        text = str(tok).lstrip("0") or "0"
        if len(text) > 19 or int(text) > MAX_INT:
            return self._too_big(tok)
        return ast.Num(self._tok(tok), int(text))

    def float(self, c):
        value = float(c[0])
        if not math.isfinite(value):
            return self._too_big(c[0])
        return ast.Num(self._tok(c[0]), value)

    def _too_big(self, tok: Token) -> ast.Num:
        shown = str(tok) if len(tok) <= 24 else f"{str(tok)[:20]}... ({len(tok)} characters)"
        self.errors.append(Diagnostic("E0114", f"the number {shown} is too large",
                                      self._tok(tok), help="numbers must be finite and below "
                                      "2^63"))
        return ast.Num(self._tok(tok), 0)

    def string(self, c):
        return ast.Str(self._tok(c[0]), str(c[0])[1:-1])

    def shape(self, c):
        parts = str(c[0]).replace("×", "x").split("x")
        if any(len(x.lstrip("0")) > 18 for x in parts):
            self._too_big(c[0])
            return ast.ShapeLit(self._tok(c[0]), (1,) * len(parts))
        return ast.ShapeLit(self._tok(c[0]), tuple(int(x) for x in parts))

    def vgg_conv(self, c):
        k, w = str(c[0])[4:].split("-")
        if max(len(k), len(w)) > 18:
            self._too_big(c[0])
            return ast.VggConv(self._tok(c[0]), 1, 1)
        return ast.VggConv(self._tok(c[0]), int(k), int(w))

    def vgg_fc(self, c):
        width = str(c[0]).split("-")[1]
        if len(width) > 18:
            self._too_big(c[0])
            width = "1"
        return ast.VggFc(self._tok(c[0]), int(width))

    def soft_max(self, c):
        return ast.Name(self._tok(c[0]), "softmax")

    def call(self, c):  # NAME "(" [args] ")"
        fn = ast.Name(self._tok(c[0]), str(c[0]))
        return ast.Call(self._span(c), fn, tuple(c[2]) if c[2] is not None else ())

    def args(self, c):
        return [a if isinstance(a, ast.Arg) else ast.Arg(a.span, None, a) for a in _nodes(c)]

    def kwarg(self, c):  # NAME "=" expr
        return ast.Arg(self._span(c), str(c[0]), c[2])

    def group(self, c):  # "(" chain ")"
        return ast.Group(self._span(c), c[1])

    def optional(self, c):  # postfix "?"
        return ast.Optional(self._span(c), c[0])

    def label(self, c):  # postfix AS NAME
        return ast.Label(self._span(c), c[0], str(c[2]))

    def neg(self, c):  # MINUS unary
        return ast.Neg(self._span(c), c[1])

    def binop(self, c):  # postfix (op postfix)*
        node = c[0]
        for i in range(1, len(c), 2):
            right = c[i + 1]
            span = Span(self.source, node.span.line, node.span.col, right.span.end_line,
                        right.span.end_col)
            node = ast.BinOp(span, str(c[i]).lower(), node, right)  # `AND` is `and`
        return node

    def compare(self, c):  # seq CMP seq
        return self.binop(c)

    def logic(self, c):  # operand (AND operand)*, or OR
        return self.binop(c)

    def not_(self, c):  # NOT operand
        return ast.Not(self._span(c), c[1])

    def seq(self, c):  # unary (op unary)*
        if len(c) == 1:
            return c[0]
        return ast.Seq(self._span(c), tuple(c[0::2]), tuple(str(t) for t in c[1::2]))

    def alt(self, c):  # seq ("|" seq)*
        if len(c) == 1:
            return c[0]
        return ast.Alt(self._span(c), tuple(c[0::2]))

    # ---------------------------------------------------------------- statements
    def param(self, c):  # NAME ["=" expr] [IN domain]
        default = c[2] if len(c) > 2 and isinstance(c[2], ast.Expr) else None
        domain = c[-1] if isinstance(c[-1], ast.Domain) else None
        return ast.Param(self._span(c), str(c[0]), default, domain)

    def bound(self, c):  # INT | FLOAT | MINUS (INT | FLOAT): a range's end, a whole number
        tok = c[-1]
        if tok.type == "FLOAT":
            self.errors.append(Diagnostic(
                "E0205", f"a range's ends are whole numbers, got {'-' * (len(c) == 2)}{tok}",
                self._span(c),
                help="for other values, list them as choices: `in {0.5, 1.0, 1.5}`"))
            num = ast.Num(self._tok(tok), 0)
        else:
            num = self.number(tok)
        return ast.Num(self._span(c), -num.value) if len(c) == 2 else num

    def range(self, c):  # bound DOTDOT bound
        return ast.Domain(self._span(c), c[0].value, c[2].value)

    def choice(self, c):  # INT | FLOAT | MINUS number | NAME | STRING: a value, with a span
        tok = c[-1]
        if tok.type == "NAME":
            low = str(tok).lower()
            value = {"true": True, "false": False}.get(low, str(tok))
            return ast.Str(self._span(c), value) if isinstance(value, str) else \
                ast.Num(self._span(c), value)
        if tok.type == "STRING":
            return self.string([tok])
        num = self.number(tok) if tok.type == "INT" else self.float([tok])
        return ast.Num(self._span(c), -num.value) if len(c) == 2 else num

    def choices(self, c):  # "{" choice ("," choice)* "}"
        values = [x.value for x in _nodes(c)]
        unique = [v for i, v in enumerate(values)
                  if not any(ast.same_value(v, w) for w in values[:i])]
        return ast.Domain(self._span(c), choices=tuple(unique))

    def params(self, c):  # "(" [param ("," param)*] ")"
        return tuple(p for p in c if isinstance(p, ast.Param))

    def import_stmt(self, c):
        return ast.Import(self._span(c), str(c[1])[1:-1])

    def block_def(self, c):  # BLOCK NAME [params] "=" chain
        body = (ast.ChainStmt(c[4].span, c[4]),)
        return ast.BlockDef(self._span(c), str(c[1]), c[2] or (), body)

    def block_header(self, c):  # BLOCK NAME [params] ":"
        return ast.BlockDef(self._span(c), str(c[1]), c[2] or (), ())

    def network_header(self, c):  # NETWORK NAME [params] ":"
        return ast.NetworkDef(self._span(c), str(c[1]), c[2] or (), ())

    def input_stmt(self, c):  # INPUT (SHAPE | INT | "(" args ")")
        val = c[1]
        if isinstance(val, Token) and val.type == "SHAPE":
            lit = self.shape([val])
            dims = tuple(ast.Num(lit.span, d) for d in lit.dims)
        elif isinstance(val, Token) and val.type == "INT":
            dims = (self.number(val),)
        else:
            dims = tuple(a.value for a in c[2])
        return ast.InputStmt(self._span(c), dims)

    def preset_stmt(self, c):  # PRESET NAME "(" [args] ")"
        return ast.Preset(self._span(c), str(c[1]), tuple(c[3]) if c[3] is not None else ())

    def input_chain(self, c):  # INPUT [SHAPE | INT] _seq_op chain
        chain = ast.ChainStmt(c[-1].span, c[-1])
        if c[1] is None:  # no shape: the default (or --input), with a note
            return [ast.InputStmt(self._tok(c[0]), ()), chain]
        return [self.input_stmt(c[:2]), chain]

    def let_stmt(self, c):  # NAME "=" chain
        return ast.Let(self._span(c), str(c[0]), c[2])

    def chain_stmt(self, c):
        return ast.ChainStmt(c[0].span, c[0])

    def start(self, c):
        lines = [y for x in c for y in (x if isinstance(x, list) else [x])]
        return [x for x in lines if isinstance(x, ast.Stmt)]
