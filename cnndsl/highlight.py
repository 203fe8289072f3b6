"""A Pygments lexer for .cnn source (``pygmentize -l cnn net.cnn``, ```cnn fences in docs).

>>> from pygments.token import Keyword, Name
>>> tokens = [(t, v) for t, v in CnnLexer().get_tokens("network tiny:\\n    conv3-64 - relu")
...           if v.strip()]
>>> tokens[:2] == [(Keyword.Declaration, "network"), (Name.Class, "tiny")]
True
>>> tokens[3:] == [(Name.Builtin, "conv3-64"), (Operator, "-"), (Name.Builtin, "relu")]
True

Registered under the ``pygments.lexers`` entry point, so Pygments, Sphinx, MkDocs and
``pygmentize`` find it by the alias ``cnn`` once cnndsl is installed. Nothing else in
cnndsl imports this module: ``import cnndsl`` never needs Pygments.

NOTE: the token rules follow ``grammars/cnn.lark`` (the same regular expressions as its
terminals, tried in the same order as Lark's priorities), so the lexer splits a line
where the parser does: ``conv3-64`` is one token, ``3x224x224`` is a shape but ``3X224``
is not, keywords are case-insensitive. Names of operators, built-in blocks (``residual``,
``concat``, ``if``) and prelude blocks (``se``, ``inverted``) are ``Name.Builtin``, taken
from the compiler's registries when this module is imported (no torch is imported), and
matched like the compiler matches them: case-insensitively, after NFKC normalization.
The header's name is ``Name.Class`` after ``network`` and ``preset``, ``Name.Function``
after ``block``; a label after ``as`` is ``Name.Label``. ``and``, ``or``, ``not`` are
``Operator.Word``, the other keywords ``Keyword`` (``.Declaration`` for headers,
``.Namespace`` for ``import``); ``true``/``false``/``yes``/``no``/``on``/``off`` are
``Keyword.Constant``. A character the grammar has no token for (``;``, an unclosed
string's quote, a stray ``\\``) is ``Error``.
"""

from __future__ import annotations

import unicodedata

from pygments.lexer import RegexLexer, bygroups
from pygments.token import (
    Comment,
    Keyword,
    Name,
    Number,
    Operator,
    Punctuation,
    String,
    Whitespace,
)

from . import ops
from .elaborate import builtins
from .elaborate.elaborator import PRELUDE
from .elaborate.env import BOOLEANS
from .syntax.parser import parse

__all__ = ["BUILTINS", "CONSTANTS", "CnnLexer", "builtin_names"]


def builtin_names() -> frozenset[str]:
    """Every name the compiler knows without an import: operators and their aliases,
    the built-in blocks and the prelude's blocks (lower case).

    >>> {"conv", "relu", "residual", "concat", "se", "inverted"} <= builtin_names()
    True
    """
    prelude = parse(PRELUDE.read_text(encoding="utf-8"), "<prelude>")
    return frozenset(ops.names()) | frozenset(builtins.names()) | {
        b.name.lower() for b in prelude.blocks}


BUILTINS = builtin_names()
CONSTANTS = frozenset(BOOLEANS)

_NAME = r"[^\W\d]\w*"


def _name(lexer: RegexLexer, match):
    """A name: a builtin, a constant or a user's, compared as the compiler does."""
    text = match.group()
    key = (text if text.isascii() else unicodedata.normalize("NFKC", text)).lower()
    kind = Name.Builtin if key in BUILTINS else Keyword.Constant if key in CONSTANTS else Name
    yield match.start(), kind, text


class CnnLexer(RegexLexer):
    """Pygments lexer for cnndsl's .cnn files."""

    name = "cnndsl"
    aliases = ["cnn", "cnndsl"]
    filenames = ["*.cnn"]
    mimetypes = ["text/x-cnndsl"]

    tokens = {
        "root": [
            (r"[ \t\f\r\n]+", Whitespace),
            (r"#[^\n]*", Comment.Single),
            (r"(\\)([ \t]*\r?\n)", bygroups(Punctuation, Whitespace)),
            (r'"[^"\n]*"', String.Double),
            (r"'[^'\n]*'", String.Single),
            # Headers: the keyword, then the name it defines.
            (rf"(?i:(network|preset))\b([ \t]+)({_NAME})",
             bygroups(Keyword.Declaration, Whitespace, Name.Class)),
            (rf"(?i:(block))\b([ \t]+)({_NAME})",
             bygroups(Keyword.Declaration, Whitespace, Name.Function)),
            (rf"(?i:(as))\b([ \t]+)({_NAME})", bygroups(Keyword, Whitespace, Name.Label)),
            (r"(?i:network|block|preset)\b", Keyword.Declaration),
            (r"(?i:import)\b", Keyword.Namespace),
            (r"(?i:input|as)\b", Keyword),
            (r"(?i:and|or|not|in)\b", Operator.Word),
            # The VGG paper's spellings (priority 3 in the grammar): conv3-64, FC-4096.
            (r"(?i:conv\d+-\d+|(?:fc|dense|linear)-\d+|soft-max)\b", Name.Builtin),
            (r"\d+(?:[x×]\d+)+\b", Number.Other),  # a shape: 3x224x224
            (r"\d+\.(?!\.)\d*(?:[eE][-+]?\d+)?|\d+[eE][-+]?\d+|\.\d+(?:[eE][-+]?\d+)?",
             Number.Float),
            (r"\d+", Number.Integer),
            (_NAME, _name),
            (r"->|→|==|!=|<=|>=|//|\.\.|[-+*×/%|?=<>]", Operator),
            (r"[()\[\]{}.,:]", Punctuation),
        ],
    }
