"""Highlighting: the Pygments lexer and the VS Code grammar cover every .cnn file we ship.

The Pygments tests need Pygments (``pip install "cnndsl[highlight]"``); the TextMate
grammar is checked with a small tokenizer written here, which applies its match rules
the way TextMate does (at each position the rule matching earliest wins, ties to the
first listed).
"""

from __future__ import annotations

import functools
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import cnndsl
from cnndsl import ops
from cnndsl.elaborate import builtins
from cnndsl.elaborate.elaborator import PRELUDE
from cnndsl.elaborate.env import BOOLEANS

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [*sorted((ROOT / "zoo").glob("*.cnn")), *sorted((ROOT / "zoo/lib").glob("*.cnn")),
           ROOT / "cnndsl/prelude.cnn"]
IDS = [str(p.relative_to(ROOT)) for p in SOURCES]
GRAMMAR = ROOT / "editors/vscode/syntaxes/cnn.tmLanguage.json"
# The ```cnn examples of the docs, highlighted where the docs are rendered with Pygments.
DOC_EXAMPLES = [(page.name, m.group(1)) for page in sorted((ROOT / "docs").glob("*.md"))
                for m in re.finditer(r"^```cnn\n(.*?)^```", page.read_text(encoding="utf-8"),
                                     re.M | re.S)]

# Every kind of token once; the program parses (its import is resolved later).
SAMPLE = """\
# ResNet-ish, in most spellings the language reads
import "lib/resnet.cnn"
block basic(c, stride=1) = residual(conv(c, 3, stride) - bn - relu) - ReLU
BLOCK fuse(c):
    conv(c, 3) as hi
network Tiny(n=2, p=0.5, eps=1e-5, mode='bilinear'):
    INPUT 3x224x224
    conv3-64 - FC-4096 - [CONV -> RELU]*2 -> POOL
    if(n > 1 and not p == 0 or true, se(4), id) * (n // 2) \\
        → upsample(2, mode="nearest") - fuse(8) as f - f.lo
    soft-max
preset tiny_s(n=1)
"""


def live_builtins() -> set[str]:
    """The names the compiler knows without an import: operators, built-in and prelude blocks."""
    prelude = cnndsl.parse(PRELUDE.read_text(encoding="utf-8"), "<prelude>")
    return set(ops.names()) | set(builtins.names()) | {b.name.lower() for b in prelude.blocks}


def test_the_sample_is_a_program():
    assert cnndsl.parse(SAMPLE).network.name == "Tiny"


# ---------------------------------------------------------------- Pygments
@pytest.fixture(scope="module")
def lexer():
    pytest.importorskip("pygments")
    from cnndsl.highlight import CnnLexer
    return CnnLexer(stripnl=False)


@pytest.mark.parametrize("path", SOURCES, ids=IDS)
def test_pygments_reads_every_shipped_file_without_an_error_token(lexer, path):
    from pygments.token import Error
    text = path.read_text(encoding="utf-8")
    tokens = list(lexer.get_tokens_unprocessed(text))
    assert "".join(value for _, _, value in tokens) == text
    errors = [(text.count("\n", 0, i) + 1, value) for i, kind, value in tokens if kind is Error]
    assert not errors, f"{path.name}: error tokens (line, text): {errors}"


def test_pygments_reads_the_docs_examples_without_an_error_token(lexer):
    from pygments.token import Error
    assert len(DOC_EXAMPLES) >= 5
    for page, text in DOC_EXAMPLES:
        bad = [value for kind, value in lexer.get_tokens(text) if kind is Error]
        assert not bad, f"{page}: error tokens {bad} in\n{text}"


def test_pygments_gives_each_token_its_kind(lexer):
    from pygments.token import Comment, Keyword, Name, Number, Operator, Punctuation, String
    kinds = [(value, kind) for kind, value in lexer.get_tokens(SAMPLE) if value.strip()]
    expected = [
        ("# ResNet-ish, in most spellings the language reads", Comment.Single),
        ("import", Keyword.Namespace), ('"lib/resnet.cnn"', String.Double),
        ("block", Keyword.Declaration), ("basic", Name.Function), ("BLOCK", Keyword.Declaration),
        ("fuse", Name.Function), ("network", Keyword.Declaration), ("Tiny", Name.Class),
        ("preset", Keyword.Declaration), ("tiny_s", Name.Class),
        ("INPUT", Keyword), ("as", Keyword), ("hi", Name.Label),
        ("and", Operator.Word), ("not", Operator.Word), ("or", Operator.Word),
        ("true", Keyword.Constant),
        ("residual", Name.Builtin), ("conv", Name.Builtin), ("bn", Name.Builtin),
        ("relu", Name.Builtin), ("ReLU", Name.Builtin), ("CONV", Name.Builtin),
        ("POOL", Name.Builtin), ("if", Name.Builtin), ("se", Name.Builtin), ("id", Name.Builtin),
        ("upsample", Name.Builtin),
        ("conv3-64", Name.Builtin), ("FC-4096", Name.Builtin), ("soft-max", Name.Builtin),
        ("c", Name), ("stride", Name), ("mode", Name), ("lo", Name),
        ("3x224x224", Number.Other), ("1e-5", Number.Float), ("0.5", Number.Float),
        ("4096", None), ("2", Number.Integer), ("'bilinear'", String.Single),
        ("-", Operator), ("->", Operator), ("→", Operator), ("*", Operator), ("//", Operator),
        ("==", Operator), (">", Operator), ("=", Operator),
        ("(", Punctuation), ("[", Punctuation), (",", Punctuation), (".", Punctuation),
        (":", Punctuation), ("\\", Punctuation),
    ]
    first = {}  # the kind of each text where it first occurs (a header's name is later called)
    for value, kind in kinds:
        first.setdefault(value, kind)
    for value, kind in expected:
        assert first.get(value) == kind, (value, first.get(value))


def test_pygments_splits_where_the_parser_does(lexer):
    from pygments.token import Error, Name, Number, Operator

    def kinds(text):
        return [(v, k) for k, v in lexer.get_tokens(text) if v.strip()]

    assert kinds("3X224") == [("3", Number.Integer), ("X224", Name)]  # `x` only, as in Lark
    assert kinds("3×32×32") == [("3×32×32", Number.Other)]
    assert kinds("conv3-64x") == [("conv3", Name), ("-", Operator), ("64", Number.Integer),
                                  ("x", Name)]
    assert kinds("inputs") == [("inputs", Name)]  # a keyword only as a whole word
    assert kinds("ｃｏｎｖ") == [("ｃｏｎｖ", Name.Builtin)]  # NFKC, as the compiler reads names
    assert kinds('conv; "open') == [("conv", Name.Builtin), (";", Error), ('"', Error),
                                    ("open", Name)]


def test_pygments_knows_every_builtin_name():
    pytest.importorskip("pygments")
    from cnndsl.highlight import BUILTINS, CONSTANTS
    assert BUILTINS == live_builtins() and CONSTANTS == set(BOOLEANS)


def test_importing_cnndsl_needs_no_pygments():
    code = "import sys, cnndsl; assert not {'pygments', 'cnndsl.highlight'} & set(sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    users = [p for p in (ROOT / "cnndsl").rglob("*.py") if p.name != "highlight.py"
             and re.search(r"\bhighlight\b.*import|import.*\bhighlight\b", p.read_text())]
    assert not users


def test_the_lexer_is_a_pygments_plugin():
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        section = re.search(r'^\[project\.entry-points\."pygments\.lexers"\]\n(.*?)(?:\n\[|\Z)',
                            text, re.M | re.S)
        assert section and 'cnndsl = "cnndsl.highlight:CnnLexer"' in section.group(1)
    else:
        points = tomllib.loads(text)["project"]["entry-points"]["pygments.lexers"]
        assert points == {"cnndsl": "cnndsl.highlight:CnnLexer"}
    pytest.importorskip("pygments")
    from cnndsl.highlight import CnnLexer
    assert CnnLexer.name == "cnndsl" and CnnLexer.aliases == ["cnn", "cnndsl"]
    assert CnnLexer.filenames == ["*.cnn"]


# ---------------------------------------------------------------- TextMate
@functools.cache
def grammar() -> dict:
    return json.loads(GRAMMAR.read_text(encoding="utf-8"))


def rules(g: dict) -> list[tuple[re.Pattern, str, dict]]:
    """The grammar's match rules in TextMate's order, includes resolved: (regex, scope,
    captures).

    The regexes keep to what Oniguruma and Python's ``re`` both read (``(?i:...)``,
    ``\\b``, ``[^\\W\\d]``), so they compile here unchanged."""
    out = []

    def walk(patterns):
        for p in patterns:
            if "include" in p:
                assert p["include"].startswith("#"), p
                walk(g["repository"][p["include"][1:]]["patterns"])
                continue
            assert "match" in p and "begin" not in p, f"not a match rule: {p}"
            out.append((re.compile(p["match"]), p.get("name", ""), p.get("captures", {})))
    walk(g["patterns"])
    return out


@functools.cache
def table() -> list[tuple[re.Pattern, str, dict]]:
    return rules(grammar())


def tokenize(line: str, table: list[tuple[re.Pattern, str, dict]]
             ) -> list[tuple[int, int, str]]:
    """(start, end, scope) of the matches TextMate would make on one line, each followed
    by those of its captured groups."""
    text, pos, out = line + "\n", 0, []  # vscode-textmate matches against the line + "\n"
    ahead: list = [None] * len(table)  # each rule's next match, searched again once passed
    while pos < len(line):
        for i, (rx, _, _) in enumerate(table):
            if ahead[i] is not False and (ahead[i] is None or ahead[i].start() < pos):
                ahead[i] = rx.search(text, pos) or False
        found = [(m.start(), i, m) for i, m in enumerate(ahead) if m and m.start() < len(line)]
        if not found:
            break
        start, i, m = min(found, key=lambda f: (f[0], f[1]))
        assert m.end() > start, f"rule {table[i][0].pattern!r} matches nothing at {start}"
        out.append((start, min(m.end(), len(line)), table[i][1]))
        out += [(m.start(int(k)), m.end(int(k)), c["name"]) for k, c in table[i][2].items()
                if m.group(int(k))]
        pos = m.end()
    return out


def test_the_grammar_is_valid_and_compiles():
    g = grammar()
    assert g["scopeName"] == "source.cnn" and g["name"] == "cnndsl"
    assert len(rules(g)) > 10


def gaps(text: str) -> list[tuple[int, int]]:
    """(line, column) of each non-space character no rule covers, but the invalid one."""
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        covered = [False] * len(line)
        for start, end, scope in tokenize(line, table()):
            if scope and not scope.startswith("invalid"):
                covered[start:end] = [True] * (end - start)
        out += [(n, i + 1) for i, ch in enumerate(line) if not ch.isspace() and not covered[i]]
    return out


@pytest.mark.parametrize("path", SOURCES, ids=IDS)
def test_the_grammar_covers_every_character_of_every_shipped_file(path):
    assert not gaps(path.read_text(encoding="utf-8")), f"{path.name}: (line, column) uncovered"


def test_the_grammar_covers_the_docs_examples_and_leaves_slips_uncovered():
    for page, text in DOC_EXAMPLES:
        assert not gaps(text), page
    assert gaps('conv; "open') == [(1, 5), (1, 7)]


def test_the_grammar_scopes_the_sample():
    scopes = {}
    for line in SAMPLE.splitlines():
        for start, end, scope in tokenize(line, table()):
            scopes.setdefault(line[start:end], set()).add(scope)

    def scope(text):
        (only,) = scopes[text] - {""}  # a rule that only names its captures
        return only

    assert scope("# ResNet-ish, in most spellings the language reads").startswith("comment.")
    assert scope("network") == scope("BLOCK") == scope("preset") == "storage.type.cnn"
    assert scope("Tiny") == scope("tiny_s") == "entity.name.type.cnn"
    assert scope("basic") == "entity.name.function.cnn" in scopes["fuse"]  # also called
    assert scope("hi") == "variable.other.label.cnn"
    assert scope("conv3-64") == scope("FC-4096") == scope("soft-max") == "support.function.vgg.cnn"
    assert {scope(w) for w in ("residual", "conv", "ReLU", "CONV", "se", "if", "id")} == {
        "support.function.builtin.cnn"}
    assert scope("3x224x224") == "constant.numeric.shape.cnn"
    assert scope("1e-5") == scope("0.5") == "constant.numeric.float.cnn"
    assert scope("INPUT") == "keyword.other.cnn" and scope("import") == "keyword.control.import.cnn"
    assert {scope(w) for w in ("and", "or", "not")} == {"keyword.operator.logical.cnn"}
    assert scope("true") == "constant.language.boolean.cnn"
    assert scope('"lib/resnet.cnn"') == "string.quoted.double.cnn"
    assert scope("stride") == "variable.other.cnn"
    assert scope("→") == scope("->") == "keyword.operator.arrow.cnn"
    assert scope("\\") == "constant.character.escape.line-continuation.cnn"
    assert [scope for _, _, scope in tokenize('conv; "x', table())] == [
        "support.function.builtin.cnn", "invalid.illegal.cnn", "invalid.illegal.cnn",
        "variable.other.cnn"]


def test_the_grammar_knows_every_builtin_name():
    g = grammar()
    pattern = g["repository"]["builtin"]["patterns"][0]["match"]
    names = re.fullmatch(r"\\b\(\?i:(.*)\)\\b", pattern).group(1).split("|")
    expected = "\\b(?i:" + "|".join(sorted(live_builtins())) + ")\\b"
    assert names == sorted(live_builtins()), f"set the `builtin` rule's match to {expected!r}"
    booleans = g["repository"]["constant"]["patterns"][0]["match"]
    assert booleans == "\\b(?i:" + "|".join(sorted(BOOLEANS)) + ")\\b"
