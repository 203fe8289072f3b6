"""The network's part of the program: its lines, one per part of the model (its stem,
each stage, its head) as the zoo's files read rather than one long chain, its
``classes`` parameter, and the program's text.

A line of the body starts at a top-level module (a ``layer1``, a ``features``), the
network's own layers after it staying on its line; a long one is cut where a stage
ends (after a pool, before a block that shrinks the map), and short neighbours are
joined again (``layer(64, 2) - layer(128, 3)`` on one line).

>>> from cnndsl.importer.expr import Context, Layer, Stmt
>>> conv = Layer("conv", (("out", 8), ("kernel", (3, 3))), frozenset({"out", "kernel"}), tag="a")
>>> relu = Layer("relu", (), frozenset(), tag="b")
>>> network_lines((Stmt((conv, relu)),), Context())
['conv(8, 3) - relu']
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..ir.graph import Graph, Node
from .expr import Call, Context, Layer, Ref, Repeat, Stmt, Verbatim, chain, item, labelled
from .layer_text import attr_literal, call_text, opdef

WIDTH = 96  # longest line before it is cut at a stage's end
STAGE = 40  # a cut leaves at least this much on the line
JOIN = 60  # neighbours joined where they fit in this
JOIN_CALLS = 90  # neighbours of block calls only, in this


def network_lines(body: Sequence[Stmt], ctx: Context) -> list[str]:
    """The body's statements as lines; a statement may take several."""
    out: list[str] = []
    for i, s in enumerate(body):
        pieces = [q for p in _by_tag(s.items) for q in _stages(p, ctx)] or [[]]
        lines = []
        for k, piece in enumerate(pieces):
            tail = i == len(body) - 1 and k == len(pieces) - 1
            text = chain(piece, ctx, tail)
            if k == len(pieces) - 1 and s.label is not None:
                text = labelled(text, piece, ctx.tensors[s.label])
            lines.append((text, _calls(piece)))
        out += _join(lines)
    return out


def _tag(it) -> str:
    if isinstance(it, Repeat) and it.body:
        return _tag(it.body[0])
    return getattr(it, "tag", "")


def _by_tag(items: Sequence) -> list[list]:
    """A line from each top-level module on, the network's own layers after it kept
    on its line."""
    pieces: list[list] = []
    for it in items:
        if pieces and (_tag(it) in ("", _tag(pieces[-1][-1]))
                       or isinstance(pieces[-1][-1], Ref)):
            pieces[-1].append(it)
        else:
            pieces.append([it])
    return pieces


def _ends(it) -> bool:
    """A layer that shrinks the map ends a stage (a pool), also as a repeat's last."""
    if isinstance(it, Repeat):
        return _ends(it.body[-1])
    return isinstance(it, Layer) and it.down


def _starts(it) -> bool:
    """A block that shrinks the map starts a stage (its first block)."""
    if isinstance(it, Repeat):
        return _starts(it.body[0])
    return isinstance(it, (Call, Verbatim)) and it.down


def _stages(piece: list, ctx: Context) -> list[list]:
    """A long piece cut where a stage ends: after a layer that shrinks the map (a
    pool), before a block that does (its first block)."""
    lengths = [len(item(it, ctx)) + 3 for it in piece]
    if sum(lengths) <= WIDTH:
        return [piece]
    out, current, size = [], [], 0
    for it, n in zip(piece, lengths):
        if _starts(it) and size >= STAGE:
            out.append(current)
            current, size = [], 0
        current.append(it)
        size += n
        if _ends(it) and size >= STAGE:
            out.append(current)
            current, size = [], 0
    if current:
        out.append(current)
    return out


def _calls(piece: list) -> bool:
    return bool(piece) and all(
        isinstance(x, (Call, Verbatim)) or isinstance(x, Repeat) and _calls(list(x.body))
        for x in piece)


def _join(lines: list[tuple[str, bool]]) -> list[str]:
    out: list[tuple[str, bool]] = []
    for text, calls in lines:
        if out:
            prev, prev_calls = out[-1]
            joined = f"{prev} - {text}"
            limit = JOIN_CALLS if calls and prev_calls else JOIN
            if " as " not in prev and len(joined) <= limit:
                out[-1] = (joined, calls and prev_calls)
                continue
        out.append((text, calls))
    return [t for t, _ in out]


@dataclass
class Program:
    """The written program: its blocks, the network's header and its lines."""

    blocks: list[str]
    name: str
    params: str
    input: str
    lines: list[str]

    def text(self, header: str = "") -> str:
        out = [header] if header else []
        out += self.blocks
        if self.blocks:
            out.append("")
        out.append(f"network {self.name}{self.params}:")
        out.append(f"    input {self.input}")
        out += ["    " + ln for ln in self.lines]
        return "\n".join(out) + "\n"


def classes_param(g: Graph, body: tuple[Stmt, ...]) -> tuple[int | None, tuple[Stmt, ...]]:
    """The network's `classes`: the width of its output where that is an fc's or
    the softmax classifier's (which reads it), its last fc then `fc(classes)`."""
    out = g[g.output]
    if not (out.op == "fc" or _classifier(out)):
        return None, body
    width = out.type.dims[0]
    heads = [g[n.inputs[0]] for n in g.nodes if _classifier(n)]
    if {h.type.dims[0] for h in heads} - {width}:
        return None, body  # classifiers of other widths: each reads its own fc
    if not body or not body[-1].items:
        return width, body
    items = list(body[-1].items)
    k = len(items) - 1
    if isinstance(items[k], Layer) and items[k].op == "softmax" and k:
        k -= 1
    last = items[k]
    if not (isinstance(last, Layer) and last.op == "fc" and dict(last.values)["out"] == width):
        return width, body
    items[k] = Verbatim(call_text(opdef(last.op), [("out", "classes")] + [
        (a, attr_literal(last.op, a, v)) for a, v in last.values
        if a in last.shown and a != "out"]),
        tag=last.tag)
    return width, body[:-1] + (Stmt(tuple(items), body[-1].label),)


def _classifier(node: Node) -> bool:
    """The softmax classifier (the compiler makes it at the end of the network or of
    an aux head; it reads `classes` where its input is not an fc)."""
    return node.op == "softmax" and bool(dict(node.attrs).get("head"))
