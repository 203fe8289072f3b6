"""The analysis of a graph: its costs, receptive fields and activation memory, made once.

The passes run in one fixed order, each reading what the earlier ones made (memory reads
the costs); the result is frozen, cached on the :class:`cnndsl.Network`, and handed to
the views (the summary, the diagram's annotations) with the graph, so that none of them
runs a pass again.

>>> from cnndsl import compile
>>> a = compile("input 3x32x32\\nconv(16, 3) - relu - pool - fc(10)").analysis
>>> a.cost.params.total, str(a.fields["conv1"]), a.memory.peak_elements
(41418, '3', 20480)
"""

from __future__ import annotations

from dataclasses import dataclass

from ..diagnostics import Diagnostic
from ..ir.graph import Graph
from .cost import Cost, cost
from .memory import ActivationMemory, activation_memory
from .receptive_field import RF, receptive_field


@dataclass(frozen=True)
class Analysis:
    """What the passes found: ``cost`` (per node and in total), ``fields`` (each node's
    receptive field, None for none), ``memory`` (fp32 activations per image) and the
    compile's ``diagnostics``."""

    cost: Cost
    fields: dict[str, RF | None]
    memory: ActivationMemory
    diagnostics: tuple[Diagnostic, ...] = ()


def analyze(graph: Graph, diagnostics: tuple[Diagnostic, ...] = (), *,
            cost_of: Cost | None = None, fields: dict | None = None) -> Analysis:
    """Run the passes in order over ``graph``; a cost or fields already computed (the
    compiler computes the fields to check the graph) are taken as they are."""
    c = cost(graph) if cost_of is None else cost_of
    f = receptive_field(graph) if fields is None else fields
    return Analysis(c, f, activation_memory(graph, "fp32", c), tuple(diagnostics))
