"""Accumulates IR nodes with unique, stable names from the scope they are made in."""

from __future__ import annotations

from contextlib import contextmanager

from ..diagnostics import Span
from ..ir.graph import Argument, Frame, Node, TensorType
from .env import Port

# Short local names for some operators (the rest use the operator's name).
_BASE = {"maxpool": "pool", "avgpool": "avgpool", "adaptiveavgpool": "avgpool"}


class GraphBuilder:
    def __init__(self) -> None:
        self.nodes: list[Node] = []
        self.scope: list[Frame] = []
        self._counters: dict[tuple, int] = {}
        self._names: set[str] = set()
        self._path: tuple[str, ...] = ()  # the named frames' names, kept with the scope
        self.index: dict[str, int] = {}  # node name -> position in nodes

    def _named_path(self) -> tuple[str, ...]:
        return self._path

    @property
    def prefix(self) -> str:
        """The current named path (``stage2.bottleneck3``)."""
        return ".".join(self._path)

    def unique(self, name: str) -> str:
        """``name``, or ``name_2``, ... where another path already flattened to it
        (``x1_y1.z1`` and ``x1.y1_z1`` both read ``x1_y1_z1``)."""
        if name in self._names:
            k = 2
            while f"{name}_{k}" in self._names:
                k += 1
            name = f"{name}_{k}"
        self._names.add(name)
        return name

    def _next(self, key: tuple) -> int:
        self._counters[key] = self._counters.get(key, 0) + 1
        return self._counters[key]

    def add(self, op: str, attrs: dict, inputs: list[Port], out: TensorType,
            span: Span | None, base: str | None = None) -> Port:
        path = self._named_path()
        stem = base or _BASE.get(op, op)
        sep = "_" if stem[-1:].isdigit() else ""
        local = "input" if op == "input" else f"{stem}{sep}{self._next(('node', path, stem))}"
        dotted = ".".join(path + (local,)) if path else local
        node = Node(
            name=self.unique(dotted.replace(".", "_")),
            path=dotted,
            op=op,
            attrs=tuple([(k, v) for k, v in attrs.items() if v is not None and k[:1] != "_"]),
            inputs=tuple([p.node for p in inputs if p.node is not None]),
            type=out,
            span=span,
            scope=tuple(self.scope),
        )
        self.index[node.name] = len(self.nodes)
        self.nodes.append(node)
        return Port(node.name, out)

    def hoist(self, start: int, mid: int) -> bool:
        """Move the nodes made since ``mid`` before those made since ``start``: a
        shortcut computed, and emitted, before its body. False (nothing moved) where
        they read one of those."""
        earlier = {n.name for n in self.nodes[start:mid]}
        if any(i in earlier for n in self.nodes[mid:] for i in n.inputs):
            return False
        self.nodes[start:] = self.nodes[mid:] + self.nodes[start:mid]
        for i in range(start, len(self.nodes)):
            self.index[self.nodes[i].name] = i
        return True

    @contextmanager
    def frame(self, block: str, call: str, named: bool, span: Span | None,
              args: tuple = (), kind: str = "block",
              arguments: tuple[Argument, ...] | None = None):
        """Enter a block call: ``stage2`` for the second call of ``stage`` in this scope."""
        key = ("frame", self._named_path() if named else tuple(f.name for f in self.scope), block)
        sep = "_" if block[-1:].isdigit() else ""
        name = f"{block}{sep}{self._next(key)}"
        self.scope.append(Frame(name, block, call, named, span, args, kind, arguments))
        outer = self._path
        if named:
            self._path = outer + (name,)
        try:
            yield
        finally:
            self.scope.pop()
            self._path = outer
