"""AST to IR: binds parameters, evaluates integers, expands repetition, optional parts
and blocks, and builds the graph node by node, inferring each node's shape from its
operator's rule as it goes (a residual's projection and a softmax's class-score layer
depend on shapes, so elaboration must know them).

Errors are collected, not raised: a failing node poisons its output so that later,
independent mistakes are still reported in the same run.

NOTE: the parts. :class:`Elaborator` is the one driver; each concern is a mixin in a
module of its own, which never imports this one (the driver imports them):

- :mod:`.blocks`: the block table (the prelude, the imports, the program's own blocks);
- :mod:`.network`: the network's parameter values, presets, input type, unused bindings;
- :mod:`.chains`: the walk over an expression (sequences, repeats, optional parts, labels);
- :mod:`.calls`: names and calls resolved, block calls bound, expanded and replayed;
- :mod:`.arguments`: an operator's arguments bound and checked against its schema.

Here: the state they share, the run, and the one place nodes are added (with the
limits). Built-in blocks (:mod:`.builtins`) see none of this, only a :class:`~.host.Host`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..diagnostics import Diagnostic, Span
from ..ir.graph import Graph, TensorType, ancestors
from ..limits import Limits, how_to_raise
from ..ops.schema import OpDef, ShapeError
from ..syntax import ast
from . import presets
from .arguments import OperatorArgs
from .blocks import PRELUDE, BlockInfo, BlockTable
from .calls import Calls
from .chains import ChainWalker
from .env import POISON, ElabError, Env, Evaluator, LimitExceeded, Port, Thunk, err
from .graph_builder import GraphBuilder
from .imports import Files, FileSystem, Imported
from .memo import Memo
from .network import DEFAULT_INPUT, NetworkBinding

__all__ = ["DEFAULT_INPUT", "PRELUDE", "Elaborator"]

MAX_ERRORS = 100  # reported before elaboration stops


class Elaborator(BlockTable, NetworkBinding, ChainWalker, Calls, OperatorArgs):
    """``files`` says where imports come from (by default the file system around
    ``base_dir``); ``key`` is the program's own name among them."""

    def __init__(self, program: ast.Program, bindings: dict[str, Any] | None = None,
                 input_shape: TensorType | None = None, base_dir: Path | None = None,
                 limits: Limits | None = None, files: Files | None = None,
                 key: str | None = None, preset: str | None = None):
        self.program = program
        self.preset = preset
        self.limits = limits or Limits()
        self.files = files or FileSystem(base_dir, limits=self.limits)
        self.key = key or program.source.name
        self.imported = Imported()
        self.steps = 0
        self.errors = 0
        self.memo = Memo()
        self.params_total = 0
        # Optional-part switches (``POOL?``) are matched case-insensitively.
        self.bindings = {(k.replace(" ", "").lower() if k.endswith("?") else k): v
                         for k, v in (bindings or {}).items()}
        self.input_override = input_shape
        self.base_dir = base_dir
        self.diags: list[Diagnostic] = []
        self.blocks: dict[str, BlockInfo] = {}
        self.builder = GraphBuilder()
        self.used: set[str] = set()
        self.call_stack: list[tuple[str, Span | None]] = []
        self.context: list[str] = []  # the calls and repetitions under way, for notes
        self.explicit: set[str] = set()  # names bound by the user (not builtin defaults)
        self.aux: list[Port] = []  # auxiliary outputs, in order
        # Tensors a labelled block call makes visible (`stage(32) as s` gives `s.lo`):
        self.export_next = False  # the next block call is labelled: keep its names
        self.exported: dict[str, Port] = {}
        self.inner_labels: dict[str, str] = {}  # a name made inside a block -> the block
        self.ev = Evaluator(self.is_layer, self.used.add)

    def report(self, d: Diagnostic | None) -> None:
        if d is None:
            return
        self.diags.append(d)
        if d.is_error:
            self.errors += 1
            if self.errors >= MAX_ERRORS:  # a flood of one mistake: stop, say so
                raise LimitExceeded(Diagnostic(
                    "E0117", f"{MAX_ERRORS} errors; the rest of the program is not checked",
                    None, help="fix these first"))

    def run(self) -> Graph | None:
        """The program's graph, or None with the reasons in :attr:`diags`."""
        try:
            return self._run()
        except LimitExceeded as stop:  # a bound crossed: reported, and nothing more
            self.diags.append(stop.diagnostic)
            return None

    def _run(self) -> Graph | None:
        self.load_blocks()
        if self.program.network is None:
            what = "defines blocks but no network" if self.program.blocks else "is empty"
            self.report(Diagnostic("E0010", f"the file {what}", self.program.span,
                                   help="add layers, or a `network NAME:` section"))
            return None
        env, net = self.network_env()
        t = self.input_type(net, env)
        if t is None:
            return None
        if t.numel > self.limits.elements:
            self.report(self._too_large(t, net.span).diagnostic)
            return None
        x = self.builder.add("input", {"shape": str(t)}, [], t, net.span)
        x = self.run_body(net.body, env, x, tail=True)
        self._check_unused_bindings()
        if not x.ok or any(d.is_error for d in self.diags):
            return None
        out = next(n for n in self.builder.nodes if n.name == x.node)
        stem = Path(self.program.source.name).stem.replace("-", "_")
        name = net.name or (stem if stem.isidentifier() else "network")
        if self.preset is not None:  # a preset is a network of its own name
            name = presets.chosen(self.program, self.preset).name
        bound = {k: v for k, v in self.bindings.items()}
        classes = out.type.dims[0] if out.type.is_vector else None
        aux = tuple(p.node for p in self.aux if p.node)
        nodes = self._live(self.builder.nodes, (out.name, *aux))
        return Graph(name, nodes, out.name, bound, classes, aux)

    def _live(self, nodes: list, results: tuple[str, ...]) -> tuple:
        """The nodes the results depend on; the others are dropped with a warning (a
        chain continued from a named tensor discards what came before it)."""
        live = ancestors({n.name: n for n in nodes}, results)
        dead = [n for n in nodes if n.name not in live and n.op != "input"]
        if dead:
            names = ", ".join(n.name for n in dead[:4]) + (", ..." if len(dead) > 4 else "")
            self.report(Diagnostic("W0701", f"{len(dead)} layer(s) never reach the output "
                                   f"and are left out: {names}", dead[0].span,
                                   help="a chain that continues from a named tensor "
                                   "discards what came before it; remove those layers or "
                                   "merge them in"))
        return tuple(n for n in nodes if n.name in live or n.op == "input")

    def run_body(self, body: tuple[ast.Stmt, ...], env: Env, x: Port, tail: bool) -> Port:
        """The lines of a network or block; the last chain is in tail position when the
        body is (see :meth:`call`)."""
        last = max((i for i, s in enumerate(body) if isinstance(s, ast.ChainStmt)), default=-1)
        for i, stmt in enumerate(body):
            if isinstance(stmt, ast.Let):
                if stmt.name in self.bindings and env.origin == "network":
                    continue  # a --set binding overrides the file's value
                env.vars[stmt.name] = Thunk(stmt.value, env)
            elif isinstance(stmt, ast.ChainStmt):
                x = self.build(stmt.value, env, x, tail and i == last)
        return x

    # ------------------------------------------------------------ nodes
    def add_node(self, op: OpDef, attrs: dict[str, Any], inputs: list[Port], span: Span,
                 base: str | None = None) -> Port:
        """A node of ``op`` with these attributes, its shape inferred and the limits
        (elements, parameters, nodes) checked; poisoned where an input is."""
        if not all(p.ok for p in inputs):
            return POISON
        types = [p.type for p in inputs]
        try:
            attrs = op.resolve(attrs, types)
            out = op.infer(attrs, types)
        except ShapeError as ex:
            raise err(ex.code, ex.message, span, help=ex.help,
                      label=ex.label) from None
        if out.numel > self.limits.elements:
            raise self._too_large(out, span)
        self.params_total += op.params(attrs, types, out).total
        if self.params_total > self.limits.params:
            raise self._too_many_params(span)
        if len(self.builder.nodes) >= self.limits.nodes:
            raise self._too_many(len(self.builder.nodes) + 1, span)
        return self.builder.add(op.name, attrs, inputs, out, span, base)

    def _too_large(self, t: TensorType, span: Span | None) -> ElabError:
        n = self.limits.elements
        return err("E0115", f"a {t} tensor has {t.numel:,} elements per sample, more than "
                   f"the limit of {n:,}", span, help=how_to_raise("elements", n))

    def _too_many(self, layers: int, span: Span) -> LimitExceeded:
        n = self.limits.nodes
        return LimitExceeded(Diagnostic(
            "E0111", f"this makes {layers:,} layers or more; the limit for a network is "
            f"{n:,}", span, help=how_to_raise("nodes", n, layers)))

    def _too_many_params(self, span: Span) -> LimitExceeded:
        n = self.limits.params
        return LimitExceeded(Diagnostic(
            "E0116", f"the network has more than {n:,} parameters by this layer", span,
            help=how_to_raise("params", n)))

    def _too_many_steps(self, span: Span) -> LimitExceeded:
        return LimitExceeded(Diagnostic(
            "E0111", f"the program takes more than {self.limits.steps:,} expansion "
            "steps", span, help=how_to_raise("steps", self.limits.steps)))
