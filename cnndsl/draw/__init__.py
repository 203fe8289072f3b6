"""Network diagrams: Graphviz DOT, Mermaid, and rendered SVG/PNG/PDF.

>>> from cnndsl import compile
>>> net = compile("input 3x32x32\\nconv(16, 3, stride=2) - relu - pool - fc(10)")
>>> print(to_dot(net, legend=False).splitlines()[6])
  "conv1" [label="3x3 conv, 16, /2", class="conv", fillcolor="#9ecae1", tooltip="conv1 (conv)"]

See :mod:`cnndsl.draw.view` for levels of detail and folding, docs/diagrams.md for use.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..ir.graph import Graph
from .dot import to_dot_text
from .mermaid import to_mermaid_text
from .rendering import FORMATS, draw_file, render, which_dot
from .view import ANNOTATIONS, SHAPES, View, build_view

if TYPE_CHECKING:
    from ..api import Network


def view(net: Network | Graph, depth: int | None = None, unroll: bool = False,
         annotate: tuple[str, ...] | str = (), shapes: str = "changes") -> View:
    """The :class:`View` (boxes, clusters, edges) of a Network or Graph."""
    from ..diagnostics import UserError
    graph = net if isinstance(net, Graph) else net.graph
    if depth is not None and depth < 0:
        raise UserError(f"depth must be 0 or more, got {depth}", exit_code=2)
    if shapes not in SHAPES:
        raise UserError(f"unknown shapes option {shapes!r}",
                        help=f"choose from {', '.join(SHAPES)}", exit_code=2)
    return build_view(graph, depth, unroll, _annotations(annotate), shapes)


def to_dot(net: Network | Graph, depth: int | None = None, unroll: bool = False,
           annotate: tuple[str, ...] | str = (), rankdir: str = "TB",
           legend: bool = True, shapes: str = "changes") -> str:
    """Graphviz DOT source; see :func:`draw` for the options."""
    v = view(net, depth, unroll, annotate, shapes)
    return to_dot_text(v, _rankdir(rankdir), legend)


def to_mermaid(net: Network | Graph, depth: int | None = None, unroll: bool = False,
               annotate: tuple[str, ...] | str = (), rankdir: str = "TB",
               legend: bool = True, shapes: str = "changes") -> str:
    """Mermaid flowchart source (renders in Markdown on GitHub and GitLab)."""
    v = view(net, depth, unroll, annotate, shapes)
    return to_mermaid_text(v, _rankdir(rankdir), legend)


def draw(net: Network | Graph, path: str | Path, force: bool = False, **options) -> Path:
    """Write the diagram to ``path``; the format comes from the extension (see FORMATS).

    ``path`` must be new or a file cnndsl wrote; ``force=True`` replaces any other
    regular file (never a directory, link, device or FIFO: see :mod:`cnndsl.outputs`).

    Options: ``depth`` (block calls nested deeper are drawn as one box; None picks the
    deepest level that keeps about 25 boxes), ``unroll`` (draw repeated blocks instead of
    folding them into "x N"), ``annotate`` (any of params, macs, rf), ``rankdir`` (TB or
    LR), ``legend``, ``shapes`` (edge labels where shapes change, on all edges, none).

    Rendered formats need the Graphviz ``dot`` program; without it the ``.dot`` is
    written next to ``path`` and a :class:`~cnndsl.diagnostics.UserError` says how to
    install Graphviz.
    """
    path = Path(path)
    if path.suffix.lower() == ".mmd":
        text = to_mermaid(net, **options)
    else:
        text = to_dot(net, **options)
    return draw_file(text, path, force)


def to_svg_or_none(net: Network | Graph) -> str | None:
    """The SVG text of the diagram, or None where Graphviz is missing or fails (Jupyter)."""
    if which_dot() is None:
        return None
    try:
        return render(to_dot(net), "svg").decode("utf-8")
    except Exception:
        return None


def _annotations(annotate: tuple[str, ...] | str) -> tuple[str, ...]:
    from ..diagnostics import UserError
    items = annotate.split(",") if isinstance(annotate, str) else list(annotate)
    wanted = tuple(dict.fromkeys(a.strip().lower() for a in items if a.strip()))
    bad = [a for a in wanted if a not in ANNOTATIONS]
    if bad:
        raise UserError(f"unknown annotation {', '.join(bad)}",
                        help=f"choose from {', '.join(ANNOTATIONS)}", exit_code=2)
    return wanted


def _rankdir(rankdir: str) -> str:
    from ..diagnostics import UserError
    r = rankdir.upper()
    if r not in ("TB", "LR", "BT", "RL"):
        raise UserError(f"unknown rankdir {rankdir!r}", help="TB (top to bottom) or LR",
                        exit_code=2)
    return r


__all__ = ["FORMATS", "draw", "to_dot", "to_mermaid", "to_svg_or_none", "view"]
