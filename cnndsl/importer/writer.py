"""The import writer: an IR graph back to readable cnndsl source.

:func:`write_source` writes a graph (a front end's, or one cnndsl compiled) as a
program: its modules as blocks (one block with parameters for the modules of one
structure), runs folded into repeats, merges and residuals as the language writes
them, named tensors only where the graph needs them. What it returns compiles to the
same network, names aside (:func:`cnndsl.ir.canon.first_difference`), without a
warning: it compiles what it wrote to check, and where that differs it writes the
network plainer (no shared parameters or folds, then no blocks, then one line per
layer); if even that differs it raises :class:`~cnndsl.importer.common.ImportFailure`
naming the difference. Warnings about the network itself (a window that does not fit
its input) are kept on their line as ``# allow CODE`` comments.

>>> from cnndsl import compile
>>> net = compile("input 3x32x32\\nconv(16, 3) - bn - relu - residual(conv(16, 3) - bn) - gap - fc(10)")
>>> print(write_source(net.graph, name="tiny"), end="")
network tiny(classes=10):
    input 3x32x32
    conv(16, 3) - bn - relu - residual(conv(16, 3) - bn) - gap - fc(classes)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from ..diagnostics import CnnError, visible
from ..fmt import WIDTH, format_source
from ..ir.canon import first_difference
from ..ir.graph import Graph
from .assemble import Assembler, Plan
from .common import ImportFailure
from .names import Names

# From the most readable to the plainest; the first that compiles to the graph is kept.
PLANS = (Plan(), Plan(share=False, fold=False, residual=False),
         Plan(blocks=False, share=False, fold=False, residual=False),
         Plan(blocks=False, share=False, fold=False, residual=False, explicit=True))
# Warnings that say something about the network (kept with an `allow` comment); any
# other warning means the writing is wrong.
ALLOWED = {"W0301", "W0501", "W0601", "W0702"}


def classes_from_frames(graph: Graph) -> dict[str, str]:
    """For a graph cnndsl compiled: each named block call's module path and its block's
    name (``{"layer1": "layer", "layer1.bottleneck1": "bottleneck"}``), what a front end
    gives as class names.

    >>> from cnndsl import compile
    >>> g = compile("block b(c) = conv(c, 3) - relu\\ninput 3x8x8\\nb(4) - b(8)").graph
    >>> classes_from_frames(g)
    {'b1': 'b', 'b2': 'b'}
    """
    out: dict[str, str] = {}
    for node in graph.nodes:
        path: list[str] = []
        for f in node.scope:
            if not f.named:
                continue
            path.append(f.name)
            if f.kind == "block":
                out.setdefault(".".join(path), f.block)
    return out


def write_source(graph: Graph, classes: Mapping[str, str] | None = None, *,
                 name: str | None = None, header: str = "") -> str:
    """``graph`` as cnndsl source that compiles to the same network (names aside) with
    no warning. ``classes``: module path -> class name (names the blocks); ``name``: the
    network's (else the graph's); ``header``: text put first, as comment lines."""
    _check(graph)
    title = Names().fresh(name or (graph.name if graph.name != "network" else "net"),
                          fallback="net")
    comment = _comment(header)
    why = ""
    for plan in PLANS:
        try:
            text = Assembler(graph, dict(classes or {}), plan, title).program().text(comment)
        except ImportFailure as e:
            why = str(e)
            continue
        except (KeyError, ValueError, TypeError, IndexError, StopIteration,
                RecursionError) as e:
            why = f"internal error ({type(e).__name__}: {e})"  # a plainer plan may do
            continue
        result = check(text, graph)
        if result.text is not None:
            return result.text
        why = result.why
    raise ImportFailure(f"the network cannot be written so that it compiles to itself: {why}")


@dataclass
class Checked:
    text: str | None  # the source, with `allow` comments where the network warns
    why: str = ""


def check(text: str, graph: Graph) -> Checked:
    """``text`` formatted, where it compiles to ``graph`` with no warning but those
    about the network itself (then allowed on their lines); else why not."""
    why = _differs(text, graph)
    if isinstance(why, str):
        return Checked(None, why)
    try:
        text = format_source(text, name=SOURCE)
    except CnnError as e:
        return Checked(None, f"it does not format: {e}")
    why = _differs(text, graph)
    if isinstance(why, list):  # warnings about the network: allowed where they are
        text = _allow(text, why)
        why = _differs(text, graph)
        aligned = format_source(text, name=SOURCE) if why is None else text
        if aligned != text and _fits(aligned) and _differs(aligned, graph) is None:
            text = aligned  # the comments of consecutive lines in one column
    if why is not None:
        return Checked(None, why if isinstance(why, str) else "its warnings remain")
    return Checked(text)


def _fits(text: str) -> bool:
    return all(len(ln) <= WIDTH for ln in text.splitlines())


SOURCE = "<import>"


def _differs(text: str, graph: Graph) -> str | list | None:
    """None where ``text`` compiles to ``graph`` without a warning, the warnings where
    they alone are about the network itself (and on a line of ``text``), else what is
    wrong."""
    from ..api import loads

    try:
        net = loads(text, name=SOURCE)
    except CnnError as e:
        first = next((d for d in e.diagnostics if d.is_error), e.diagnostics[0])
        return f"it does not compile: {first.code} {first.message}"
    diff = first_difference(graph, net.graph)
    if diff is not None:
        return diff
    warnings = [d for d in net.diagnostics if d.severity == "warning"]
    bad = next((d for d in warnings if d.code not in ALLOWED or d.span is None
                or d.span.source.name != SOURCE), None)
    if bad is not None:
        return f"it warns: {bad.code} {bad.message}"
    return warnings or None


def _allow(text: str, warnings) -> str:
    """``# allow CODE`` on each warned line. Where that makes the line too long, the
    line is broken after what is warned about, or before it, or between two warned
    things (each line then allows its own)."""
    lines = text.split("\n")
    marks: dict[int, list[tuple[int, str]]] = {}
    for d in warnings:
        marks.setdefault(d.span.line - 1, []).append((d.span.col - 1, d.code))
    for i in sorted(marks, reverse=True):
        lines[i:i + 1] = _commented(lines[i], sorted(marks[i]))
    return "\n".join(lines)


_BREAK = re.compile(r" - | \| |, |\(")  # where a line may go on on the next one


def _commented(line: str, marks: list[tuple[int, str]]) -> list[str]:
    """``line`` with an ``allow`` comment for ``marks`` (column, code), on as many
    lines as it takes to stay within the width."""
    codes = list(dict.fromkeys(code for _, code in marks))

    def put(code: str) -> str:
        comment = f"allow {' '.join(codes)}"
        return f"{code}, {comment}" if "#" in code else f"{code}  # {comment}"
    if len(put(line)) <= WIDTH or "#" in line:
        return [put(line)]
    first, last = marks[0][0], marks[-1][0]
    indent = len(line) - len(line.lstrip())
    more = " " * (indent + 4 if indent in (0, 4) else indent)
    found = [(m.end() - (1 if m.group() != "(" else 0), m.group()) for m in _BREAK.finditer(line)]
    cuts = [c for c, sep in found if sep.strip() in "-|"]  # between layers; else inside calls
    fits = [c for c in cuts if c > last and len(put(line[:c].rstrip())) <= WIDTH]
    cuts = cuts if fits else [c for c, _ in found]

    def split(at: int) -> tuple[str, str, int]:
        rest = line[at:].lstrip()
        return line[:at].rstrip(), more + rest, len(more) - (len(line) - len(rest))
    after = [c for c in cuts if c > last and len(put(line[:c].rstrip())) <= WIDTH]
    if after:
        return [put(line[:after[-1]].rstrip()), more + line[after[-1]:].lstrip()]
    before = [c for c in cuts if indent < c <= first]
    between = [c for c in cuts if first < c <= last]
    if before or between:
        head, tail, shift = split((before or between)[-1])
        ahead = [m for m in marks if m[0] < len(head)]
        moved = [(c + shift, code) for c, code in marks if c >= len(head)]
        return (_commented(head, ahead) if ahead else [head]) + _commented(tail, moved)
    return [put(line)]


def _comment(header: str) -> str:
    """The header as comment lines, whatever it holds."""
    if not header:
        return ""
    lines = [visible(ln).rstrip() for ln in str(header).splitlines()]
    return "\n".join("#" + (" " + ln.lstrip("#").lstrip() if ln.strip("# ") else "")
                     for ln in lines)


def _check(graph: Graph) -> None:
    """What no writing can give: a graph that breaks the IR's rules, nodes no output
    needs (a compile leaves them out)."""
    if not graph.nodes or graph.nodes[0].op != "input":
        raise ImportFailure("the graph does not start with its input node")
    broken = graph.lint()
    if broken:
        raise ImportFailure(f"the graph is not consistent: {'; '.join(broken[:3])}")
    main = graph.ancestors([graph.output])
    shared = [a for a in graph.aux if a in main]
    if shared:  # aux(...) branches off; its own tensor cannot also be the main chain's
        raise ImportFailure(f"an auxiliary head that continues from a tensor of another "
                            f"part: the main output also reads {shared[0]}")
    live = graph.ancestors([graph.output, *graph.aux])
    dead = [n.path or n.name for n in graph.nodes if n.name not in live and n.op != "input"]
    if dead:
        shown = ", ".join(dead[:4]) + (", ..." if len(dead) > 4 else "")
        raise ImportFailure(f"{len(dead)} node(s) reach no output of the network: {shown}")
