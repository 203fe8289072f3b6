"""Hover, go-to-definition, document symbols, inlay hints and formatting for a document.

Each is a plain function of a :class:`Doc` (and a 0-based position) returning plain
data; the server turns it into LSP messages.

>>> doc = Doc("untitled:a", None, "input 3x32x32\\nconv(64, 3) - relu\\ngap - fc(10)\\n")
>>> [h.label for h in inlay_hints(doc)]
['→ 64x32x32', '→ 10']
>>> "| 64x32x32 | 1,792 |" in hover(doc, Pos(1, 2)).text
True

NOTE: IR nodes carry the span of the text that made them, so "what is under the
cursor" is the innermost span holding it: a layer's node, or a block call (a scope
frame's span), which then stands for every node inside the call. A layer written in a
block body made one node per call, so its hover has one row per call. Answers come
from the last good compile while the text has errors, but only about lines that read
the same as they did then.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from dataclasses import dataclass

from .. import ops
from ..diagnostics import CnnError, Span
from ..elaborate import builtins
from ..elaborate.elaborator import PRELUDE
from ..ir.graph import Frame, Node
from ..report import LayerRow, node_row
from ..syntax import ast
from ..syntax.parser import parse
from .analysis import (
    IMPORT,
    Analysis,
    Doc,
    Location,
    Pos,
    Range,
    headers,
    span_range,
    word_at,
)

MAX_ROWS = 12  # block calls listed in one hover


@dataclass(frozen=True)
class Hover:
    text: str  # Markdown
    range: Range | None = None


@dataclass(frozen=True)
class Symbol:
    name: str
    kind: str  # network, block, preset
    detail: str
    range: Range
    selection: Range


@dataclass(frozen=True)
class Hint:
    pos: Pos
    label: str


@dataclass(frozen=True)
class Edit:
    range: Range
    text: str


# ---------------------------------------------------------------- hover
def hover(doc: Doc, pos: Pos) -> Hover | None:
    """What the layer or block call under ``pos`` computes, else the operator or block
    named there."""
    a = doc.best
    found = _innermost(doc, a, pos) if a is not None else None
    return found or _name_hover(doc, a, pos)


def _contains(span: Span | None, a: Analysis, pos: Pos) -> bool:
    return (span is not None and span.source.name == a.name
            and (span.line, span.col) <= (pos.line + 1, pos.col + 1)
            <= (span.end_line, span.end_col))


def _innermost(doc: Doc, a: Analysis, pos: Pos) -> Hover | None:
    # (size, kind, span) -> row -> nodes; a call ("0") wins over a node ("1") of one span
    hits: dict[tuple, dict[str, list[Node]]] = {}
    frames: dict[tuple, Frame] = {}
    for node in a.net.graph.nodes[1:]:
        for k, f in enumerate(node.scope):
            if _contains(f.span, a, pos):
                key = (_size(f.span), "0", _where(f.span))
                hits.setdefault(key, {}).setdefault(_path(node.scope[: k + 1]), []).append(node)
                frames[key] = f
        if _contains(node.span, a, pos):
            key = (_size(node.span), "1", _where(node.span))
            hits.setdefault(key, {})[node.name] = [node]  # a row per node (and per call)
    for key in sorted(hits):
        s = key[2]
        if not doc.unchanged(a, s[0], s[2]):
            continue
        groups = hits[key]
        if key[1] == "0":
            f = frames[key]
            head = _block_head(a, f.block) if f.kind == "block" else f"**{f.block}** (built in)"
        else:
            node = list(groups.values())[-1][0]  # fc, not the flatten it brings
            op = ops.get(node.op)
            head = f"**{op.describe(node.attr_map, node.type)}**: {op.doc.split('. ')[0].rstrip('.')}"
        rng = Range(Pos(s[0] - 1, s[1] - 1), Pos(s[2] - 1, s[3] - 1))
        return Hover(head + "\n\n" + _table(a, groups), rng)
    return None


def _size(s: Span) -> tuple[int, int]:
    return (s.end_line - s.line, s.end_col - s.col)


def _where(s: Span) -> tuple[int, int, int, int]:
    return (s.line, s.col, s.end_line, s.end_col)


def _path(frames: Iterable) -> str:
    return "/".join(f.name for f in frames)


def _row(a: Analysis, nodes: list[Node]) -> tuple[str, int, int, str]:
    """Output, parameters, MACs and receptive field of nodes run in order."""
    rows: list[LayerRow] = [node_row(n, a.net.cost.nodes[n.name], a.net.receptive_fields.get(
        n.name)) for n in nodes]
    rf = rows[-1].receptive_field
    return ("x".join(map(str, rows[-1].output)), sum(r.params for r in rows),
            sum(r.macs for r in rows), str(rf) if rf else "")


def _table(a: Analysis, groups: dict[str, list[Node]]) -> str:
    out = ["| | output | params | MACs | RF |", "|:--|:--|--:|--:|--:|"]
    for name, nodes in list(groups.items())[:MAX_ROWS]:
        shape, params, macs, rf = _row(a, nodes)
        out.append(f"| {name} | {shape} | {params:,} | {macs:,} | {rf} |")
    if len(groups) > MAX_ROWS:
        out.append(f"\n... and {len(groups) - MAX_ROWS} more calls")
    return "\n".join(out)


def block_signature(b: ast.BlockDef) -> str:
    params = ", ".join(p.name + (f"={p.default.text}" if p.default is not None else "")
                       for p in b.params)
    return f"block {b.name}({params})"


def _block_head(a: Analysis, name: str) -> str:
    b = a.net.blocks.get(name.lower()) if a.net is not None else None
    if b is None:
        return f"**{name}**"
    where = b.span.source.name
    at = f"line {b.span.line}" if where == a.name else f"{where}:{b.span.line}"
    return f"```cnn\n{block_signature(b)}\n```\ndefined at {at}"


def _name_hover(doc: Doc, a: Analysis | None, pos: Pos) -> Hover | None:
    """An operator's signature and doc, or a block's signature and its calls' figures."""
    line = doc.lines[pos.line] if pos.line < len(doc.lines) else ""
    w = word_at(line, pos.col)
    if w is None:
        return None
    name, rng = w[0], Range.at(pos.line, w[1], w[2])
    if a is not None and name.lower() in a.net.blocks:
        calls: dict[str, list[Node]] = {}
        for node in a.net.graph.nodes[1:]:
            for k, f in enumerate(node.scope):
                if f.kind == "block" and f.block.lower() == name.lower():
                    calls.setdefault(_path(node.scope[: k + 1]), []).append(node)
        return Hover(_block_head(a, name) + ("\n\n" + _table(a, calls) if calls else ""), rng)
    h = next((h for h in headers(doc.text) if h.kind == "block"
              and h.name.lower() == name.lower()), None)
    if h is not None:
        return Hover(f"```cnn\nblock {h.name}({', '.join(h.params)})\n```", rng)
    op = ops.lookup(name)
    if op is not None and op.family != "io":
        from ..commands.ops import _sig  # the signature `cnndsl ops` prints
        alias = f"\n\naliases: {', '.join(op.aliases)}" if op.aliases else ""
        return Hover(f"```cnn\n{_sig(op)}\n```\n{op.doc}{alias}", rng)
    if builtins.lookup(name) is not None:
        return Hover(f"**{name.lower()}**: built in (see docs/language.md)", rng)
    return None


# ---------------------------------------------------------------- definition
def definition(doc: Doc, pos: Pos) -> list[Location]:
    """Where the block named at ``pos`` is defined, or the file an import reads."""
    line = doc.lines[pos.line] if pos.line < len(doc.lines) else ""
    m = IMPORT.match(line)
    if m and m.start(2) - 1 <= pos.col <= m.end(2) + 1:
        target = doc.current.resolve(m.group(2))
        return [Location(target, Range.at(0, 0))] if target else []
    w = word_at(line, pos.col)
    if w is None:
        return []
    name = w[0].lower()
    for h in headers(doc.text):
        if h.kind == "block" and h.name.lower() == name:
            return [Location(doc.path, Range.at(h.line, h.col, h.end))]
    a = doc.best
    b = a.net.blocks.get(name) if a is not None else None
    if b is not None and b.span.source.name != a.name:
        where = a.path_of(b.span.source.name)
        text = b.span.source.line(b.span.line)
        col = max(0, text.lower().find(b.name.lower(), b.span.col - 1))
        return [Location(where, Range.at(b.span.line - 1, col, col + len(b.name)))] \
            if where else []
    for h in headers(PRELUDE.read_text(encoding="utf-8")):
        if h.kind == "block" and h.name.lower() == name:
            return [Location(PRELUDE, Range.at(h.line, h.col, h.end))]
    return []


# ---------------------------------------------------------------- symbols
def symbols(doc: Doc) -> list[Symbol]:
    """The network, the blocks and the presets (from the last good parse while the
    text does not parse)."""
    a = doc.current
    try:
        program = a.net.program if a.net is not None else parse(doc.text, a.name)
    except (CnnError, RecursionError):
        program = doc.good.net.program if doc.good is not None else None
    if program is None:
        return []
    out = []
    n = program.network
    if n is not None:
        spans = [n.span, *(s.span for s in n.body)]
        last = max(spans, key=lambda s: (s.end_line, s.end_col))
        full = Range(span_range(n.span).start, span_range(last).end)
        net = doc.best.net if doc.best is not None else None
        shapes = f" {net.graph.input_type} → {net.graph.output_type}" if net else ""
        out.append(Symbol(n.name or (net.name if net else "network"), "network",
                          _params(n.params) + shapes, full, _head(doc, n.span)))
    for b in program.blocks:
        out.append(Symbol(b.name, "block", _params(b.params), span_range(b.span),
                          _head(doc, b.span)))
    for p in program.presets:
        args = ", ".join(f"{x.name}={x.value.text}" if x.name else x.value.text for x in p.args)
        out.append(Symbol(p.name, "preset", f"({args})", span_range(p.span),
                          _head(doc, p.span)))
    return out


def _params(params: tuple[ast.Param, ...]) -> str:
    return "(" + ", ".join(p.name + (f"={p.default.text}" if p.default is not None else "")
                           for p in params) + ")"


def _head(doc: Doc, span: Span) -> Range:
    """The first line of a span (a header), as a symbol's name range."""
    text = doc.lines[span.line - 1] if span.line <= len(doc.lines) else ""
    end = span.end_col - 1 if span.end_line == span.line else len(text)
    return Range.at(span.line - 1, span.col - 1, max(span.col, end))


# ---------------------------------------------------------------- inlay hints
def inlay_hints(doc: Doc, rng: Range | None = None) -> list[Hint]:
    """The output shape after each line that makes layers, at the line's end (a line of
    a block body shows each call's shape, when they differ)."""
    a = doc.best
    if a is None:
        return []
    last: dict[int, dict[tuple, tuple[int, Node]]] = {}  # line -> call -> (index, node)
    for i, node in enumerate(a.net.graph.nodes[1:], 1):
        anchors = [(node.span, len(node.scope))] + [(f.span, k) for k, f in enumerate(node.scope)]
        for span, depth in anchors:
            if span is not None and span.source.name == a.name:
                call = tuple(f.name for f in node.scope[:depth] if f.named)
                last.setdefault(span.end_line, {})[call] = (i, node)
    out = []
    for line, calls in sorted(last.items()):
        if rng is not None and not rng.start.line <= line - 1 <= rng.end.line:
            continue
        if line > len(doc.lines) or not doc.unchanged(a, line):
            continue
        shapes = list(dict.fromkeys(str(n.type) for _, n in sorted(calls.values(),
                                                                  key=lambda x: x[0])))
        label = "→ " + ", ".join(shapes[:3]) + (", ..." if len(shapes) > 3 else "")
        out.append(Hint(Pos(line - 1, len(doc.lines[line - 1].rstrip())), label))
    return out


# ---------------------------------------------------------------- formatting
def formatting(doc: Doc) -> list[Edit]:
    """One edit replacing the whole text with ``cnndsl.fmt``'s layout; none when the
    text is already formatted or does not parse."""
    try:
        fmt = importlib.import_module("cnndsl.fmt")
        new = fmt.format_source(doc.text)
    except (ImportError, CnnError, RecursionError):
        return []
    if new == doc.text:
        return []
    end = Pos(len(doc.lines) - 1, len(doc.lines[-1]))
    return [Edit(Range(Pos(0, 0), end), new)]
