"""Module paths from ONNX node names: the module tree the writer makes blocks from.

The torch exporters name a node by the modules it ran in and its operator:
``/layer1/layer1.0/conv1/Conv`` is the ``Conv`` of the module ``layer1.0.conv1``. Each
step is the module's name from its last part that is not a number (``layer1.0`` for
``layer1``'s first child, ``conv1`` for ``layer1.0.conv1``), so the full path is
rebuilt step by step (:func:`module_of`).

A node is one operator of the language, made of one ONNX node or several (a GELU
written as five). It takes the path of the smallest module that holds exactly its
ONNX nodes: ``layer1.0.conv1``; a node computed in a block's forward (``x + identity``,
``torch.cat``) is one of several in its module and takes the module's path and its
operator's name: ``layer1.0.add``. Names of another form (other exporters) carry no
module: such nodes are named by their operator and a count (``conv1``, ``conv2``).

>>> module_of("/layer1/layer1.0/conv1/Conv"), module_of("/features/features.0/features.0.0/Conv")
('layer1.0.conv1', 'features.0.0')
>>> module_of("/Flatten"), module_of("conv2d_3")
('', None)
>>> t = Tree({"a": "/layer1/layer1.0/conv1/Conv", "b": "/layer1/layer1.0/Add",
...           "c": "/layer1/layer1.0/relu/Relu"})
>>> t.path(["a"], "conv"), t.path(["b"], "add"), t.path(["c"], "relu")
('layer1.0.conv1', 'layer1.0.add', 'layer1.0.relu')
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping


def module_of(name: str) -> str | None:
    """The module path in a torch exporter's node name; None for a name of another form.
    Each step adds its last part: a module's own name is one word, and a step's other
    parts repeat its parent's path."""
    if not name.startswith("/"):
        return None
    return ".".join(step.rsplit(".", 1)[-1] for step in name.split("/")[1:-1])


def _under(scope: str, module: str) -> bool:
    return not module or scope == module or scope.startswith(module + ".")


class Tree:
    """The module tree of a graph's nodes, given as id -> ONNX node name, for the nodes
    that make the language's operators (constants and dropped nodes left out)."""

    def __init__(self, names: Mapping[str, str]):
        self.scope = {k: module_of(v) for k, v in names.items()}
        self.count: Counter[str] = Counter()  # nodes run in each module, nested included
        for s in self.scope.values():
            if s:
                parts = s.split(".")
                for i in range(1, len(parts) + 1):
                    self.count[".".join(parts[:i])] += 1
        self._anonymous: Counter[str] = Counter()

    def _owns(self, module: str, scopes: list[str]) -> bool:
        """Whether ``module`` runs these nodes and no other."""
        return bool(module) and self.count[module] == sum(_under(s, module) for s in scopes)

    def path(self, ids: list[str], op: str) -> str:
        """The path of the operator ``op`` made of the ONNX nodes ``ids`` (main first)."""
        scopes = [s for s in (self.scope[i] for i in ids) if s is not None]
        if not scopes:
            self._anonymous[op] += 1
            return f"{op}{self._anonymous[op]}"
        common = _common(scopes)
        if self._owns(common, scopes):
            return common
        main = scopes[0]
        if self._owns(main, scopes):
            return main
        return f"{main}.{op}" if main else op


def _common(scopes: Iterable[str]) -> str:
    parts = [s.split(".") if s else [] for s in scopes]
    out = []
    for atoms in zip(*parts):
        if len(set(atoms)) != 1:
            break
        out.append(atoms[0])
    return ".".join(out)
