"""What every importer front end makes: a graph of the language's operators, with the
module tree it came from, and what could not be read.

A front end (a traced PyTorch module, an ONNX file) adds nodes through
:class:`GraphMaker`, which fills each operator's defaults, checks the attributes as
the compiler does, and infers the output's shape with the operator's own rules: an
imported graph is a graph cnndsl could have built. The writer
(:mod:`cnndsl.importer.writer`) then turns it into source.

>>> g = GraphMaker("tiny", (3, 8, 8))
>>> x = g.add("conv", {"out": 4, "kernel": 3, "pad": 1}, [g.input], "features.0")
>>> g.add("relu", {}, [x], "features.1")
'features_1'
>>> graph = g.graph()
>>> [(n.op, n.path, str(n.type)) for n in graph]
[('input', 'input', '3x8x8'), ('conv', 'features.0', '4x8x8'), ('relu', 'features.1', '4x8x8')]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .. import ops
from ..diagnostics import CnnError
from ..elaborate.attrs import check_attr
from ..ir.graph import Graph, Node, TensorType
from ..ops.schema import REQUIRED, ShapeError


@dataclass(frozen=True)
class Unsupported:
    """An operation with no counterpart in the language: what it is (``MultiheadAttention``,
    ``torch.where``), where (the module path) and how many times it occurs there."""

    what: str
    path: str
    count: int = 1

    def __str__(self) -> str:
        times = f" ({self.count} times)" if self.count > 1 else ""
        return f"{self.what} at {self.path or '(top level)'}{times}"


@dataclass
class Imported:
    """A front end's result: the graph (paths are module paths), each module's class
    name by path (``{"layer1.0": "Bottleneck"}``; empty where the format has no
    classes, as ONNX), the original's weights by node name (tensors or arrays in the
    order the emitted module's ``state_dict`` lists that node's, counters such as
    ``num_batches_tracked`` left out), what was not understood, and notes (things read
    with a choice made, worth telling the user)."""

    graph: Graph
    classes: dict[str, str] = field(default_factory=dict)
    weights: dict[str, list[Any]] = field(default_factory=dict)
    unsupported: list[Unsupported] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class ImportFailure(Exception):
    """A node the language's rules reject (an attribute out of range, a shape the
    operator cannot take): the front end's mapping is wrong or the model is unusual."""

    def __init__(self, message: str, path: str = ""):
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path


class GraphMaker:
    """Builds an imported graph node by node; names are unique, paths kept as given."""

    def __init__(self, name: str, input_shape: Sequence[int]):
        self.name = name
        self._nodes: list[Node] = []
        self._by_name: dict[str, Node] = {}
        self._paths: set[str] = set()
        self.input = self._append(Node("input", "input", "input",
                                       (("shape", "x".join(map(str, input_shape))),), (),
                                       TensorType(tuple(input_shape)))).name

    def type_of(self, name: str) -> TensorType:
        return self._by_name[name].type

    def add(self, op: str, attrs: Mapping[str, Any], inputs: Sequence[str], path: str) -> str:
        """A node of ``op`` on ``inputs`` (node names), its attributes given as the
        language writes them (``kernel=3``, ``pad=(1, 2)``), the rest at their defaults.
        Returns the node's name. Raises :class:`ImportFailure` on what cnndsl rejects."""
        opdef = ops.lookup(op)
        if opdef is None:
            raise ImportFailure(f"no operator {op!r}", path)
        unknown = set(attrs) - {a.name for a in opdef.attrs}
        if unknown:
            raise ImportFailure(f"{op} has no attribute {', '.join(sorted(unknown))}", path)
        types = [self.type_of(i) for i in inputs]
        values: dict[str, Any] = {}
        try:
            for a in opdef.attrs:
                if a.name in attrs:
                    values[a.name] = check_attr(opdef, a, attrs[a.name], None)
                elif a.default is REQUIRED:
                    raise ImportFailure(f"{op} needs {a.name}", path)
                elif callable(a.default):  # a width from the network's defaults
                    raise ImportFailure(f"{op} needs {a.name} given", path)
                else:
                    values[a.name] = check_attr(opdef, a, a.default, None)
            values = opdef.resolve(values, types)
            out = opdef.infer(values, types)
        except ShapeError as e:
            raise ImportFailure(f"{op}: {e.message}", path) from None
        except CnnError as e:
            raise ImportFailure(f"{op}: {e}", path) from None
        return self._append(Node(self._unique(path.replace(".", "_") or op), self._path(path),
                                 opdef.name, tuple((k, v) for k, v in values.items()
                                                   if v is not None and k[:1] != "_"),
                                 tuple(inputs), out)).name

    def graph(self, output: str | None = None) -> Graph:
        """The graph so far, its output the last node unless named."""
        return Graph(self.name, tuple(self._nodes), output or self._nodes[-1].name)

    # ------------------------------------------------------------ names
    def _append(self, node: Node) -> Node:
        self._nodes.append(node)
        self._by_name[node.name] = node
        return node

    def _unique(self, name: str) -> str:
        base, k = name, 2
        while name in self._by_name:
            name, k = f"{base}_{k}", k + 1
        return name

    def _path(self, path: str) -> str:
        """Unique: a module called twice (a shared ReLU) is ``relu``, then ``relu_2``."""
        base, k = path, 2
        while path in self._paths:
            path, k = f"{base}_{k}", k + 1
        self._paths.add(path)
        return path
