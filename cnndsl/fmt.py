"""The formatter: one canonical layout for .cnn source (``cnndsl fmt``).

>>> print(format_source("NETWORK tiny( c=8 ):\\n  INPUT 3x32x32\\n  conv(c,3)-relu-POOL  #a\\n"), end="")
network tiny(c=8):
    input 3x32x32
    conv(c, 3) - relu - POOL  #a

What it changes: spacing (one space around sequencing, merge, arithmetic and comparison
operators, none inside brackets or around a keyword argument's `=`, one after a comma),
indentation (4 spaces in a section, 4 more on a continued line), the case of keywords,
trailing spaces, runs of blank lines (one kept), and lines longer than ``width``, which
are broken after a `-`, `->`, `|` or `,` (where the language continues a line). What it
keeps: names as written (`CONV` stays `CONV`), the arrows the user chose, comments, the
user's own line breaks, blank lines between paragraphs. The result parses to the same
program (tests check it on the zoo and on generated programs), and formatting it again
changes nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .syntax.parser import parse

WIDTH = 100
KEYWORDS = {"import", "block", "network", "input", "preset", "as", "and", "or", "not", "in"}
_TOKEN = re.compile(r"""
    (?P<comment>\#[^\n]*)
  | (?P<string>"[^"\n]*"|'[^'\n]*')
  | (?P<vgg>(?i:conv\d+-\d+|(?:fc|dense|linear)-\d+|soft-max)\b)
  | (?P<shape>\d+(?:[x×]\d+)+\b)
  | (?P<number>\d+\.(?!\.)\d*(?:[eE][-+]?\d+)?|\d+[eE][-+]?\d+|\.\d+(?:[eE][-+]?\d+)?|\d+)
  | (?P<name>[^\W\d]\w*)
  | (?P<op>->|\.\.|//|==|!=|<=|>=|[-+*/%|,=<>?.:→×])
  | (?P<open>[(\[{])
  | (?P<close>[)\]}])
  | (?P<cont>\\[ \t]*$)
  | (?P<space>[ \t\f\r]+)
""", re.VERBOSE | re.MULTILINE)
# Where a line may break: the language continues a line after these (syntax/parser.py).
_BREAK_AFTER = {"-", "->", "→", "|", ","}
_CONTINUES = _BREAK_AFTER | {"+", "*", "×", "/", "//", "%", "="}
_LEADING = {"-", "->", "→", "|", ",", ")", "]", "}"}  # a line starting so continues one
_HEADERS = {"network", "block", "import", "preset"}
SKIP = "fmt: skip"  # a trailing comment that keeps its line as written
# A line of code with a trailing comment: the code, then the comment (strings hold no `#`
# in practice; a `#` inside one only moves where the comment is taken to start).
_TRAILING = re.compile(r"^(\s*[^#\s][^#]*?)\s+(#.*)$")
_UNARY_AFTER = {"(", "[", "{", ",", "=", "|", "-", "->", "→", "+", "*", "×", "/", "//", "%",
                "==", "!=", "<", "<=", ">", ">=", "and", "or", "not", "in", "..", None}
_SPACED = {"-", "->", "→", "|", "+", "*", "×", "/", "//", "%", "==", "!=", "<", "<=", ">",
           ">="}


@dataclass
class _Tok:
    kind: str
    text: str


def format_source(text: str, width: int = WIDTH, name: str = "<input>") -> str:
    """``text`` in the canonical layout. Raises :class:`~cnndsl.diagnostics.CnnError`
    where the text does not parse (a formatter never guesses); ``name`` is the file's,
    for those diagnostics."""
    parse(text, name)
    source_lines = text.replace("\r\n", "\n").split("\n")
    lines = [_tokens(line) for line in source_lines]
    out: list[str] = []
    depth, continued, in_section, blank = 0, False, False, 0
    header = False  # the statement under way is a header (its lines start at column 0)
    for i, toks in enumerate(lines):
        code = [t for t in toks if t.kind != "comment"]
        if not toks:
            blank += 1
            continue
        if out and blank:
            out.append("")
        blank = 0
        starts = bool(code) and not continued and depth == 0 and code[0].text not in _LEADING
        if starts:
            header = code[0].text.lower() in _HEADERS
            if header:
                in_section = False
        base = 0 if header or not in_section else 4
        if not code:  # a comment line: as the next line of code
            indent = _comment_indent(lines, i, depth, continued, in_section)
        else:
            indent = base if starts else base + 4
        if toks[-1].kind == "comment" and SKIP in toks[-1].text:
            out.append(source_lines[i].rstrip())  # `# fmt: skip`: the line as written
        else:
            out += _wrap(_render(toks, depth, not starts), indent, base + 4, width)
        depth = max(0, depth + sum(t.kind == "open" for t in code)
                    - sum(t.kind == "close" for t in code))
        last = code[-1] if code else None
        continued = last is not None and (last.kind == "cont" or (
            last.kind == "op" and last.text in _CONTINUES))
        if code and depth == 0 and not continued and header:  # the header is complete
            in_section = last.text == ":"
            header = False
    while out and not out[-1]:
        out.pop()
    return "\n".join(_align_comments(out)) + "\n"


def _align_comments(lines: list[str]) -> list[str]:
    """Trailing comments of consecutive lines (a table of layers and their shapes) start
    in one column, two spaces after the longest code among them."""
    out = list(lines)
    run: list[int] = []
    for i in range(len(lines) + 1):
        m = _TRAILING.match(lines[i]) if i < len(lines) else None
        if m and SKIP not in m.group(2) and not _in_string(m.group(1)):
            run.append(i)
            continue
        if len(run) > 1:
            column = max(len(_TRAILING.match(lines[j]).group(1)) for j in run) + 2
            for j in run:
                code, comment = _TRAILING.match(lines[j]).groups()
                out[j] = code.ljust(column) + comment
        run = []
    return out


def _tokens(line: str) -> list[_Tok]:
    toks, pos = [], 0
    while pos < len(line):
        m = _TOKEN.match(line, pos)
        if m is None:  # cannot happen for text that parsed; keep the rest as it is
            toks.append(_Tok("other", line[pos:].rstrip()))
            break
        if m.lastgroup != "space":
            text = m.group()
            kind = m.lastgroup
            if kind == "name" and text.lower() in KEYWORDS:
                kind, text = "keyword", text.lower()
            if kind == "cont":
                text = "\\"
            toks.append(_Tok(kind, text))
        pos = m.end()
    return toks


def _render(toks: list[_Tok], depth: int, continues: bool) -> list[tuple[str, int | None]]:
    """The line's pieces with the spacing before each, as (text, the bracket depth of a
    break after it, or None); a trailing comment is the last piece, two spaces after
    the code. A line that ``continues`` another starts after an operand (a leading
    `-` sequences)."""
    pieces: list[tuple[str, int | None]] = []
    prev: _Tok | None = _Tok("name", "") if continues else None
    for t in toks:
        if t.kind == "comment":
            pieces.append((("  " if prev else "") + t.text.rstrip(), None))
            break
        space = _space(prev, t, depth)
        unary = t.text == "-" and _is_unary(prev)
        breaks = t.kind == "op" and t.text in _BREAK_AFTER and not unary
        pieces.append(((" " if space else "") + t.text, depth if breaks else None))
        depth += t.kind == "open"
        depth -= t.kind == "close"
        prev = t if not (t.kind == "op" and unary) else _Tok("unary", "-")
    return pieces


def _is_unary(prev: _Tok | None) -> bool:
    return prev is None or prev.text in _UNARY_AFTER or prev.kind == "unary"


def _space(prev: _Tok | None, t: _Tok, depth: int) -> bool:
    """Whether one space goes between ``prev`` and ``t`` (``depth``: inside brackets)."""
    if prev is None:
        return False
    if t.kind == "cont":
        return True
    if prev.kind == "unary" or prev.kind == "open" or t.kind == "close":
        return False
    if t.text in (",", "?", ":", ".", "..") or prev.text in (".", ".."):
        return False  # `s.lo`, `1..5`
    if prev.text == ",":
        return True
    if t.kind == "open":  # a call or input(...) sticks to its name; a group after an op
        return not (prev.kind in ("name", "vgg") or prev.text == "input")
    if t.text == "=" or prev.text == "=":
        return depth == 0  # `block b = ...`, `x = ...`; a keyword argument has none
    if t.kind == "op" and t.text == "-" and _is_unary(prev):
        return prev.text not in ("(", "[", "{")
    if t.kind == "op" or prev.kind == "op":
        return t.text in _SPACED or prev.text in _SPACED or t.text in ("as",)
    return True


def _join(pieces: list[tuple[str, int | None]]) -> str:
    return "".join(p for p, _ in pieces)


def _wrap(pieces: list[tuple[str, int | None]], indent: int, cont: int,
          width: int) -> list[str]:
    """The line, broken after a sequencing operator where it is longer than ``width``:
    the last that fits among the outermost ones (one bracket deeper allowed, so that a
    parameter list is not where a long line breaks); comments are never split or moved."""
    lines: list[str] = []
    current = list(pieces)
    pad = " " * indent
    while True:
        text = pad + _join(current).lstrip()
        code = current[:-1] if current and current[-1][0].lstrip().startswith("#") else current
        if len(pad + _join(code).lstrip()) <= width:
            lines.append(text)
            return lines
        fits, length = [], len(pad)
        for k, (p, depth) in enumerate(current[:-1]):
            length += len(p if k else p.lstrip())
            if length > width:
                break
            if depth is not None and k and not current[k + 1][0].lstrip().startswith("#"):
                fits.append((k, depth))
        rest = {k: len(_join(current[k + 1:])) for k, _ in fits}
        fits = [f for f in fits if rest[f[0]] >= 12] or fits  # no orphaned `1)` below
        outer = min((d for _, d in fits), default=0)
        cut = max((k for k, d in fits if d <= outer + 1), default=None)
        if cut is None:
            lines.append(text)
            return lines
        lines.append((pad + _join(current[:cut + 1]).lstrip()).rstrip())
        current = current[cut + 1:]
        pad = " " * cont


def _in_string(code: str) -> bool:
    """Whether a `#` after ``code`` is inside a string (an odd number of quotes before)."""
    return code.count('"') % 2 == 1 or code.count("'") % 2 == 1


def _comment_indent(lines: list[list[_Tok]], i: int, depth: int, continued: bool,
                    in_section: bool) -> int:
    """A comment line sits at the indentation of the code it precedes."""
    if depth or continued:
        return 8 if in_section else 4
    for toks in lines[i + 1:]:
        code = [t for t in toks if t.kind != "comment"]
        if code:
            if code[0].text.lower() in _HEADERS:
                return 0
            return 4 if in_section else 0
    return 0
