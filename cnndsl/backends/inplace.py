"""Which values the emitted forward may overwrite: ``nn.ReLU(inplace=True)`` and
``x += identity``, as torchvision writes them, where the IR proves nobody can tell.

A value may be overwritten by the one operation that reads it when

- nothing else reads it: no other node, not the network's result or an auxiliary head
  (a named tensor read later is another node reading it), and it is not the network's
  input, which belongs to the caller;
- the operation that made it does not read its own output in backward
  (:data:`FRESH`); and
- it is not its input under another name: an operator in :data:`ALIASES` may return its
  input itself or a view of it (dropout at evaluation returns its input), so both it and
  its input must pass the same test.

Overwriting such a value changes no value any other computation uses, forward or
backward; in-place and out-of-place kernels compute the same numbers, so outputs and
gradients are bit-identical to the out-of-place emission (``emit(..., inplace=False)``,
which the tests compare against).
"""

from __future__ import annotations

from collections.abc import Mapping

from ..ir.graph import Graph, Node

# Operators whose output is a new tensor that their backward does not read (PyTorch's
# autograd formulas, tools/autograd/derivatives.yaml): convolutions and linear layers
# save input and weight; batch and group norm their input and statistics; max pooling
# its input and indices; average, adaptive and global pooling and upsampling their input
# or only sizes; concat, add, mean (add, divide by a constant), scale (multiply by a
# constant) and the position bias nothing; mul its inputs; LRN its input and the divisor
# (it ends in ``input / div``). Activations are never here: ReLU and sigmoid, tanh,
# softmax and ELU read their output in backward, and an in-place one returns its input.
FRESH = frozenset({
    "conv", "deconv", "fc", "bn", "groupnorm", "lrn", "maxpool", "avgpool", "gap", "gmp",
    "adaptiveavgpool", "upsample", "concat", "add", "mean", "mul", "scale", "posbias",
})
# Operators that may return their input or a view of it: identity, flatten (a view),
# dropout and droppath (their input at evaluation), the classifier softmax (the logits
# themselves), padding by nothing (zeropad, shortcut_pad with no new channels) and a
# sum or product of one branch.
ALIASES = frozenset({"identity", "flatten", "dropout", "droppath", "softmax", "zeropad",
                     "shortcut_pad"})
# Activations with an in-place form whose backward reads the result and gives the same
# gradient as the out-of-place form: ReLU (both read the result), ReLU6 (``hardtanh_``:
# the result is at a bound exactly where the input is past it), leaky ReLU with a slope
# >= 0 (the result has the input's sign; PyTorch refuses a negative slope in place).
ACTIVATIONS = frozenset({"relu", "relu6", "leakyrelu"})
# Merges written as an augmented assignment; two inputs only (``a + b + c`` is
# ``(a + b) + c``, and ``a += b + c`` would round differently).
AUGMENTED = {"add": "+="}


def _kind(node: Node, graph: Graph) -> str:
    if node.op == "softmax":
        return "alias" if node.attr_map.get("head") else ""
    if node.op in ("add", "mul") and len(node.inputs) == 1:
        return "alias"  # written as its one input
    if node.op == "zeropad" and any(node.attr_map["pad"]):
        return "fresh"
    if node.op == "shortcut_pad" and node.type.channels > graph[node.inputs[0]].type.channels:
        return "fresh"  # F.pad with zero channels added: a new tensor
    if node.op in ALIASES:
        return "alias"
    return "fresh" if node.op in FRESH else ""


class Overwrites:
    """Answers "may ``reader`` overwrite ``value``?" for one graph.

    ``uses`` is each node's readers, with ``"<output>"``/``"<aux>"`` for the results.
    """

    def __init__(self, graph: Graph, uses: Mapping[str, list[str]]):
        self.graph = graph
        self.uses = uses

    def allowed(self, value: str, reader: str) -> bool:
        while True:
            if list(self.uses[value]) != [reader]:
                return False
            node = self.graph[value]
            kind = "" if node.op == "input" else _kind(node, self.graph)
            if kind != "alias":
                return kind == "fresh"
            value, reader = node.inputs[0], value

    def activation(self, node: Node) -> bool:
        """Whether ``node`` is an activation to emit in place."""
        if node.op not in ACTIVATIONS or len(node.inputs) != 1:
            return False
        if node.op == "leakyrelu" and not node.attr_map["slope"] >= 0:
            return False
        return self.allowed(node.inputs[0], node.name)

    def merge_target(self, node: Node, variables: list[str], target: str) -> int | None:
        """The input of a two-input merge that ``target = a + b`` may write to instead
        (``target += other``): one that lives in ``target`` and may be overwritten."""
        if node.op not in AUGMENTED or len(node.inputs) != 2 or node.inputs[0] == node.inputs[1]:
            return None
        for k in (0, 1):
            if variables[k] == target and self.allowed(node.inputs[k], node.name):
                return k
        return None
