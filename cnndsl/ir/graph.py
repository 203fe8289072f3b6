"""The IR: a DAG of operator nodes in topological order, plain data.

A node has an op name, resolved attributes (ints, floats, strings, bools, int tuples),
the names of its inputs, its output type, the span of the source that made it and its
scope (the block calls it sits in). The batch dimension is implicit.

>>> t = TensorType((64, 56, 56))
>>> str(t), t.is_map, t.numel
('64x56x56', True, 200704)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from ..deprecation import renamed_attribute
from ..diagnostics import Span

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
    """One operator application. ``attrs`` are its resolved attributes as ``(name,
    value)`` pairs in the operator's order (what the IR records and prints);
    ``attr_map`` is the same as a dict, for reading one by name (``node.attr_map["out"]``).

    >>> from cnndsl import compile
    >>> conv = compile("input 1x8x8\\nconv(4, 3) - fc(2)").graph["conv1"]
    >>> conv.attrs[:2], conv.attr_map["kernel"]
    ((('out', 4), ('kernel', (3, 3))), (3, 3))
    """

    name: str  # unique: path with dots as underscores (stage2_basic1_conv1)
    path: str  # module path in the emitted code (stage2.basic1.conv1)
    op: str
    attrs: tuple[tuple[str, AttrValue], ...]
    inputs: tuple[str, ...]
    type: TensorType
    span: Span | None = field(default=None, compare=False)
    scope: tuple[Frame, ...] = ()

    @cached_property
    def attr_map(self) -> dict[str, AttrValue]:
        """The attributes as a dict, name to value (made once: the passes read it for
        every node); :attr:`attrs` is the same as ``(name, value)`` pairs in the
        operator's order, as the IR records them."""
        return dict(self.attrs)

    a = renamed_attribute("attr_map", "a", "Node")

    @property
    def local(self) -> str:
        return self.path.rsplit(".", 1)[-1]

    def scope_str(self) -> str:
        return "/".join(f.name for f in self.scope)


@dataclass(frozen=True)
class Graph:
    """A network: nodes in topological order; the first is the ``input`` node.
    ``bindings`` are the values its parameters were bound to (``--set``; ``params`` is
    their old, deprecated name)."""

    name: str
    nodes: tuple[Node, ...]
    output: str
    bindings: Mapping[str, Any] = field(default_factory=dict, compare=False)  # --set
    num_classes: int | None = None
    aux: tuple[str, ...] = ()  # auxiliary outputs (training-time heads, e.g. GoogLeNet's)

    params = renamed_attribute("bindings", "params", "Graph")

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
                    problems.append(f"{n.name} uses {i} before it is defined"
                                    if i in self._index else  # type: ignore[attr-defined]
                                    f"{n.name} uses {i}, which is not a node")
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
        """The graph as JSON data, format version 2 (:mod:`cnndsl.ir.document`; the
        schema: cnndsl/ir/schema.py, docs/ir-schema.json)."""
        from .document import to_document
        return to_document(self)

    @classmethod
    def from_json(cls, data: dict | str) -> Graph:
        """The graph of :meth:`to_json`'s data (or its text; version 1 or 2), checked
        first: a document of another format, a newer version, or one that breaks the
        schema or the graph's own rules (inputs defined before use, the output a node)
        raises :class:`~cnndsl.diagnostics.UserError` naming each problem. Sources are
        names only: their text is not part of the IR. Whether each node follows from
        its operator is :func:`cnndsl.from_json`'s check, not this one's."""
        from .document import graph_of, read
        return graph_of(read(data))


def check_document(data: Any) -> dict:
    """``data`` (JSON text or its dict) if it is a cnndsl IR document this version
    reads, in version 2's shape, else :class:`~cnndsl.diagnostics.UserError` saying why.

    >>> from cnndsl import UserError
    >>> try:
    ...     check_document('{"format": "cnndsl-ir", "version": 99}')
    ... except UserError as e:
    ...     print(e.message)
    the IR is format version 99, newer than this cnndsl reads (1, 2)
    """
    from .document import read
    return read(data)


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

