"""The IR: a DAG of operator nodes in topological order, plain data.

A node has an op name, resolved attributes (ints, floats, strings, bools, int tuples),
the names of its inputs, its output type, the span of the source that made it and its
scope (the block calls it sits in). The batch dimension is implicit.

>>> t = TensorType((64, 56, 56))
>>> str(t), t.is_map, t.numel
('64x56x56', True, 200704)
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from ..diagnostics import Source, Span, UserError
from .schema import FORMAT, VERSION, problems

AttrValue = int | float | bool | str | tuple | None


@dataclass(frozen=True)
class TensorType:
    """A feature map ``C×H×W`` (three dims) or a vector ``F`` (one dim), batch implicit."""

    dims: tuple[int, ...]

    @property
    def is_map(self) -> bool:
        return len(self.dims) == 3

    @property
    def is_vector(self) -> bool:
        return len(self.dims) == 1

    @property
    def channels(self) -> int:
        return self.dims[0]

    @property
    def numel(self) -> int:
        n = 1
        for d in self.dims:
            n *= d
        return n

    def __str__(self) -> str:
        return "x".join(str(d) for d in self.dims)

    @classmethod
    def parse(cls, text: str) -> TensorType:
        """``"3x32x32"`` or ``"784"``; raises ValueError on anything else."""
        parts = text.strip().lower().replace("×", "x").split("x")
        dims = tuple(int(p) for p in parts)
        if len(dims) not in (1, 3) or any(d <= 0 for d in dims):
            raise ValueError(text)
        return cls(dims)


@dataclass(frozen=True)
class Argument:
    """One parameter of a block call, as a reader of the call sees it.

    ``value`` is the argument's text with numbers evaluated (``128``, ``relu``); ``given``
    says how the call passed it: ``positional``, ``keyword``, or ``default`` (not passed:
    ``value`` is then the default, evaluated where it is a number); ``default`` is the
    parameter's default as the block's signature writes it, None for a required one.
    """

    name: str
    value: str
    given: str = "positional"
    default: str | None = None


@dataclass(frozen=True)
class Frame:
    """One block call on the way from the network to a node.

    ``name`` is the instance name (``stage2``); ``block`` the block called (``stage``);
    ``call`` the call as written with its arguments evaluated (``stage(128, 4)``);
    ``named`` frames contribute to node names and become submodules in the emitted code
    (user blocks, ``aux`` heads); a ``residual`` is unnamed and only groups nodes.
    ``kind`` is ``block`` for a call of a ``block`` definition (the program's, an
    import's, the prelude's) and ``builtin`` for a block the compiler expands itself
    (``residual``, ``aux``). ``args`` holds the numeric arguments by name (for the
    emitted classes); ``arguments`` every parameter of a block's call in the signature's
    order (for a reader: :mod:`cnndsl.draw.calls`). It is None for a built-in, which has
    no signature (``call`` says it all), and in an IR written before it was recorded.
    """

    name: str
    block: str
    call: str
    named: bool = True
    span: Span | None = field(default=None, compare=False)
    args: tuple[tuple[str, int | float], ...] = ()  # the numeric arguments, by name
    kind: str = "block"
    arguments: tuple[Argument, ...] | None = None


@dataclass(frozen=True)
class Node:
    name: str  # unique: path with dots as underscores (stage2_basic1_conv1)
    path: str  # module path in the emitted code (stage2.basic1.conv1)
    op: str
    attrs: tuple[tuple[str, AttrValue], ...]
    inputs: tuple[str, ...]
    type: TensorType
    span: Span | None = field(default=None, compare=False)
    scope: tuple[Frame, ...] = ()

    @cached_property
    def a(self) -> dict[str, AttrValue]:
        """The attributes as a dict (made once: the passes read it for every node)."""
        return dict(self.attrs)

    @property
    def local(self) -> str:
        return self.path.rsplit(".", 1)[-1]

    def scope_str(self) -> str:
        return "/".join(f.name for f in self.scope)


@dataclass(frozen=True)
class Graph:
    """A network: nodes in topological order; the first is the ``input`` node."""

    name: str
    nodes: tuple[Node, ...]
    output: str
    params: Mapping[str, Any] = field(default_factory=dict, compare=False)
    num_classes: int | None = None
    aux: tuple[str, ...] = ()  # auxiliary outputs (training-time heads, e.g. GoogLeNet's)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {n.name: n for n in self.nodes})

    def __getitem__(self, name: str) -> Node:
        return self._index[name]  # type: ignore[attr-defined]

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes)

    def __len__(self) -> int:
        return len(self.nodes)

    @property
    def input(self) -> Node:
        return self.nodes[0]

    @property
    def input_type(self) -> TensorType:
        return self.nodes[0].type

    @property
    def output_type(self) -> TensorType:
        return self[self.output].type

    def ancestors(self, names) -> set[str]:
        """The nodes ``names`` are computed from, themselves included."""
        return ancestors(self._index, names)  # type: ignore[attr-defined]

    def consumers(self) -> dict[str, list[str]]:
        """The nodes that read each node's output (results not included)."""
        uses: dict[str, list[str]] = {n.name: [] for n in self.nodes}
        for n in self.nodes:
            for i in n.inputs:
                uses[i].append(n.name)
        return uses

    # ------------------------------------------------------------ verification
    def lint(self) -> list[str]:
        """Structural problems (an internal-consistency check, not user diagnostics)."""
        problems = []
        seen: set[str] = set()
        for n in self.nodes:
            if n.name in seen:
                problems.append(f"duplicate node name {n.name}")
            for i in n.inputs:
                if i not in seen:
                    problems.append(f"{n.name} uses {i} before it is defined")
            seen.add(n.name)
        for out in (self.output, *self.aux):
            if out not in seen:
                problems.append(f"output {out} is not a node")
        return problems

    # ------------------------------------------------------------ printing
    def dump(self) -> str:
        """One deterministic line per node: what golden tests compare."""
        lines = [f"network {self.name}"]
        for n in self.nodes:
            args = ", ".join("%" + i for i in n.inputs)
            attrs = ", ".join(f"{k}={_fmt(v)}" for k, v in n.attrs)
            inner = "; ".join(x for x in (args, attrs) if x)
            where = f"  @{n.scope_str()}" if n.scope else ""
            lines.append(f"  %{n.name} = {n.op}({inner}) : {n.type}{where}")
        aux = "".join(f", aux %{a}" for a in self.aux)
        lines.append(f"  return %{self.output}{aux}")
        return "\n".join(lines)

    # ------------------------------------------------------------ JSON
    def to_json(self) -> dict:
        """The graph as JSON data, versioned (the schema: cnndsl/ir/schema.py,
        docs/ir-schema.json)."""
        return {
            "format": FORMAT,
            "version": VERSION,
            "name": self.name,
            "output": self.output,
            "aux": list(self.aux),
            "num_classes": self.num_classes,
            "params": dict(self.params),
            "nodes": [
                {
                    "name": n.name,
                    "path": n.path,
                    "op": n.op,
                    "attrs": {k: _jsonable(v) for k, v in n.attrs},
                    "inputs": list(n.inputs),
                    "type": list(n.type.dims),
                    "span": n.span.to_json() if n.span else None,
                    "scope": [_frame_json(f) for f in n.scope],
                }
                for n in self.nodes
            ],
        }

    @classmethod
    def from_json(cls, data: dict | str) -> Graph:
        """The graph of :meth:`to_json`'s data (or its text), checked first: a document
        of another format, a newer version, or one that breaks the schema or the
        graph's own rules (inputs defined before use, the output a node) raises
        :class:`~cnndsl.diagnostics.UserError` naming each problem. Sources are names
        only: their text is not part of the IR."""
        return cls.from_document(check_document(data))

    @classmethod
    def from_document(cls, data: dict) -> Graph:
        """The graph of a document :func:`check_document` has passed."""
        sources: dict[str, Source] = {}

        def span_of(s: dict | None) -> Span | None:
            if not s:
                return None
            src = sources.setdefault(s["file"], Source(s["file"], ""))
            return Span(src, s["line"], s["column"], s["end_line"], s["end_column"])

        nodes = []
        for d in data["nodes"]:
            span = span_of(d.get("span"))
            scope = tuple(_frame(f, span_of(f.get("span"))) for f in d.get("scope", ()))
            attrs = tuple((k, tuple(v) if isinstance(v, list) else v)
                          for k, v in d["attrs"].items())
            nodes.append(Node(d["name"], d["path"], d["op"], attrs, tuple(d["inputs"]),
                              TensorType(tuple(d["type"])), span, scope))
        graph = cls(data["name"], tuple(nodes), data["output"], data.get("params", {}),
                    data.get("num_classes"), tuple(data.get("aux", ())))
        broken = graph.lint()
        if nodes[0].op != "input":
            broken.append("the first node is not the `input` node")
        if broken:
            raise _not_ir(broken)
        return graph


def _frame_json(f: Frame) -> dict:
    out = {"name": f.name, "block": f.block, "call": f.call, "named": f.named, "kind": f.kind,
           "args": [list(a) for a in f.args]}
    if f.arguments is not None:
        out["arguments"] = [{"name": a.name, "value": a.value, "given": a.given,
                             "default": a.default} for a in f.arguments]
    out["span"] = f.span.to_json() if f.span else None
    return out


def _frame(f: dict, span: Span | None) -> Frame:
    """A frame of a document; one written before frames had a kind and arguments reads
    as a named frame being a block's (an unnamed one a built-in's), arguments unknown."""
    arguments = f.get("arguments")
    return Frame(f["name"], f["block"], f["call"], f["named"], span,
                 tuple((k, v) for k, v in f.get("args", ())),
                 f.get("kind", "block" if f["named"] else "builtin"),
                 None if arguments is None else tuple(
                     Argument(a["name"], a["value"], a["given"], a.get("default"))
                     for a in arguments))


def check_document(data: Any) -> dict:
    """``data`` (JSON text or its dict) if it is a cnndsl IR document this version
    reads, else :class:`~cnndsl.diagnostics.UserError` saying why.

    >>> try:
    ...     check_document('{"format": "cnndsl-ir", "version": 99}')
    ... except UserError as e:
    ...     print(e.message)
    the IR is format version 99, newer than this cnndsl reads (1)
    """
    if isinstance(data, (str, bytes)):
        try:
            data = json.loads(data)
        except ValueError as e:
            raise UserError(f"the IR is not JSON: {e}", help=_HELP) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        got = data.get("format") if isinstance(data, dict) else None
        raise UserError(f'not a cnndsl IR document ("format" is {json.dumps(got)[:40]}, '
                        f'not "{FORMAT}")', help=_HELP)
    version = data.get("version")
    if isinstance(version, int) and not isinstance(version, bool) and version > VERSION:
        raise UserError(f"the IR is format version {version}, newer than this cnndsl reads "
                        f"({VERSION})", help="upgrade cnndsl, or emit the IR with the "
                        "version that reads it")
    found = problems(data)
    if found:
        raise _not_ir(found)
    return data


_HELP = "give what Network.to_json() or `cnndsl compile --emit ir-json` wrote"


def _not_ir(found: list[str]) -> UserError:
    shown = "; ".join(found[:5]) + ("; ..." if len(found) > 5 else "")
    return UserError(f"not a valid cnndsl IR document: {shown}",
                     help="see docs/ir-schema.json for the fields; " + _HELP)


def ancestors(nodes: Mapping[str, Node], names) -> set[str]:
    """The nodes (of ``nodes``, by name) that ``names`` are computed from, and themselves."""
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(nodes[name].inputs)
    return seen


def _fmt(v: AttrValue) -> str:
    if isinstance(v, tuple):
        return "x".join(str(x) for x in v)
    if isinstance(v, str):
        return repr(v)
    return str(v)


def _jsonable(v: AttrValue):
    return list(v) if isinstance(v, tuple) else v
