"""Text to AST: the Lark LALR parser, a post-lexer for line breaks, and the transformer.

>>> prog = parse("conv(64, 3) - relu - maxpool")
>>> prog.network.body[0].value.items[0].func.id
'conv'
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Iterator
from pathlib import Path

from lark import Lark, Token
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from ..diagnostics import CnnError, Diagnostic, Source, Span
from ..limits import Limits, how_to_raise
from ..pause import paused_gc
from . import ast
from .build import AstBuilder, token_span
from .tables import build_parser

GRAMMAR = Path(__file__).resolve().parent.parent / "grammars" / "cnn.lark"

_OPENERS = {"LPAR": "RPAR", "LSQB": "RSQB", "LBRACE": "RBRACE"}
_CLOSERS = {v: k for k, v in _OPENERS.items()}
_CONTINUES_AFTER = {"MINUS", "ARROW", "COMMA", "PLUS", "STAR", "SLASH", "DSLASH",
                    "PERCENT", "VBAR", "EQUAL"}
_CONTINUES_BEFORE = {"ARROW", "MINUS", "COMMA", "VBAR", "RPAR", "RSQB", "RBRACE"}


class _SyntaxFault(Exception):
    def __init__(self, diagnostic: Diagnostic):
        self.diagnostic = diagnostic


class _LineJoiner:
    """Drops line breaks inside brackets and around sequencing operators.

    Also checks bracket balance, so an unclosed ``(`` is reported where it opens, bounds
    how deep brackets nest, and reads names as Python does (NFKC: a full-width ``ｂ`` is
    ``b``), so two spellings of one name are never two names.
    """

    always_accept = ("_NL",)

    def __init__(self) -> None:
        self.source: Source | None = None
        self.stack: list[Token] = []
        self.max_nesting = Limits().nesting

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        stack: list[Token] = []
        self.stack = stack
        prev: Token | None = None
        pending_nl: Token | None = None
        for tok in stream:
            if tok.type == "_NL":
                if stack or prev is None or prev.type in _CONTINUES_AFTER:
                    continue
                pending_nl = pending_nl or tok
                continue
            if pending_nl is not None:
                if tok.type not in _CONTINUES_BEFORE:
                    yield pending_nl
                pending_nl = None
            if tok.type == "NAME" and not tok.isascii():
                tok = tok.update(value=unicodedata.normalize("NFKC", tok))
            if tok.type in _OPENERS:
                stack.append(tok)
                if len(stack) > self.max_nesting:
                    raise _SyntaxFault(_diag(
                        self.source, tok, "E0011", f"brackets nested more than "
                        f"{self.max_nesting} deep", label="this one is too deep",
                        help=how_to_raise("nesting", self.max_nesting)))
            elif tok.type in _CLOSERS:
                if not stack:
                    raise _SyntaxFault(_diag(self.source, tok, "E0006",
                                             f"unmatched closing `{tok}`",
                                             help="remove it, or add the opening bracket"))
                opener = stack.pop()
                if _OPENERS[opener.type] != tok.type:
                    raise _SyntaxFault(_diag(
                        self.source, tok, "E0006",
                        f"`{tok}` does not close `{opener}` (opened at line {opener.line}, "
                        f"column {opener.column})",
                        help=f"close it with `{_closing(opener)}`"))
            yield tok
            prev = tok
        if stack:
            opener = stack[-1]
            raise _SyntaxFault(_diag(self.source, opener, "E0003",
                                     f"unclosed `{opener}`",
                                     label="opened here and never closed",
                                     help=f"add `{_closing(opener)}` where the group ends"))


def _closing(tok: Token) -> str:
    return {"(": ")", "[": "]", "{": "}"}[str(tok)]


def _tok_span(source: Source | None, tok: Token) -> Span:
    return token_span(source or Source("<input>", ""), tok)


def _diag(source, tok, code, message, help=None, label=None) -> Diagnostic:
    return Diagnostic(code, message, _tok_span(source, tok), help=help, label=label)


@functools.lru_cache(maxsize=1)
def _lark() -> tuple[Lark, _LineJoiner, AstBuilder]:
    """The parser, built once: the AST is made by its callbacks as it reduces."""
    joiner, builder = _LineJoiner(), AstBuilder()
    parser = build_parser(GRAMMAR.read_text(encoding="utf-8"), postlex=joiner,
                          transformer=builder)
    return parser, joiner, builder


# ---------------------------------------------------------------- grouping lines
def _group(source: Source, lines: list[ast.Stmt]) -> ast.Program:
    imports: list[ast.Import] = []
    blocks: list[ast.BlockDef] = []
    network: ast.NetworkDef | None = None
    current: ast.BlockDef | ast.NetworkDef | None = None
    body: list[ast.Stmt] = []
    loose: list[ast.Stmt] = []  # lines before any header: an anonymous network
    presets: dict[str, ast.Preset] = {}
    errors: list[Diagnostic] = []

    def close() -> None:
        nonlocal current, network
        if current is None:
            return
        if isinstance(current, ast.BlockDef):
            if not current.body and not body:
                errors.append(Diagnostic("E0007", f"block `{current.name}` has no body",
                                         current.span, help="write its layers on the lines "
                                         "after the header, or `block name(...) = layers`"))
            blocks.append(ast.BlockDef(current.span, current.name, current.params,
                                       current.body + tuple(body)))
        else:
            network = ast.NetworkDef(current.span, current.name, current.params, tuple(body))
        current = None
        body.clear()

    for line in lines:
        if isinstance(line, ast.Import):
            close()
            imports.append(line)
        elif isinstance(line, ast.BlockDef):
            close()
            if line.body:  # one-line form
                blocks.append(line)
            else:
                current = line
        elif isinstance(line, ast.Preset):
            close()
            _add_preset(presets, line, errors)
        elif isinstance(line, ast.NetworkDef):
            close()
            if network is not None:
                errors.append(Diagnostic("E0008", "a file holds one network",
                                         line.span, help="put the other network in its "
                                         "own file and `import` shared blocks"))
            current = line
        elif current is not None:
            if isinstance(line, ast.InputStmt) and isinstance(current, ast.BlockDef):
                errors.append(Diagnostic("E0009", "`input` belongs to a network, not a block",
                                         line.span))
            body.append(line)
        else:
            loose.append(line)
    close()
    if loose:
        if network is not None:
            errors.append(Diagnostic("E0008", "layers outside the network", loose[0].span,
                                     help="move these lines under the `network` header"))
        else:
            first = loose[0].span
            network = ast.NetworkDef(first, None, (), tuple(loose))
    if errors:
        raise CnnError(errors)
    whole = Span(source, 1, 1, max(1, source.text.count("\n") + 1), 1)
    if presets and network is None:
        errors.append(Diagnostic("E0008", "a preset names a configuration of the file's "
                                 "network, and this file has none",
                                 next(iter(presets.values())).span,
                                 help="add a `network NAME(params):` section"))
        raise CnnError(errors)
    return ast.Program(whole, source, tuple(imports), tuple(blocks), network,
                       tuple(presets.values()))


def _add_preset(presets: dict[str, ast.Preset], p: ast.Preset,
                errors: list[Diagnostic]) -> None:
    first = presets.get(p.name.lower())
    if first is not None:
        errors.append(Diagnostic("E0008", f"preset `{p.name}` is defined twice", p.span,
                                 help=f"first defined at line {first.span.line}"))
    positional = next((a for a in p.args if a.name is None), None)
    if positional is not None:
        errors.append(Diagnostic("E0401", "a preset binds parameters by name",
                                 positional.span, help="write `name=value`"))
    seen: set[str] = set()
    for a in p.args:
        if a.name in seen:
            errors.append(Diagnostic("E0106", f"preset `{p.name}` binds `{a.name}` twice",
                                     a.span, help="keep one"))
        seen.add(a.name)
    presets.setdefault(p.name.lower(), p)


# ---------------------------------------------------------------- errors
_FRIENDLY = {
    "MINUS": "`-`", "ARROW": "`->`", "COMMA": "`,`", "PLUS": "`+`", "STAR": "`*`",
    "SLASH": "`/`", "LPAR": "`(`", "RPAR": "`)`", "LSQB": "`[`", "RSQB": "`]`",
    "LBRACE": "`{`", "RBRACE": "`}`", "EQUAL": "`=`", "COLON": "`:`", "VBAR": "`|`",
    "QMARK": "`?`", "NAME": "a name", "INT": "a number", "FLOAT": "a number",
    "SHAPE": "a shape like 3x32x32", "STRING": "a string", "_NL": "end of line",
    "$END": "end of input",
}


_KEYWORDS = {"IMPORT", "BLOCK", "NETWORK", "INPUT", "PRESET", "AS", "AND", "OR", "NOT"}


def _describe(tok: Token) -> str:
    if tok.type == "$END":
        return "end of input"
    if tok.type == "_NL":
        return "end of line"
    return f"`{tok}`"


def _syntax_error(source: Source, err: UnexpectedInput) -> Diagnostic:
    if isinstance(err, UnexpectedCharacters):
        ch = source.text[err.pos_in_stream] if err.pos_in_stream < len(source.text) else "?"
        span = Span(source, err.line, err.column, err.line, err.column + 1)
        help = None
        if ch == ";":
            help = "separate layers with `-`, `->` or `,`"
        elif ch == ":":
            help = "a `:` ends a `network` or `block` header"
        shown = ch if ch.isprintable() else repr(ch)
        return Diagnostic("E0002", f"unexpected character `{shown}`", span, help=help)
    if isinstance(err, UnexpectedEOF):
        span = Span(source, max(1, source.text.count("\n")), 1, max(1, source.text.count("\n")), 2)
        return Diagnostic("E0005", "unexpected end of input", span)
    assert isinstance(err, UnexpectedToken)
    tok = err.token
    expected = set(err.expected)
    span = _tok_span(source, tok) if tok.type != "$END" else Span(
        source, max(1, err.line if err.line > 0 else 1), 1, max(1, err.line), 2)
    if tok.type == "$END" or tok.type == "_NL":
        what = "end of input" if tok.type == "$END" else "end of line"
        if "RPAR" in expected or "RSQB" in expected:
            return Diagnostic("E0003", f"{what} before the group is closed", span,
                              help="close the bracket")
        return Diagnostic("E0005", f"unexpected {what}: the expression is incomplete", span,
                          help="a separator must be followed by a layer")
    if tok.type in ("NAME", "INT", "FLOAT", "SHAPE", "VGG_CONV", "VGG_FC", "SOFT_MAX",
                    "LPAR", "LSQB", "LBRACE") and "MINUS" in expected:
        return Diagnostic("E0004", f"missing separator before {_describe(tok)}", span,
                          help="join layers with `-`, `->` or `,` (inside a call, "
                          "separate arguments with `,`)")
    if tok.type in ("RPAR", "RSQB", "RBRACE", "COMMA", "MINUS", "ARROW", "PLUS", "STAR",
                    "VBAR"):
        return Diagnostic("E0001", f"expected a layer or a value before {_describe(tok)}",
                          span, help="remove the extra symbol, or write what belongs here")
    if tok.type in _KEYWORDS and "NAME" in expected:
        return Diagnostic("E0001", f"`{tok}` is a keyword, not a name", span,
                          help="choose another name")
    want = sorted({_FRIENDLY.get(e, e.lower()) for e in expected if not e.startswith("__")})
    shown = ", ".join(want[:6]) + (", ..." if len(want) > 6 else "")
    return Diagnostic("E0001", f"unexpected {_describe(tok)}", span,
                      help=f"expected one of: {shown}" if want else None)


# ---------------------------------------------------------------- public
def parse(text: str, name: str = "<input>", limits: Limits | None = None) -> ast.Program:
    """Parse .cnn source text into an :class:`ast.Program` (its blocks, network and
    presets, every node with its span), without elaborating it; raise CnnError on
    syntax errors.

    >>> import cnndsl
    >>> program = cnndsl.parse("block pair(c) = conv(c) - relu\\ninput 1x28x28\\npair(8) - fc(10)")
    >>> [b.name for b in program.blocks], program.network is not None
    (['pair'], True)
    """
    limits = limits or Limits()
    source = Source(name, text)
    if len(text) > limits.source_bytes:
        raise CnnError([Diagnostic(
            "E0013", f"the source is {len(text):,} characters long, more than the limit of "
            f"{limits.source_bytes:,}", Span(source, 1, 1, 1, 2),
            help=how_to_raise("source_bytes", limits.source_bytes))])
    parser, joiner, builder = _lark()
    joiner.source = builder.source = source
    joiner.max_nesting = limits.nesting
    builder.errors = []
    try:
        with paused_gc():
            lines = parser.parse(text if text.endswith("\n") else text + "\n")
    except _SyntaxFault as fault:
        raise CnnError([fault.diagnostic]) from None
    except UnexpectedInput as err:
        inner = getattr(err, "orig_exc", None) or getattr(err, "__context__", None)
        if isinstance(inner, _SyntaxFault):
            raise CnnError([inner.diagnostic]) from None
        diag = _syntax_error(source, err)
        opener = joiner.stack[-1] if joiner.stack else None
        if opener is not None and diag.span is not None and opener.line < diag.span.line:
            diag = _diag(source, opener, "E0003", f"unclosed `{opener}`",
                         label="opened here and never closed",
                         help=f"add `{_closing(opener)}` where the group ends "
                         f"(line breaks inside brackets do not end a line)")
        raise CnnError([diag]) from None
    if builder.errors:
        raise CnnError(builder.errors)
    return _group(source, lines)
