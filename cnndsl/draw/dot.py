"""A view as Graphviz DOT text.

NOTE: the DOT is written directly rather than through the ``graphviz`` package: the
text is a few statement kinds, the output must be byte-stable, and ``.dot``/``.mmd``
then work on an install without the optional package. Only rendering needs Graphviz.
"""

from __future__ import annotations

from .style import FONT, family, legend_entries, shape
from .view import Box, Cluster, Item, View

INDENT = "  "


def quote(text: str) -> str:
    """A DOT string literal; newlines become centred line breaks."""
    body = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{body}"'


def html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def attrs(pairs: list[tuple[str, str]]) -> str:
    """``[k=v, ...]``; values are raw (already quoted or HTML ``<...>``)."""
    return "[" + ", ".join(f"{k}={v}" for k, v in pairs) + "]"


def to_dot_text(view: View, rankdir: str = "TB", legend: bool = True) -> str:
    how = f"depth {view.depth}" + (" (automatic)" if view.auto else "")
    lines = [
        f"// {view.name}: drawn by cnndsl at {how}",
        f"digraph {quote(view.name)} {{",
        f"{INDENT}graph {attrs([('rankdir', rankdir), ('fontname', quote(FONT)), ('fontsize', '10'), ('nodesep', '0.3'), ('ranksep', '0.3'), ('newrank', 'true')])}",
        f"{INDENT}node {attrs([('shape', 'box'), ('style', quote('rounded,filled')), ('fontname', quote(FONT)), ('fontsize', '11'), ('height', '0.3'), ('penwidth', '0.8'), ('color', quote('#4d4d4d'))])}",
        f"{INDENT}edge {attrs([('fontname', quote(FONT)), ('fontsize', '9'), ('fontcolor', quote('#555555')), ('color', quote('#555555')), ('arrowsize', '0.6')])}",
    ]
    _items(view.items, lines, 1)
    for e in view.edges:
        label = f" {attrs([('label', quote(e.label))])}" if e.label else ""
        lines.append(f"{INDENT}{quote(e.src)} -> {quote(e.dst)}{label}")
    if legend:  # below the output, so that it stretches no rank of the drawing
        lines.append(f"{INDENT}{_legend(view)}")
        lines.append(f'{INDENT}"output" -> legend [style=invis]')
    lines.append("}")
    return "\n".join(lines) + "\n"


def _items(items: tuple[Item, ...], out: list[str], level: int) -> None:
    pad = INDENT * level
    for it in items:
        if isinstance(it, Box):
            out.append(f"{pad}{quote(it.id)} {attrs(_box_attrs(it))}")
        else:
            _cluster(it, out, level)


def _cluster(c: Cluster, out: list[str], level: int) -> None:
    pad = INDENT * level
    out.append(f"{pad}subgraph {quote(c.id)} {{")
    out.append(f"{pad}{INDENT}graph {attrs([('label', quote(c.label)), ('labeljust', 'l'), ('style', quote('rounded,dashed')), ('color', quote('#969696')), ('fontcolor', quote('#525252'))])}")
    _items(c.items, out, level + 1)
    out.append(f"{pad}}}")


def _box_attrs(b: Box) -> list[tuple[str, str]]:
    fam = family(b.family)
    pairs = [("label", _label(b)), ("class", quote(b.family)),
             ("fillcolor", quote(fam.fill))]
    s = shape(b.family, b.title, b.lines)
    if s != "box":
        pairs.append(("shape", s))
    if s == "circle":
        pairs += [("width", "0.3"), ("fixedsize", "true")]
    elif b.family == "merge":
        pairs += [("fontsize", "9"), ("height", "0.2")]
    if b.family == "io":
        pairs.append(("style", quote("rounded")))
    if b.tooltip:
        pairs.append(("tooltip", quote(b.tooltip)))
    return pairs


def _label(b: Box) -> str:
    if not b.lines:
        return quote(b.title)
    sub = "".join(f'<br/><font point-size="9" color="#404040">{html(x)}</font>'
                  for x in b.lines)
    return f"<{html(b.title)}{sub}>"


def _legend(view: View) -> str:
    rows = "".join(
        f'<tr><td bgcolor="{fam.fill}" width="14"> </td><td align="left">{html(fam.legend)}'
        "</td></tr>"
        for _, fam in legend_entries(view.families))
    table = ('<table border="0" cellborder="1" cellspacing="0" cellpadding="3">'
             f'<tr><td colspan="2"><b>legend</b></td></tr>{rows}</table>')
    return f"legend {attrs([('shape', 'plaintext'), ('style', quote('')), ('fontsize', '9'), ('label', f'<{table}>')])}"
