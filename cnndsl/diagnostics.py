"""Diagnostics: coded messages that point at the source.

Every user mistake becomes a :class:`Diagnostic` (code, message, span, help) and is
rendered in one place, :func:`render`, with the source excerpt and a caret under the
span. Codes are catalogued in ``docs/errors.md``; E = error, W = warning, N = note.

>>> src = Source("net.cnn", "conv(10, 3, stride=3)\\n")
>>> d = Diagnostic("W0301", "does not fit", Span(src, 1, 1, 1, 22), help="pad=1")
>>> print(render(d))
warning[W0301]: does not fit
 --> net.cnn:1:1
  |
1 | conv(10, 3, stride=3)
  | ^^^^^^^^^^^^^^^^^^^^^
   = help: pad=1
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property

SEVERITY = {"E": "error", "W": "warning", "N": "note"}


@dataclass(frozen=True, eq=False)
class Source:
    """A named source text (a file, a string, a zoo entry)."""

    name: str
    text: str

    @cached_property
    def lines(self) -> list[str]:
        """The text's lines as the lexer counts them: split at ``\\n`` only (a lone
        ``\\r``, a form feed or U+2028 does not start a line), ``\\r\\n`` ends one."""
        return [ln[:-1] if ln.endswith("\r") else ln for ln in self.text.split("\n")]

    def line(self, n: int) -> str:
        lines = self.lines
        return lines[n - 1] if 0 < n <= len(lines) else ""


@dataclass(frozen=True)
class Span:
    """A 1-based line:column range in a source; ``end_col`` is exclusive."""

    source: Source = field(compare=False, repr=False)
    line: int
    col: int
    end_line: int
    end_col: int

    def __str__(self) -> str:
        return f"{self.source.name}:{self.line}:{self.col}"

    def to_json(self) -> dict:
        return {
            "file": self.source.name,
            "line": self.line,
            "column": self.col,
            "end_line": self.end_line,
            "end_column": self.end_col,
        }


@dataclass(frozen=True)
class Diagnostic:
    """One finding about the input: a code (``E`` error, ``W`` warning, ``N`` note; see
    docs/errors.md), a message, the source span it points at, a help line, a label after
    the caret and notes. ``strict`` marks a warning promoted to an error.

    >>> import cnndsl
    >>> net = cnndsl.compile("input 3x224x224\\nconv(96, 11, stride=4, pad=0) - gap - fc(10)")
    >>> w = net.warnings[0]
    >>> w.code, w.severity, w.span.line, w.is_error
    ('W0301', 'warning', 2, False)
    >>> w.as_error().severity
    'error'
    """

    code: str
    message: str
    span: Span | None = None
    help: str | None = None
    label: str | None = None  # text printed after the caret
    notes: tuple[str, ...] = ()
    strict: bool = False  # a warning promoted to an error by --strict

    @property
    def severity(self) -> str:
        return "error" if self.strict else SEVERITY.get(self.code[:1], "error")

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def as_error(self) -> Diagnostic:
        """The same diagnostic promoted to an error (``--strict``); the code stays."""
        if self.severity != "warning":
            return self
        return Diagnostic(self.code, self.message, self.span, self.help, self.label,
                          self.notes, strict=True)

    def to_json(self) -> dict:
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "span": self.span.to_json() if self.span else None,
            "help": self.help,
            "label": self.label,
            "notes": list(self.notes),
        }


class CnnError(Exception):
    """Raised by the API when the input has errors; carries every diagnostic
    (``.diagnostics``, errors and warnings, in source order); its text is them rendered.

    >>> import cnndsl
    >>> try:
    ...     cnndsl.compile("input 1x28x28\\nconv(8, 3) - relu - fc(2.5)")
    ... except cnndsl.CnnError as e:
    ...     print([d.code for d in e.diagnostics], e.diagnostics[0].span.col)
    ['E0104'] 24
    """

    def __init__(self, diagnostics: Iterable[Diagnostic]):
        self.diagnostics = tuple(diagnostics)
        super().__init__("\n".join(render(d) for d in self.diagnostics))


class UserError(Exception):
    """A mistake in how a command was used (bad data path, bad flag value).

    The CLI prints it as ``error: message`` plus the help line, and exits with
    ``exit_code`` (2 = usage, 1 = bad input).

    >>> import cnndsl
    >>> try:
    ...     cnndsl.compile("input 1x28x28\\nfc(10)", input="28x28x1x1")
    ... except cnndsl.UserError as e:
    ...     print(e.message, "|", e.help, "|", e.exit_code)
    bad input shape '28x28x1x1' | write CxHxW, e.g. 3x224x224, or F for a vector | 2
    """

    def __init__(self, message: str, help: str | None = None, exit_code: int = 1):
        self.message = message
        self.help = help
        self.exit_code = exit_code
        super().__init__(message if not help else f"{message}\n  help: {help}")


def apply_allow_comments(diags: Iterable[Diagnostic]) -> list[Diagnostic]:
    """Drop the warnings that their source line accepts: ``... # allow W0301``."""
    out = []
    for d in diags:
        if d.severity == "warning" and d.span is not None:
            line = d.span.source.line(d.span.line)
            comment = line[line.find("#"):] if "#" in line else ""
            if re.search(rf"\ballow:?\s+(\w+[ ,]*)*\b{d.code}\b", comment):
                continue
        out.append(d)
    return out


_INVISIBLE = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}
_WIDE = 120  # longest source line shown whole


def visible(text: str) -> str:
    r"""``text`` safe to print on a terminal: control, format and line-separator
    characters (an escape sequence, a right-to-left override) shown escaped; a tab is
    one space, as the lexer counts it.

    >>> print(visible("conv\x1b[31m\u202e\ttail"))
    conv\x1b[31m\u202e tail
    """
    if text.isprintable():
        return text
    out = []
    for ch in text:
        if ch == "\t":
            out.append(" ")
        elif unicodedata.category(ch) in _INVISIBLE:
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
                       if code < 0x10000 else f"\\U{code:08x}")
        else:
            out.append(ch)
    return "".join(out)


def render(d: Diagnostic, color: bool = False) -> str:
    """Render one diagnostic with its source excerpt, rustc style.

    Everything that comes from the input (the message's quoted parts, the source line,
    the file name) is passed through :func:`visible` first. ``color`` adds ANSI colors.

    >>> import cnndsl
    >>> try:
    ...     cnndsl.compile("input 1x28x28\\nconv(8, 3) - relu - fc(2.5)")
    ... except cnndsl.CnnError as e:
    ...     print(cnndsl.render(e.diagnostics[0]))
    error[E0104]: `out` of fc must be a whole number, `2.5` is 2.5
     --> <input>:2:24
      |
    2 | conv(8, 3) - relu - fc(2.5)
      |                        ^^^
       = help: round it: floor(...), round(...) or //
    """
    message = visible(d.message)
    head = f"{d.severity}[{d.code}]: {message}"
    if color:
        tint = {"error": "31", "warning": "33", "note": "36"}[d.severity]
        head = f"\x1b[1;{tint}m{d.severity}[{d.code}]\x1b[0m\x1b[1m: {message}\x1b[0m"
    out = [head]
    if d.span is not None:
        s = d.span
        width = len(str(s.end_line))
        pad = " " * width
        out.append(f"{pad}--> {visible(str(s))}")
        text = s.source.line(s.line)
        if text:
            end = s.end_col if s.end_line == s.line else len(text) + 1
            end = max(end, s.col + 1)
            shown, before, under = _excerpt(text, s.col - 1, end - 1)
            caret = " " * before + "^" * max(1, under)
            out.append(f"{pad} |")
            out.append(f"{s.line:>{width}} | {shown}")
            out.append(f"{pad} | {caret}" + (f" {visible(d.label)}" if d.label else ""))
    for note in d.notes:
        out.append(f"   = note: {visible(note)}")
    if d.help:
        out.append(f"   = help: {visible(d.help)}")
    return "\n".join(out)


def _excerpt(text: str, start: int, end: int) -> tuple[str, int, int]:
    """The line as shown, and the caret's offset and width under ``text[start:end]``.

    Widths are those shown (an escaped character is wider); a span past the end of the
    line extends it with spaces. A long line is cut to a window around the span first
    (so a megabyte line costs no more than a short one).
    """
    lo, hi = 0, len(text)
    if len(text) > _WIDE:
        lo = max(0, min(start - _WIDE // 4, len(text) - _WIDE))
        hi = lo + _WIDE
    cut = text[lo:hi]
    start, end = start - lo, min(end, hi) - lo
    before = len(visible(cut[:start])) + max(0, start - len(cut))
    under = len(visible(cut[start:end])) + max(0, end - max(len(cut), start))
    shown = visible(cut).rstrip()
    if lo:
        shown, before = "..." + shown, before + 3
    if hi < len(text):
        shown += "..."
    return shown, before, under


def render_all(diags: Iterable[Diagnostic], color: bool = False) -> str:
    """Every diagnostic rendered (:func:`render`), a blank line between two.

    >>> import cnndsl
    >>> net = cnndsl.compile("input 3x32x32\\nconv(8, 3) - relu - pool - fc(10)")
    >>> print(cnndsl.render_all(net.diagnostics) or "(none)")
    (none)
    >>> net = cnndsl.compile("input 3x224x224\\nconv(96, 11, stride=4, pad=0) - gap - fc(10)")
    >>> print(cnndsl.render_all(net.diagnostics).splitlines()[0])
    warning[W0301]: 11x11 window at stride 4 does not fit a 224x224 input
    """
    return "\n\n".join(render(d, color) for d in diags)
