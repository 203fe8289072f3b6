"""Accumulates IR nodes with unique, stable names from the scope they are made in."""

from __future__ import annotations

from contextlib import contextmanager

from ..diagnostics import Span
from ..ir.graph import Frame, Node, TensorType
from .env import Port

# Short local names for some operators (the rest use the operator's name).
_BASE = {"maxpool": "pool", "avgpool": "avgpool", "adaptiveavgpool": "avgpool"}


class GraphBuilder:
    def __init__(self) -> None:
        self.nodes: list[Node] = []
        self.scope: list[Frame] = []
        self._counters: dict[tuple, int] = {}

    def _named_path(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.scope if f.named)

    def _next(self, key: tuple) -> int:
        self._counters[key] = self._counters.get(key, 0) + 1
        return self._counters[key]

    def add(self, op: str, attrs: dict, inputs: list[Port], out: TensorType,
            span: Span | None, base: str | None = None) -> Port:
        path = self._named_path()
        stem = base or _BASE.get(op, op)
        sep = "_" if stem[-1:].isdigit() else ""
        local = "input" if op == "input" else f"{stem}{sep}{self._next(('node', path, stem))}"
        dotted = ".".join(path + (local,))
        node = Node(
            name=dotted.replace(".", "_"),
            path=dotted,
            op=op,
            attrs=tuple((k, v) for k, v in attrs.items() if v is not None and not k.startswith("_")),
            inputs=tuple(p.node for p in inputs if p.node is not None),
            type=out,
            span=span,
            scope=tuple(self.scope),
        )
        self.nodes.append(node)
        return Port(node.name, out)

    @contextmanager
    def frame(self, block: str, call: str, named: bool, span: Span | None,
              args: tuple = ()):
        """Enter a block call: ``stage2`` for the second call of ``stage`` in this scope."""
        key = ("frame", self._named_path() if named else tuple(f.name for f in self.scope), block)
        sep = "_" if block[-1:].isdigit() else ""
        name = f"{block}{sep}{self._next(key)}"
        self.scope.append(Frame(name, block, call, named, span, args))
        try:
            yield
        finally:
            self.scope.pop()
