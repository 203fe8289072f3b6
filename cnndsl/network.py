"""The compiled network: its IR graph, and everything derived from it on demand.

Costs, receptive fields, the summary, the diagram and the PyTorch code are computed
when first asked for; the views (report, draw, backends) are imported then, so that
compiling never loads them (nor torch).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import Any

from .deprecation import renamed_attribute, renamed_keywords
from .diagnostics import Diagnostic
from .elaborate.imports import Imported
from .ir.graph import Graph
from .passes.cost import Cost, cost
from .passes.pipeline import Analysis, analyze
from .passes.receptive_field import receptive_field
from .pause import paused_gc
from .syntax import ast


def _without_gc(method):
    """A Network method that walks a large graph, run with the collector paused."""
    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        with paused_gc():
            return method(*args, **kwargs)
    return wrapper


class Network:
    """A compiled network: its IR graph plus everything derived from it.

    Attributes: ``graph`` (the IR), ``source`` and ``program`` (the text and its parse),
    ``source_name``, ``path`` (the file, if it came from one), ``bindings`` (the values
    its parameters were bound to: ``--set``, ``bindings=``), ``preset``, ``diagnostics`` (warnings and notes), ``blocks``
    and ``imported`` (the blocks it could call and the imported texts). A network read
    back with :func:`from_json` has no source program (see there).

    >>> from cnndsl import compile
    >>> net = compile("input 1x28x28\\nconv(8, 3) - relu - pool - fc(10)")
    >>> net.name, net.input_shape, net.output_shape, net.num_classes
    ('network', (1, 28, 28), (10,), 10)
    >>> net.params_count, net.cost.macs, [n.op for n in net.graph][:3]
    (15770, 72128, ['input', 'conv', 'relu'])
    >>> compile("network n(w=4):\\n  input 1x8x8\\n  conv(w) - fc(2)", bindings={"w": 6}).bindings
    {'w': 6}
    >>> print(net.dump_ir().splitlines()[-1])
      return %fc1
    """

    @renamed_keywords(params="bindings")
    def __init__(self, graph: Graph, program: ast.Program, source_name: str,
                 bindings: dict[str, Any], diagnostics: list[Diagnostic], path: str | None,
                 imported: Imported | None = None,
                 blocks: Mapping[str, ast.BlockDef] | None = None, preset: str | None = None):
        self.graph = graph
        self.preset = preset  # the family member it is (a `preset` line), if any
        self.program = program
        self.imported = imported or Imported()  # the texts of the imported files
        self.blocks = dict(blocks or {})  # every block it could call, by lower-case name
        self.source = program.source.text
        self.source_name = source_name
        self.bindings = dict(bindings)
        self.diagnostics = list(diagnostics)
        self.path = path
        self._cost: Cost | None = None
        self._analysis: Analysis | None = None
        self._fields: dict | None = None
        self._emit: dict[bool, object] = {}  # inplace -> Emitted

    # ------------------------------------------------------------ facts
    @property
    def name(self) -> str:
        return self.graph.name

    @property
    def input_shape(self) -> tuple[int, ...]:
        return self.graph.input_type.dims

    @property
    def output_shape(self) -> tuple[int, ...]:
        return self.graph.output_type.dims

    @property
    def num_classes(self) -> int | None:
        return self.graph.num_classes

    @property
    def cost(self) -> Cost:
        if self._cost is None:
            self._cost = cost(self.graph)
        return self._cost

    @property
    def analysis(self) -> Analysis:
        """Costs, receptive fields and activation memory, computed once
        (:mod:`cnndsl.passes.pipeline`); what the summary and the diagram read."""
        if self._analysis is None:
            self._analysis = analyze(self.graph, tuple(self.diagnostics), cost_of=self.cost,
                                     fields=self.receptive_fields)
        return self._analysis

    @property
    def receptive_fields(self) -> dict:
        """Each node's receptive field (see cnndsl.passes.receptive_field), computed once."""
        if self._fields is None:
            self._fields = receptive_field(self.graph)
        return self._fields

    @property
    def params_count(self) -> int:
        """The trainable parameters (weights and biases): "params" are always counts;
        the values bound to the network's parameters are :attr:`bindings`."""
        return self.cost.params.total

    params = renamed_attribute("bindings", "params", "Network")

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "warning"]

    def __repr__(self) -> str:
        return (f"<Network {self.name}: {self.graph.input_type} -> {self.graph.output_type}, "
                f"{len(self.graph) - 1} nodes, {self.params_count:,} params>")

    # ------------------------------------------------------------ outputs
    def dump_ir(self) -> str:
        """The IR, one deterministic line per node (what ``check --dump-ir`` shows)."""
        return self.graph.dump()

    @_without_gc
    def to_json(self) -> str:
        """The IR as JSON text: the graph's fields, then the table of block calls
        (``frames``) and the nodes, one per line; versioned (``"format": "cnndsl-ir",
        "version": 2``, the schema in docs/ir-schema.json) and read back by
        :func:`from_json` (which reads version 1 too).

        >>> from cnndsl import compile
        >>> net = compile("block b(c) = conv(c, 3) - relu\\ninput 1x28x28\\nb(8) - fc(10)")
        >>> data = json.loads(net.to_json())
        >>> data["format"], data["version"], [n["op"] for n in data["nodes"]]
        ('cnndsl-ir', 2, ['input', 'conv', 'relu', 'flatten', 'fc'])
        >>> [f["call"] for f in data["frames"]], [n["scope"] for n in data["nodes"]]
        (['b(8)'], [[], [0], [0], [], []])
        """
        data = self.graph.to_json()
        head = {k: data.pop(k) for k in ("format", "version", "name")}
        data = {**head, "source_name": self.source_name, "preset": self.preset, **data}
        tables = {k: data.pop(k) for k in ("frames", "nodes")}
        fields = json.dumps(data, indent=2)[:-2]  # the fields, without the closing brace
        rows = [f'  "{k}": [' + ",".join(f"\n    {json.dumps(r)}" for r in v) +
                ("\n  ]" if v else "]") for k, v in tables.items()]
        return f"{fields},\n" + ",\n".join(rows) + "\n}"

    @_without_gc
    def _emitted(self, inplace: bool = True):
        if inplace not in self._emit:
            from .backends.torch_source import emit
            self._emit[inplace] = emit(self.graph, self.source_name, self.params_count,
                                       inplace=inplace)
        return self._emit[inplace]

    def to_python(self, inplace: bool = True) -> str:
        """Standalone PyTorch source (imports torch only).

        ReLUs and residual adds run in place where nothing else reads their input, as
        in torchvision; a forward hook then sees a module's output before a later
        in-place operation overwrites it only if it copies it. ``inplace=False`` writes
        no in-place operation (for hooks that keep outputs; same values, more memory).
        """
        return self._emitted(inplace).source

    def module_paths(self) -> dict[str, str]:
        """For each node that owns a module, its path in :meth:`to_torch`'s model
        (``{"stage2_basic1_conv1": "stage2.basic1.conv1"}``)."""
        return dict(self._emitted().modules)

    def to_torch(self, inplace: bool = True):
        """A fresh ``torch.nn.Module``, built by executing :meth:`to_python`'s text
        once it has passed the generated-code allow-list (needs torch: without it,
        ``ModuleNotFoundError`` naming torch and how to install it)."""
        from .backends.torch_source import build
        source = self.to_python(inplace)
        try:
            import torch  # noqa: F401
        except ImportError as e:
            if (e.name or "").split(".")[0] != "torch":
                raise
            raise ModuleNotFoundError(
                "Network.to_torch needs torch, which is not installed: install the "
                "PyTorch build for your machine (see the README), e.g. pip install torch",
                name="torch") from None
        return build(source, self.name)

    @_without_gc
    def summary(self, **options):
        """Per-layer and total costs as Python objects (see cnndsl.report)."""
        from .report import summarize
        return summarize(self.graph, self.analysis, name=self.name,
                         source=self.source_name, **options)

    @_without_gc
    def to_dot(self, **options) -> str:
        """Graphviz DOT source of the network diagram (see cnndsl.draw)."""
        from .draw import to_dot
        return to_dot(self, **options)

    def draw(self, path, **options):
        """Render the diagram to ``path`` (.svg, .png, .pdf, .dot or .mmd)."""
        from .draw import draw
        return draw(self, path, **options)

    # ------------------------------------------------------------ notebooks
    def _repr_svg_(self) -> str | None:
        """The diagram as SVG text; None where Graphviz's ``dot`` is missing or fails."""
        from .draw import to_svg_or_none
        return to_svg_or_none(self)

    def _repr_html_(self) -> str:
        """What a notebook shows: the diagram (where ``dot`` runs) over a table of the
        top-level layers and block calls, with their params, MACs and output shapes
        (cnndsl.views.network_html).

        >>> from cnndsl import compile
        >>> net = compile("input 1x28x28\\nconv(8, 3) - relu - pool - fc(10)")
        >>> h = net._repr_html_()
        >>> h.startswith('<div class="cnndsl-network">'), ">conv1</td>" in h, ">15,770</th>" in h
        (True, True, True)
        """
        from .views import network_html
        return network_html(self.summary(depth=0), self._repr_svg_())

    def _repr_markdown_(self) -> str:
        """The table of the top-level layers and block calls, in Markdown.

        >>> from cnndsl import compile
        >>> print(compile("input 1x28x28\\nconv(8, 3) - relu - pool - fc(10)")._repr_markdown_())
        **network**: 1x28x28 -> 10
        <BLANKLINE>
        | layer | op | output | params | MACs |
        |---|---|---|--:|--:|
        | input | input 1x28x28 | 1x28x28 | 0 | 0 |
        | conv1 | 3x3 conv, 8 | 8x28x28 | 80 | 56,448 |
        | relu1 | relu | 8x28x28 | 0 | 0 |
        | pool1 | 2x2 max pool, /2 | 8x14x14 | 0 | 0 |
        | flatten1 | flatten | 1568 | 0 | 0 |
        | fc1 | FC 10 | 10 | 15,690 | 15,680 |
        | **total** | | 10 | 15,770 | 72,128 |
        """
        from .views import network_markdown
        return network_markdown(self.summary(depth=0))

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict[str, str]:
        """Every notebook form at once: IPython otherwise asks each ``_repr_*_`` method in
        turn, and ``dot`` would run twice (for the SVG and for the HTML)."""
        from .views import network_html, network_markdown
        s, svg = self.summary(depth=0), self._repr_svg_()
        bundle = {"text/plain": repr(self), "text/html": network_html(s, svg),
                  "text/markdown": network_markdown(s)}
        return bundle if svg is None else {**bundle, "image/svg+xml": svg}
