"""A view as a Mermaid flowchart (GitHub and GitLab render it inside Markdown)."""

from __future__ import annotations

import re

from .style import family, legend_entries, shape
from .view import Box, Item, View

INDENT = "  "
_SHAPES = {"circle": ('(("', '"))'), "box3d": ('[["', '"]]'), "io": ('(["', '"])'),
           "box": ('("', '")')}


def text(s: str) -> str:
    """Label text inside double quotes (Mermaid's entity codes for the specials)."""
    return s.replace("#", "#35;").replace('"', "#34;").replace("<", "#60;").replace(">", "#62;")


class _Ids:
    """Mermaid ids: the view's ids made alphanumeric, kept unique."""

    def __init__(self) -> None:
        self.ids: dict[str, str] = {}
        self.used: set[str] = set()

    def __call__(self, key: str) -> str:
        if key not in self.ids:
            base = "n_" + re.sub(r"\W", "_", key)
            mid, k = base, 1
            while mid in self.used:
                k += 1
                mid = f"{base}_{k}"
            self.used.add(mid)
            self.ids[key] = mid
        return self.ids[key]


def to_mermaid_text(view: View, rankdir: str = "TB", legend: bool = True) -> str:
    ids = _Ids()
    how = f"depth {view.depth}" + (" (automatic)" if view.auto else "")
    lines = [f"%% {view.name}: drawn by cnndsl at {how}", f"flowchart {rankdir}"]
    classes: dict[str, list[str]] = {}
    _items(view.items, lines, 1, ids, classes)
    for e in view.edges:
        label = f'|"{text(e.label)}"|' if e.label else ""
        lines.append(f"{INDENT}{ids(e.src)} -->{label} {ids(e.dst)}")
    if legend:
        lines.append(f'{INDENT}subgraph legend ["legend"]')
        for name, fam in legend_entries(view.families):
            lid = ids("legend/" + name)
            lines.append(f'{INDENT * 2}{lid}["{text(fam.legend)}"]')
            classes.setdefault(name, []).append(lid)
        lines.append(f"{INDENT}end")
    for name, members in classes.items():
        fam = family(name)
        lines.append(f"{INDENT}classDef {_cls(name)} fill:{fam.fill},stroke:#4d4d4d,color:#000")
        lines.append(f"{INDENT}class {','.join(members)} {_cls(name)}")
    return "\n".join(lines) + "\n"


def _cls(family_name: str) -> str:
    return "f_" + re.sub(r"\W", "_", family_name)


def _items(items: tuple[Item, ...], out: list[str], level: int, ids: _Ids,
           classes: dict[str, list[str]]) -> None:
    pad = INDENT * level
    for it in items:
        if isinstance(it, Box):
            out.append(f"{pad}{ids(it.id)}{_node(it)}")
            classes.setdefault(it.family, []).append(ids(it.id))
        else:
            out.append(f'{pad}subgraph {ids(it.id)} ["{text(it.label)}"]')
            _items(it.items, out, level + 1, ids, classes)
            out.append(f"{pad}end")


def _node(b: Box) -> str:
    kind = "io" if b.family == "io" else shape(b.family, b.title, b.lines)
    left, right = _SHAPES.get(kind, _SHAPES["box"])
    label = "<br/>".join(text(x) for x in (b.title, *b.lines))
    return f"{left}{label}{right}"


__all__ = ["to_mermaid_text"]
