"""Activation memory: per image, the peak of a straight-line forward, and training.

>>> from cnndsl import compile
>>> g = compile("input 3x32x32\\nconv(16, 3) - relu - pool - fc(10)").graph
>>> m = activation_memory(g, dtype="fp16")
>>> m.elements, m.bytes, m.peak_elements
(23562, 47124, 20480)

NOTE: the model.
- Every node either creates a tensor or reuses its input's (in-place activations,
  views: :func:`cnndsl.passes.cost.shares_input`). The total is the sum of created
  tensors, the input included: what a forward that keeps everything would hold.
- The peak replays the nodes in topological order. A tensor is live from the node that
  creates it to the last node that reads it (or one of its in-place/view aliases); the
  network's output stays live to the end. While a node runs, its inputs and its output
  are live together. Framework workspace (cuDNN), the autograd graph and allocator
  rounding are not modelled.
- Training keeps every created tensor for the backward pass (each layer saves its input
  or its output), times the batch, at the activation dtype; parameters, gradients and
  optimizer state are fp32 (mixed precision keeps fp32 master weights) unless
  ``param_dtype`` says otherwise; batch-norm running statistics are buffers. Dropout
  masks, max-pool indices and temporaries are not counted: read it as a lower bound.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..ir.graph import Graph
from .cost import Cost, cost

DTYPE_BYTES = {"fp32": 4, "float32": 4, "fp16": 2, "float16": 2, "half": 2, "bf16": 2,
               "bfloat16": 2, "fp64": 8, "float64": 8, "int8": 1, "fp8": 1}

# Optimizer state per parameter, in copies of the parameters.
OPTIMIZER_STATE = {
    "none": 0, "sgd-plain": 0,
    "sgd": 1,  # momentum buffer (the classic recipes use momentum 0.9)
    "momentum": 1, "nesterov": 1, "rmsprop": 1, "adagrad": 1, "lion": 1,
    "adam": 2, "adamw": 2, "nadam": 2, "radam": 2, "lamb": 2, "adadelta": 2,
}


def dtype_bytes(dtype: str) -> int:
    """Bytes per element of a dtype name; ValueError naming the choices otherwise."""
    try:
        return DTYPE_BYTES[dtype.lower()]
    except KeyError:
        raise ValueError(f"unknown dtype {dtype!r}; choose one of "
                         f"{', '.join(sorted(DTYPE_BYTES))}") from None


def optimizer_copies(name: str) -> int:
    """State copies per parameter for an optimizer name (``adam`` -> 2)."""
    try:
        return OPTIMIZER_STATE[name.lower()]
    except KeyError:
        raise ValueError(f"unknown optimizer {name!r}; choose one of "
                         f"{', '.join(sorted(OPTIMIZER_STATE))}") from None


@dataclass(frozen=True)
class ActivationMemory:
    """Per image, at one dtype."""

    dtype: str
    bytes_per_element: int
    elements: int  # created tensors, input included
    peak_elements: int  # the most live at once in a straight-line forward
    peak_at: str  # the node running at the peak

    @property
    def bytes(self) -> int:
        return self.elements * self.bytes_per_element

    @property
    def peak_bytes(self) -> int:
        return self.peak_elements * self.bytes_per_element


@dataclass(frozen=True)
class TrainingMemory:
    """Bytes for one training step of a batch (a lower bound, see the module NOTE)."""

    optimizer: str
    batch: int
    activations: int
    params: int
    grads: int
    optimizer_state: int
    buffers: int

    @property
    def total(self) -> int:
        return self.activations + self.params + self.grads + self.optimizer_state + self.buffers

    def to_json(self) -> dict:
        return {"optimizer": self.optimizer, "batch": self.batch,
                "activations_bytes": self.activations, "params_bytes": self.params,
                "grads_bytes": self.grads, "optimizer_bytes": self.optimizer_state,
                "buffers_bytes": self.buffers, "total_bytes": self.total}


def buffers_of(graph: Graph, c: Cost) -> dict[str, str]:
    """The node whose tensor each node's output lives in (itself, or an alias's owner)."""
    owner: dict[str, str] = {}
    for node in graph.nodes:
        owner[node.name] = (owner[node.inputs[0]] if not c.nodes[node.name].new_tensor
                            else node.name)
    return owner


def live_intervals(graph: Graph, c: Cost) -> dict[str, tuple[int, int]]:
    """Per created tensor: (index of the node creating it, index of its last reader)."""
    owner = buffers_of(graph, c)
    index = {n.name: i for i, n in enumerate(graph.nodes)}
    last = {name: index[name] for name in set(owner.values())}
    for i, node in enumerate(graph.nodes):
        for src in node.inputs:
            last[owner[src]] = max(last[owner[src]], i)
        last[owner[node.name]] = max(last[owner[node.name]], i)
    last[owner[graph.output]] = len(graph.nodes) - 1
    return {name: (index[name], end) for name, end in last.items()}


def peak_live(graph: Graph, c: Cost | None = None) -> tuple[int, str]:
    """(elements, node) at the peak of live activations in a straight-line forward."""
    c = cost(graph) if c is None else c
    spans = live_intervals(graph, c)
    delta = [0] * (len(graph.nodes) + 1)
    for name, (first, end) in spans.items():
        delta[first] += c.nodes[name].activations
        delta[end + 1] -= c.nodes[name].activations
    best, at, live = 0, graph.nodes[0].name, 0
    for i, node in enumerate(graph.nodes):
        live += delta[i]
        if live > best:
            best, at = live, node.name
    return best, at


def activation_memory(graph: Graph, dtype: str = "fp32", c: Cost | None = None
                      ) -> ActivationMemory:
    """Forward activation memory per image at ``dtype`` (fp32, bf16, fp16, ...)."""
    c = cost(graph) if c is None else c
    peak, at = peak_live(graph, c)
    return ActivationMemory(dtype.lower(), dtype_bytes(dtype), c.activations, peak, at)


def training_memory(graph: Graph, batch: int = 1, optimizer: str = "adam",
                    dtype: str = "fp32", param_dtype: str = "fp32",
                    c: Cost | None = None) -> TrainingMemory:
    """An estimate of one training step's memory for ``batch`` images.

    >>> from cnndsl import compile
    >>> g = compile("input 3x32x32\\nconv(16, 3) - relu - pool - fc(10)").graph
    >>> t = training_memory(g, batch=8, optimizer="sgd")
    >>> t.activations, t.params, t.grads, t.optimizer_state
    (753984, 165672, 165672, 165672)
    """
    if batch < 1:
        raise ValueError(f"batch must be at least 1, got {batch}")
    c = cost(graph) if c is None else c
    pb = dtype_bytes(param_dtype)
    params = c.params.total * pb
    return TrainingMemory(optimizer.lower(), batch,
                          c.activations * batch * dtype_bytes(dtype), params, params,
                          optimizer_copies(optimizer) * params,
                          c.params.buffers * pb)
