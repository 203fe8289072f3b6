"""An open document: its text, its current compile, and its last good one.

>>> doc = Doc("untitled:a", None, "input 3x8x8\\nconv(4, 9, pad=0)\\n")
>>> [(d.code, d.range.start) for d in doc.current.diagnostics]
[('E0301', Pos(line=1, col=0))]
>>> doc.update("input 3x8x8\\nconv(4, 3)\\n"); doc.current.diagnostics, doc.best.net.output_shape
([], (4, 8, 8))

NOTE: a document is compiled from the editor's text, not the file on disk, yet its
imports are read relative to the file's folder (as ``cnndsl check FILE`` reads them).
``loads`` reads imports relative to the current folder, so this calls the compile
step that ``compile(path)`` uses, with the document's folder (and the workspace
folders, as ``--include``) as the import roots. Everything the compiler raises becomes
diagnostics here: a language server must answer every text, however broken.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from .. import api
from ..diagnostics import CnnError, Diagnostic, Span, UserError
from ..elaborate.elaborator import PRELUDE
from ..elaborate.imports import FileSystem, ImportProblem, display_name
from ..limits import Limits

log = logging.getLogger("cnndsl.lsp")
LIBRARY = "E0010"  # "the file defines blocks but no network"


@dataclass(frozen=True, order=True)
class Pos:
    line: int  # 0-based
    col: int  # 0-based, in code points


@dataclass(frozen=True)
class Range:
    start: Pos
    end: Pos

    @classmethod
    def at(cls, line: int, col: int, end_col: int | None = None) -> Range:
        return cls(Pos(line, col), Pos(line, col if end_col is None else end_col))


@dataclass(frozen=True)
class Location:
    path: Path | None  # None: the document itself (an unsaved buffer has no path)
    range: Range


@dataclass(frozen=True)
class Diag:
    range: Range
    severity: str  # error, warning, note
    message: str
    code: str | None = None
    related: tuple[tuple[Location, str], ...] = ()


def span_range(span: Span) -> Range:
    """A 1-based span with an exclusive end as a 0-based range (one character at least).

    >>> from cnndsl.diagnostics import Source
    >>> span_range(Span(Source("a", "conv"), 1, 1, 1, 5))
    Range(start=Pos(line=0, col=0), end=Pos(line=0, col=4))
    """
    start = Pos(span.line - 1, span.col - 1)
    end = Pos(span.end_line - 1, span.end_col - 1)
    return Range(start, end if end > start else Pos(start.line, start.col + 1))


def split_lines(text: str) -> list[str]:
    """Lines as the compiler counts them (split at ``\\n``; ``\\r\\n`` ends one)."""
    return [ln[:-1] if ln.endswith("\r") else ln for ln in text.split("\n")]


@dataclass
class Analysis:
    """One compile of one text: the network (None on errors) and the diagnostics."""

    text: str
    name: str  # the source name the compiler gave the text (spans carry it)
    key: str  # its name among imported files
    path: Path | None
    files: FileSystem
    net: api.Network | None = None
    diagnostics: list[Diag] = field(default_factory=list)

    @cached_property
    def lines(self) -> list[str]:
        return split_lines(self.text)

    def path_of(self, source_name: str) -> Path | None:
        """The file a span's source name stands for (this text, an import, the prelude)."""
        if source_name == self.name:
            return self.path
        if source_name == "<prelude>":
            return PRELUDE
        return self.files.paths.get(source_name)

    def resolve(self, written: str) -> Path | None:
        """The file ``import "written"`` reads, or None."""
        try:
            key = self.files.find(written, self.key)
        except ImportProblem:
            return None
        return self.files.paths.get(key) if key else None


def analyze(text: str, path: Path | None, base: Path | None = None,
            include: Iterable[Path] = ()) -> Analysis:
    """Compile ``text`` (the file ``path``, or an unsaved buffer whose imports are read
    from ``base``) into diagnostics; never raises."""
    limits = Limits()
    files = FileSystem(path.parent if path else base, include, limits)
    name = str(path) if path else "<untitled>"
    key = display_name(files.base / path.name) if path else name
    a = Analysis(text, name, key, path, files)
    try:
        a.net = api._compile_text(text, name, files, key, path is not None, None, None,
                                  False, limits)
        found: Iterable[Diagnostic] = a.net.diagnostics
    except CnnError as e:
        found = e.diagnostics
    except UserError as e:
        a.diagnostics = [Diag(Range.at(0, 0), "error", e.message + (
            f"\nhelp: {e.help}" if e.help else ""))]
        return a
    except Exception as e:  # a bug in cnndsl: one diagnostic, and the traceback in the log
        log.exception("internal error compiling %s", name)
        a.diagnostics = [Diag(Range.at(0, 0), "error", f"internal error: {type(e).__name__}: "
                              f"{e} (a bug in cnndsl; the server's log has the traceback)")]
        return a
    # A file of blocks alone is a library to import: in an editor that is no error.
    a.diagnostics = [to_diag(d, a) for d in found if d.code != LIBRARY]
    return a


def to_diag(d: Diagnostic, a: Analysis) -> Diag:
    """A compiler diagnostic as the editor shows it: the label, notes and help follow
    the message; one found in an imported file goes on the import that reads it."""
    lines = [d.message, *([d.label] if d.label else []), *(f"note: {n}" for n in d.notes),
             *([f"help: {d.help}"] if d.help else [])]
    s, related = d.span, ()
    if s is None:
        rng = Range.at(0, 0)
    elif s.source.name == a.name:
        rng = span_range(s)
    else:
        lines[0] += f" (in {s})"
        rng = _import_line(a, s.source.name)
        where = a.path_of(s.source.name)
        related = ((Location(where, span_range(s)), d.message),) if where else ()
    return Diag(rng, d.severity, "\n".join(lines), d.code, related)


def _import_line(a: Analysis, key: str) -> Range:
    """The import of ``a``'s text that reads the file ``key`` (else its first import)."""
    found = [(i, m) for i, line in enumerate(a.lines) if (m := IMPORT.match(line))]
    target = a.files.paths.get(key)
    for i, m in found:
        if target is not None and a.resolve(m.group(2)) == target:
            return Range.at(i, m.start(2) - 1, m.end(2) + 1)
    return Range.at(found[0][0], 0, len(a.lines[found[0][0]])) if found else Range.at(0, 0)


@dataclass
class Doc:
    """An open document: its text, its current analysis, and the last one that compiled
    (hover and definition answer from it while the text has errors)."""

    uri: str
    path: Path | None
    text: str
    base: Path | None = None  # where an unsaved buffer's imports are read from
    include: tuple[Path, ...] = ()  # more folders imports may read (the workspace)
    current: Analysis = field(init=False)
    good: Analysis | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.update(self.text)

    def update(self, text: str) -> None:
        self.text = text
        self.__dict__.pop("lines", None)
        self.current = analyze(text, self.path, self.base, self.include)
        if self.current.net is not None:
            self.good = self.current

    @cached_property
    def lines(self) -> list[str]:
        return split_lines(self.text)

    @property
    def best(self) -> Analysis | None:
        """The current analysis if it compiled, else the last good one."""
        return self.current if self.current.net is not None else self.good

    def unchanged(self, a: Analysis, line: int, end_line: int | None = None) -> bool:
        """Whether lines ``line`` to ``end_line`` (1-based) of ``a``'s text read the same
        now (so what ``a`` says about them still holds)."""
        if a.text is self.text or a.text == self.text:
            return True
        lo, hi = line - 1, end_line or line
        return hi <= len(self.lines) and a.lines[lo:hi] == self.lines[lo:hi]


# ---------------------------------------------------------------- reading the text
WORD = re.compile(r"[^\W\d]\w*")
IMPORT = re.compile(r"""^\s*import\s+(["'])([^"'\n]*)\1?""", re.IGNORECASE)
HEADER = re.compile(r"^(block|network|preset)\b\s*([^\W\d]\w*)?\s*", re.IGNORECASE)


def word_at(line: str, col: int) -> tuple[str, int, int] | None:
    """The name under (or just before) column ``col``: (name, start, end)."""
    for m in WORD.finditer(line):
        if m.start() <= col <= m.end():
            return m.group(), m.start(), m.end()
    return None


def split_args(text: str) -> list[str]:
    """The comma-separated items of a parameter list, nested brackets kept whole.

    >>> split_args("c, k=max(1, 2), stride=1")
    ['c', 'k=max(1, 2)', 'stride=1']
    """
    out, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += ch in "([{"
        depth -= ch in ")]}"
        if ch == "," and depth == 0:
            out.append(text[start:i].strip())
            start = i + 1
    out.append(text[start:].strip())
    return [x for x in out if x]


@dataclass(frozen=True)
class Header:
    """A ``block``, ``network`` or ``preset`` line as written (read even from text that
    does not parse)."""

    kind: str
    name: str
    params: tuple[str, ...]  # as written: "c", "stride=1"
    line: int
    col: int  # where the name starts
    end: int

    @property
    def param_names(self) -> list[str]:
        return [p.split("=", 1)[0].strip() for p in self.params]


def headers(text: str) -> list[Header]:
    """The section headers of ``text``, in order."""
    out = []
    for i, line in enumerate(split_lines(text)):
        m = HEADER.match(line)
        if m is None or m.group(2) is None and m.group(1).lower() != "network":
            continue
        name, params = m.group(2) or "", ()
        rest = line[m.end():]
        if rest.startswith("("):
            close = _closing(rest)
            params = tuple(split_args(rest[1:close]))
        col = m.start(2) if m.group(2) else 0
        out.append(Header(m.group(1).lower(), name, params, i, col, col + len(name)))
    return out


def _closing(text: str) -> int:
    """The index of the bracket closing ``text[0]`` (the end of the text if none)."""
    depth = 0
    for i, ch in enumerate(text):
        depth += ch in "([{"
        depth -= ch in ")]}"
        if depth == 0:
            return i
    return len(text)
