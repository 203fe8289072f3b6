"""The written program before it is text: chains of layers, block calls, merges,
residuals, repeats, named tensors and auxiliary heads, with their numbers.

A body is statements (one a line): each a chain that continues from the previous
line's tensor (or starts from a named one) and may name its result. Numbers stay
values here, so that the instances of a module can be compared by their *skeleton*
(:func:`skeleton`: everything but the numbers) and a shared block made of them, whose
numbers (:func:`slots`, in one fixed order) become its parameters
(:mod:`cnndsl.importer.templates`). :func:`render` writes a body as source, with the
numbers literal or as a template's expressions.

>>> body = (Stmt((Layer("conv", (("out", 8), ("kernel", (3, 3))), frozenset({"out", "kernel"})),
...               Repeat((Layer("relu", (), frozenset()),), 2))),)
>>> render(body, Context())
['conv(8, 3) - relu * 2']
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from .layer_text import attr_literal, call_text, literal, opdef


# ---------------------------------------------------------------- the items
@dataclass(frozen=True)
class Layer:
    """One operator: its attributes (the node's, schema order) and those to write."""

    op: str
    values: tuple[tuple[str, Any], ...]
    shown: frozenset[str]
    tag: str = field(default="", compare=False)  # the module it came from (line breaks)
    down: bool = field(default=False, compare=False)  # it shrinks the map (a stage ends)


@dataclass(frozen=True)
class Call:
    """A call of a shared block (``block`` its id), one argument per parameter."""

    block: int
    args: tuple[Any, ...]
    tag: str = field(default="", compare=False)
    down: bool = field(default=False, compare=False)  # it shrinks the map
    body: tuple = field(default=(), compare=False)  # the layers it makes, where a chain


@dataclass(frozen=True)
class Sym:
    """An argument written as an expression (``(1 + repeat_index) / 108``)."""

    text: str


@dataclass(frozen=True)
class Verbatim:
    """A call written as it stands (a prelude block's, checked to give the module)."""

    text: str
    tag: str = field(default="", compare=False)
    down: bool = field(default=False, compare=False)


@dataclass(frozen=True)
class Merge:
    kind: str
    branches: tuple[tuple, ...]  # each a chain of items; empty: `id`
    tag: str = field(default="", compare=False)


@dataclass(frozen=True)
class Residual:
    """``residual(body)``; ``mode`` the shortcut where the shape changes: "" (the
    projection), "pad", "conv" or "none"."""

    body: tuple
    mode: str = ""
    tag: str = field(default="", compare=False)


@dataclass(frozen=True)
class Ref:
    """A named tensor of the body (``tensor`` its number; 0 is the body's input)."""

    tensor: int


@dataclass(frozen=True)
class Label:
    """``as NAME`` on the chain so far (inside a one-line chain: an aux head's)."""

    tensor: int


@dataclass(frozen=True)
class Aux:
    head: tuple
    tag: str = field(default="", compare=False)


@dataclass(frozen=True)
class Repeat:
    body: tuple
    count: int
    tag: str = field(default="", compare=False)


@dataclass(frozen=True)
class Stmt:
    items: tuple
    label: int | None = None  # the tensor this line names


Item = Layer | Call | Verbatim | Merge | Residual | Ref | Label | Aux | Repeat


# ---------------------------------------------------------------- skeletons and slots
@dataclass(frozen=True)
class Slot:
    """A number of a body: a layer's attribute, a call's argument or a repeat count.
    ``free``: inside a repeat of zero (any value does)."""

    kind: str  # attr, arg, count
    value: Any
    op: str = ""  # the operator (attr) or block id (arg, as text)
    name: str = ""  # the attribute, or the parameter's index
    shown: bool = True
    free: bool = False
    layer: int = -1  # the first slot of the layer it belongs to (attr)


def skeleton(items: Sequence, label: int | None = None) -> tuple:
    """Everything of a chain but its numbers."""
    out: list = []
    for it in items:
        if isinstance(it, Layer):
            out.append(("L", it.op))
        elif isinstance(it, Call):
            out.append(("C", it.block))
        elif isinstance(it, Merge):
            out.append(("M", it.kind, tuple(skeleton(b) for b in it.branches)))
        elif isinstance(it, Residual):
            out.append(("R", it.mode, skeleton(it.body)))
        elif isinstance(it, Repeat):
            out.append(("P", skeleton(it.body)))
        elif isinstance(it, Aux):
            out.append(("A", skeleton(it.head)))
        else:  # Ref, Label, Verbatim
            out.append(it)
    return (tuple(out), label)


def body_skeleton(body: Sequence[Stmt]) -> tuple:
    return tuple(skeleton(s.items, s.label) for s in body)


def slots(items: Sequence, free: bool = False) -> Iterator[Slot]:
    """The numbers of a chain in the order :func:`render` reads them."""
    yield from _slots(items, free, [0])


def _slots(items: Sequence, free: bool, count: list[int]) -> Iterator[Slot]:
    for it in items:
        if isinstance(it, Layer):
            first = count[0]
            for k, v in it.values:
                count[0] += 1
                yield Slot("attr", v, it.op, k, k in it.shown, free, first)
        elif isinstance(it, Call):
            for i, v in enumerate(it.args):
                count[0] += 1
                yield Slot("arg", v, str(it.block), str(i), True, free)
        elif isinstance(it, Merge):
            for b in it.branches:
                yield from _slots(b, free, count)
        elif isinstance(it, (Residual, Aux)):
            yield from _slots(it.body if isinstance(it, Residual) else it.head, free, count)
        elif isinstance(it, Repeat):
            yield from _slots(it.body, free or it.count == 0, count)
            count[0] += 1
            yield Slot("count", it.count, free=free)


def calls(items: Sequence) -> Iterator[int]:
    """The blocks a chain calls (by id), nested ones included."""
    for it in items:
        if isinstance(it, Call):
            yield it.block
        elif isinstance(it, Merge):
            for b in it.branches:
                yield from calls(b)
        elif isinstance(it, (Residual, Aux, Repeat)):
            yield from calls(it.head if isinstance(it, Aux) else it.body)


def body_slots(body: Sequence[Stmt]) -> list[Slot]:
    count = [0]  # slots numbered through the whole body
    return [s for stmt in body for s in _slots(stmt.items, False, count)]


# ---------------------------------------------------------------- text
@dataclass(frozen=True)
class Param:
    name: str
    default: Any = None
    has_default: bool = False
    role: str = ""  # what it sets (``c``, ``stride``), several may share one


@dataclass
class Signature:
    name: str
    params: tuple[Param, ...] = ()


@dataclass
class Context:
    """What rendering needs: the blocks' signatures by id, the tensors' names, and a
    template's slot texts (None: the numbers are literal). A slot text of None leaves
    the attribute or argument out."""

    blocks: dict[int, Signature] = field(default_factory=dict)
    tensors: dict[int, str] = field(default_factory=dict)
    texts: Iterator[str | None] | None = None


def render(body: Sequence[Stmt], ctx: Context) -> list[str]:
    """One line of text per statement."""
    lines = []
    for i, s in enumerate(body):
        text = chain(s.items, ctx, tail=i == len(body) - 1)
        if s.label is not None:
            text = labelled(text, s.items, ctx.tensors[s.label])
        lines.append(text)
    return lines


def labelled(text: str, items: Sequence, name: str) -> str:
    if not items:
        return f"id as {name}"
    if isinstance(items[-1], (Repeat, Label)):
        return f"({text}) as {name}"
    return f"{text} as {name}"


def chain(items: Sequence, ctx: Context, tail: bool = False) -> str:
    parts: list[str] = []
    for i, it in enumerate(items):
        last = tail and i == len(items) - 1
        if isinstance(it, Label):
            so_far = " - ".join(parts)
            parts = [labelled(so_far, items[:i], ctx.tensors[it.tensor])]
            continue
        parts.append(item(it, ctx, last))
    return " - ".join(parts) if parts else "id"


def item(it: Any, ctx: Context, tail: bool = False) -> str:
    if isinstance(it, Layer):
        return layer(it, ctx, tail)
    if isinstance(it, Call):
        return call(it, ctx)
    if isinstance(it, Verbatim):
        return it.text
    if isinstance(it, Merge):
        return f"{it.kind}({' | '.join(chain(b, ctx) for b in it.branches)})"
    if isinstance(it, Residual):
        mode = f", shortcut={it.mode}" if it.mode else ""
        return f"residual({chain(it.body, ctx)}{mode})"
    if isinstance(it, Ref):
        return ctx.tensors[it.tensor]
    if isinstance(it, Aux):
        return f"aux({chain(it.head, ctx, tail=True)})"
    if isinstance(it, Repeat):
        body = chain(it.body, ctx, tail)
        count = _next(ctx, str(it.count))
        if count == "1":  # a template's repeat that is one everywhere
            return body
        if len(it.body) > 1 or isinstance(it.body[0], (Repeat, Label)):
            body = f"({body})"
        return f"{body} * {count if count.isidentifier() or count.isdigit() else f'({count})'}"
    raise TypeError(it)


def _next(ctx: Context, literal_text: str | None) -> str | None:
    return literal_text if ctx.texts is None else next(ctx.texts)


def layer(it: Layer, ctx: Context, tail: bool = False) -> str:
    op = opdef(it.op)
    args = []
    for k, v in it.values:
        text = _next(ctx, attr_literal(it.op, k, v) if k in it.shown else None)
        if text is not None:
            args.append((k, text))
    text = call_text(op, args, positional=lambda name, t: name == t)
    if tail and it.op == "softmax" and not dict(it.values).get("head"):
        return "softmax(head=false)"  # at the end, a bare softmax is the classifier
    return text


def call(it: Call, ctx: Context) -> str:
    sig = ctx.blocks[it.block]
    texts = []
    for p, v in zip(sig.params, it.args):
        if ctx.texts is None:
            texts.append(v.text if isinstance(v, Sym) else
                         None if p.has_default and v == p.default else literal(v))
        else:
            texts.append(next(ctx.texts))
    parts, by_position = [], True
    for p, t in zip(sig.params, texts):
        if t is None:
            by_position = False
            continue
        if by_position and (not p.has_default or t == p.name):
            parts.append(t)
        else:
            by_position = False
            parts.append(f"{p.name}={t}")
    return f"{sig.name}({', '.join(parts)})" if parts else sig.name
