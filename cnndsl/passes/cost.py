"""Parameters, MACs and activations per node, from the operators' own rules.

A pure analysis: it returns a report keyed by node name and never touches the graph.

>>> from cnndsl import compile
>>> c = cost(compile("input 3x32x32\\nconv(16, 3) - relu").graph)
>>> c.nodes["conv1"].params.total, c.nodes["conv1"].macs
(448, 442368)
>>> c.activations, c.activations_all     # relu works in place: no new tensor
(19456, 35840)

NOTE: conventions (docs/cost.md has the table per operator).
- MACs: one multiply-accumulate = 1, bias adds excluded. ``macs`` is convolutions plus
  fully connected layers: the slides' "ops", torchvision's GFLOPS column, fvcore's
  conv + linear. Batch norm (2 per element with affine, 1 without) and global/adaptive
  average pooling (1 per input element) are kept apart, by kind, so that
  ``macs_fvcore`` = conv + linear + norm + pool + resize (upsampling: 1 per output
  element, 4 bilinear) equals fvcore's total. Group and layer norm count 5 per element.
- FLOPs = 2 x MACs.
- Activations: a node's output elements per image. The totals count the tensors a
  forward pass has to create: the input and every node that allocates, not the
  in-place activations (torchvision's ``ReLU(inplace=True)``) and views (flatten,
  dropout and identity at inference), which reuse their input's memory. That is how the
  slides' VGG16 table counts (CONV and POOL rows, no ReLU rows); ``activations_all``
  sums every node's output.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import ops
from ..ir.graph import Graph, Node
from ..ops.schema import OpDef, Params

MAC_KINDS = ("conv", "linear", "norm", "pool", "resize")
FVCORE_KINDS = MAC_KINDS  # what fvcore's FlopCountAnalysis counts of ours
HEAD_KINDS = ("conv", "linear")  # the slides' "ops", fvcore's conv + linear


def head_macs(macs_by_kind: dict[str, int]) -> int:
    """Convolution and fully connected MACs: the headline figure."""
    return sum(macs_by_kind.get(k, 0) for k in HEAD_KINDS)


def fvcore_macs(macs_by_kind: dict[str, int]) -> int:
    """What fvcore's ``FlopCountAnalysis.total()`` reports for the built module."""
    return sum(macs_by_kind.get(k, 0) for k in FVCORE_KINDS)


_INPLACE_FAMILIES = frozenset({"act"})  # may overwrite their input when it has one use
_VIEW_FAMILIES = frozenset({"reshape", "reg", "head"})  # return their input (or a view)


@dataclass(frozen=True)
class NodeCost:
    params: Params
    macs: int
    macs_kind: str  # conv, linear, norm, pool, resize, elementwise, none
    activations: int  # output elements per image
    new_tensor: bool = True  # False: the output shares its input's memory

    @property
    def flops(self) -> int:
        return 2 * self.macs


@dataclass(frozen=True)
class Cost:
    nodes: dict[str, NodeCost]
    params: Params = field(default_factory=Params)
    macs_by_kind: dict[str, int] = field(default_factory=dict)

    @property
    def macs(self) -> int:
        """Convolution and fully connected MACs (the slides' "ops", fvcore's conv+linear)."""
        return head_macs(self.macs_by_kind)

    @property
    def flops(self) -> int:
        return 2 * self.macs

    @property
    def macs_with_norm(self) -> int:
        return self.macs + self.macs_by_kind.get("norm", 0)

    @property
    def macs_fvcore(self) -> int:
        """What fvcore's ``FlopCountAnalysis.total()`` reports for the built module."""
        return fvcore_macs(self.macs_by_kind)

    @property
    def activations(self) -> int:
        """Elements of the tensors a forward pass creates, the input included."""
        return sum(c.activations for c in self.nodes.values() if c.new_tensor)

    @property
    def activations_all(self) -> int:
        """Every node's output elements, in-place activations and views included."""
        return sum(c.activations for c in self.nodes.values())


def shares_input(op: OpDef, node: Node, graph: Graph, uses: dict[str, list[str]]) -> bool:
    """Whether ``node``'s output can live in its input's memory.

    Views and inference-time identities (flatten, dropout) always can; an element-wise
    activation can work in place when it is its input's only use and that input is not
    the caller's tensor.
    """
    if node.op == "slice":  # some channels of its input: a view
        return True
    if len(node.inputs) != 1 or graph[node.inputs[0]].type.numel != node.type.numel:
        return False
    if op.family in _VIEW_FAMILIES:
        return True
    src = node.inputs[0]
    return (op.family in _INPLACE_FAMILIES and len(uses[src]) == 1
            and src != graph.input.name)


def node_cost(graph: Graph, node: Node, uses: dict[str, list[str]]) -> NodeCost:
    """The cost of one node from its operator's rules (the input node costs nothing)."""
    op = ops.get(node.op)
    if not node.inputs:
        return NodeCost(Params(), 0, "none", node.type.numel)
    ins = [graph[i].type for i in node.inputs]
    attrs = node.attr_map
    return NodeCost(op.params(attrs, ins, node.type), op.macs(attrs, ins, node.type),
                    op.macs_kind, node.type.numel, not shares_input(op, node, graph, uses))


def cost(graph: Graph) -> Cost:
    """Per-node costs and totals of ``graph`` (see the module docstring for conventions)."""
    uses = graph.consumers()
    per = {n.name: node_cost(graph, n, uses) for n in graph.nodes}
    total = Params()
    kinds = dict.fromkeys(MAC_KINDS, 0)
    for c in per.values():
        total = total + c.params
        if c.macs:
            kinds[c.macs_kind] = kinds.get(c.macs_kind, 0) + c.macs
    return Cost(per, total, kinds)
