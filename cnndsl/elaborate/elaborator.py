"""AST to IR: binds parameters, evaluates integers, expands repetition, optional parts
and blocks, and builds the graph node by node, inferring each node's shape from its
operator's rule as it goes (a residual's projection and a softmax's class-score layer
depend on shapes, so elaboration must know them).

Errors are collected, not raised: a failing node poisons its output so that later,
independent mistakes are still reported in the same run.
"""

from __future__ import annotations

import functools
from dataclasses import replace
from pathlib import Path
from typing import Any

from .. import ops
from ..diagnostics import Diagnostic, Span
from ..ir.graph import Graph, TensorType, ancestors
from ..limits import Limits, how_to_raise
from ..ops.schema import REQUIRED, OpDef, ShapeError
from ..syntax import ast
from ..syntax.parser import parse
from . import builtins, presets
from .attrs import check_attr, fmt_value
from .env import (
    BUILTIN_DEFAULTS,
    POISON,
    ElabError,
    Env,
    Evaluator,
    LimitExceeded,
    Port,
    TensorRef,
    Thunk,
    err,
)
from .graph_builder import GraphBuilder
from .imports import Files, FileSystem, Imported, ImportLoader
from .memo import Expansion, Memo, Recording, replay
from .spelling import keras_dense, unseen_tensor

PRELUDE = Path(__file__).resolve().parent.parent / "prelude.cnn"
DEFAULT_INPUT = TensorType((3, 32, 32))
MAX_DEPTH = 64  # block calls inside block calls
MAX_ERRORS = 100  # reported before elaboration stops
MAX_CONTEXT = 4  # calls and repetitions named in an error's notes
MEMOIZE = True  # repeated block calls replayed (memo.py); off only to test that it changes nothing

# Keyword spellings users bring from PyTorch, Keras and papers.
ATTR_ALIASES = {
    "padding": "pad", "kernel_size": "kernel", "k": "kernel", "filters": "out",
    "channels": "out", "out_channels": "out", "units": "out", "features": "out",
    "out_features": "out", "s": "stride", "rate": "p", "ceil": "ceil_mode",
    "negative_slope": "slope", "g": "groups", "strides": "stride", "pool_size": "kernel",
}


class BlockInfo:
    def __init__(self, defn: ast.BlockDef, origin: str):
        self.defn = defn
        self.origin = origin


@functools.lru_cache(maxsize=1)
def _prelude() -> ast.Program:
    return parse(PRELUDE.read_text(encoding="utf-8"), "<prelude>")


class Elaborator:
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
        self.tail = False  # the call being expanded ends the network (see call)
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

    # ------------------------------------------------------------ lookup
    def is_layer(self, name: str) -> bool:
        return (name.lower() in self.blocks or ops.lookup(name) is not None
                or builtins.lookup(name) is not None)

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

    # ------------------------------------------------------------ blocks and imports
    def load_blocks(self) -> None:
        self._add_file_blocks(_prelude(), "<prelude>")
        loader = ImportLoader(self.files, self.limits)
        for key, program in loader.load(self.program, self.key):
            if program is not None:
                self._add_file_blocks(program, key)
        self.diags.extend(loader.diagnostics)
        self.imported = loader.record
        self._add_file_blocks(self.program, self.program.source.name)

    def _add_file_blocks(self, prog: ast.Program, origin: str) -> None:
        """A file's blocks, shadowing those of earlier files (the prelude, imports)."""
        local: dict[str, ast.BlockDef] = {}
        for b in prog.blocks:
            key = b.name.lower()
            if key in local:
                self.report(Diagnostic("E0405", f"block `{b.name}` is defined twice", b.span,
                                       help=f"first defined at line {local[key].span.line}; "
                                       "rename one"))
                continue
            if ops.lookup(b.name) or builtins.lookup(b.name):
                self.report(Diagnostic("E0405", f"`{b.name}` is a built-in layer; a block "
                                       "cannot take its name", b.span,
                                       help="choose another name"))
                continue
            local[key] = b
            self.blocks[key] = BlockInfo(b, origin)

    # ------------------------------------------------------------ network
    def network_env(self) -> tuple[Env, ast.NetworkDef]:
        net = self.program.network
        assert net is not None
        env = Env({}, None, None, "network")
        preset = presets.bound_names(self.program, self.preset)
        presets.check_domains(self.program, self.bindings, self.preset, self.report)
        for p in net.params:
            if p.name in self.bindings or p.name in preset:
                continue
            if p.default is None and p.domain is not None and len(p.domain):
                env.vars[p.name] = p.domain[0]  # `N in 1..5`: the first value is the default
                self.explicit.add(p.name)
                continue
            if p.default is None:
                self.report(Diagnostic("E0201", f"parameter `{p.name}` has no value", p.span,
                                       help=f"give a default (`{p.name}=...`) or bind it: "
                                       f"`--set {p.name}=<value>` / `params={{'{p.name}': ...}}`"))
                continue
            env.vars[p.name] = Thunk(p.default, env)
            self.explicit.add(p.name)
        self._bind_preset(net, env)
        for k, v in self.bindings.items():
            if not k.endswith("?"):
                env.vars[k] = v
                self.explicit.add(k)
        return env, net

    def _bind_preset(self, net: ast.NetworkDef, env: Env) -> None:
        """The chosen preset's values, under the user's bindings, over the defaults."""
        p = presets.check(self.program, net, self.preset, self.report)
        params = presets.bindable(net)
        for a in p.args if p else ():
            if a.name in params and a.name not in self.bindings:
                env.vars[a.name] = Thunk(a.value, env)
                self.explicit.add(a.name)

    def input_type(self, net: ast.NetworkDef, env: Env) -> TensorType | None:
        stmts = [s for s in net.body if isinstance(s, ast.InputStmt) and s.dims]
        if self.input_override is not None:
            return self.input_override
        if not stmts:
            self.report(Diagnostic("N0001", f"no input shape given; assuming {DEFAULT_INPUT}",
                                   net.span, help="write `input CxHxW` or pass --input"))
            return DEFAULT_INPUT
        if len(stmts) > 1:
            self.report(Diagnostic("E0501", "the input shape is given twice", stmts[1].span))
        s = stmts[0]
        try:
            dims = tuple(self.ev.eval(d, env) for d in s.dims)
        except ElabError as e:
            self.report(e.diagnostic)
            return None
        if len(dims) not in (1, 3) or any(not isinstance(d, int) or isinstance(d, bool)
                                          or d <= 0 for d in dims):
            self.report(Diagnostic("E0501", f"input must be CxHxW or F with positive integers, "
                                   f"got {'x'.join(map(str, dims))}", s.span))
            return None
        if len(dims) == 3 and dims[2] <= 4 < min(dims[0], dims[1]):
            c, h, w = dims
            self.report(Diagnostic(
                "W0501", f"the input {c}x{h}x{w} looks channels-last (height x width x "
                "channels)", s.span, label=f"read as {c} channels of {h}x{w} pixels",
                help=f"shapes are channels first: write input {w}x{c}x{h}"))
        return TensorType(dims)

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

    def _check_unused_bindings(self) -> None:
        params = {p.name for p in self.program.network.params} if self.program.network else set()
        lets = {s.name for s in (self.program.network.body if self.program.network else ())
                if isinstance(s, ast.Let)}
        for k in self.bindings:
            if k.endswith("?") and k != "?" and k not in self.used:
                self.report(Diagnostic("W0201", f"`{k}` switches an optional part, but the "
                                       "network has no such part", None,
                                       help="optional parts are named by their text, e.g. "
                                       "`POOL?` is switched by `--set POOL?=off`"))
                continue
            if k.endswith("?") or k in params or k in lets or k in self.used:
                continue
            self.report(Diagnostic("W0201", f"parameter `{k}` was bound but the network does "
                                   "not use it", None,
                                   help="check the spelling; parameters: "
                                   + (", ".join(sorted(params | lets)) or "none")))

    # ------------------------------------------------------------ building
    def build(self, e: ast.Expr, env: Env, x: Port, tail: bool = False) -> Port:
        """The layers ``e`` stands for, applied to ``x``. ``tail``: nothing follows them
        in the network (a softmax there is the classifier)."""
        try:
            return self._build(e, env, x, tail)
        except ElabError as ex:
            self.report(self._in_context(ex.diagnostic))
            return POISON

    def _in_context(self, d: Diagnostic | None) -> Diagnostic | None:
        """An error inside a block or a repetition, with the calls that led there
        (innermost first): where to look when one call of a block goes wrong."""
        if d is None or not self.context:
            return d
        where = tuple(reversed(self.context[-MAX_CONTEXT:]))
        return replace(d, notes=d.notes + where)

    def _build(self, e: ast.Expr, env: Env, x: Port, tail: bool = False) -> Port:
        self.steps += 1
        if self.steps > self.limits.steps:
            raise LimitExceeded(Diagnostic(
                "E0111", f"the program takes more than {self.limits.steps:,} expansion "
                "steps", e.span, help=how_to_raise("steps", self.limits.steps)))
        if isinstance(e, ast.Seq):
            for op in e.ops:
                if op == "+":
                    raise err("E0107", "`+` adds numbers; layers are joined with `-`, `->` "
                              "or `,`", e.span, help="to add two branches write add(a | b)")
            last = len(e.items) - 1
            for i, item in enumerate(e.items):
                x = self.build(item, env, x, tail and i == last)
            return x
        if isinstance(e, ast.Group):
            return self._build(e.value, env, x, tail)
        if isinstance(e, ast.Name):
            return self.call(e, (), e.span, env, x, tail)
        if isinstance(e, ast.Call):
            return self.call(e.func, e.args, e.span, env, x, tail)
        if isinstance(e, ast.VggConv):
            return self.apply_op(ops.get("conv"), {"out": e.width, "kernel": (e.kernel, e.kernel)},
                                 e.span, x, env)
        if isinstance(e, ast.VggFc):
            return self.apply_op(ops.get("fc"), {"out": e.width}, e.span, x, env)
        if isinstance(e, ast.BinOp):
            return self._repeat(e, env, x, tail)
        if isinstance(e, ast.Optional):
            key = e.value.text.replace(" ", "").lower() + "?"
            on = self.bindings.get(key, self.bindings.get("?", True))
            if isinstance(on, str):
                on = on.lower() not in ("0", "false", "no", "off")
            self.used.add(key)
            return self._build(e.value, env, x, tail) if on else x
        if isinstance(e, ast.Label):
            self.export_next = isinstance(e.value, (ast.Call, ast.Name))
            self.exported = {}
            x = self._build(e.value, env, x, tail)
            self.export_next = False
            found, old = env.find(e.name)
            if found and not isinstance(old, TensorRef):
                raise err("E0112", f"`{e.name}` already names a parameter or block argument",
                          e.span, help="choose another name for the tensor")
            env.vars[e.name] = TensorRef(x)
            for inner, port in self.exported.items():
                env.vars[f"{e.name}.{inner}"] = TensorRef(port)
            if env.origin.startswith("block "):
                self.inner_labels.setdefault(e.name, env.origin[6:])
            return x
        if isinstance(e, ast.Alt):
            raise err("E0108", "parallel branches `a | b` need a merge", e.span,
                      help="write concat(a | b), add(a | b) or mul(a | b)")
        if isinstance(e, (ast.Num, ast.ShapeLit)):
            raise err("E0107", f"a number where a layer is expected: `{e.text}`", e.span,
                      help="give widths as arguments (`fc(4096)`, `conv(64, 3)`) or in the "
                      "VGG form `FC-4096`, `conv3-64`")
        if isinstance(e, ast.Not):
            raise err("E0107", f"`{e.text}` is a test, not a layer", e.span,
                      help="tests choose layers inside if(test, layers, otherwise)")
        if isinstance(e, ast.Neg):
            raise err("E0107", f"`-{e.value.text}`: a layer cannot be negated", e.span,
                      help="two separators in a row? remove one")
        raise err("E0107", f"`{e.text}` is not a layer", e.span)

    def _repeat(self, e: ast.BinOp, env: Env, x: Port, tail: bool) -> Port:
        if e.op not in ("*", "×"):
            raise err("E0107", f"`{e.op}` works on numbers, but `{e.text}` has a layer",
                      e.span, help="tests and arithmetic go in arguments: "
                      "if(stride > 1, layers, id)")
        body, count_expr = e.left, e.right
        if self.ev.kind(e.left, env) == "num" and self.ev.kind(e.right, env) == "net":
            body, count_expr = e.right, e.left
        try:
            count = self.ev.eval(count_expr, env)
        except ElabError as ex:
            self.report(ex.diagnostic)
            self.build(body, env, POISON)  # still look for independent errors inside
            return POISON
        if isinstance(count, bool) or isinstance(count, float) and count.is_integer():
            count = int(count)  # a test repeats once or not at all
        if not isinstance(count, int):
            raise err("E0109", f"a repeat count must be a whole number, got {count!r}",
                      count_expr.span)
        if count < 0:
            raise err("E0109", f"a repeat count cannot be negative ({count})", count_expr.span)
        if not x.ok:  # after an error: look inside once for independent ones, no more
            self.build(body, env.child({"repeat_index": 0}, None, env.origin), x)
            return POISON
        before = len(self.builder.nodes)
        for i in range(count):  # `repeat_index` is the iteration, from 0
            self.context.append(f"in repetition {i + 1} of {count} (line {e.span.line}:"
                                f"{e.span.col})")
            try:
                x = self.build(body, env.child({"repeat_index": i}, None, env.origin), x,
                               tail and i == count - 1)
            finally:
                self.context.pop()
            if i == 0:  # the first iteration's size tells the whole repeat's, in advance
                made = len(self.builder.nodes) - before
                if before + made * count > self.limits.nodes:
                    raise self._too_many(made * count, count_expr.span)
        return x

    def _too_many(self, layers: int, span: Span) -> LimitExceeded:
        n = self.limits.nodes
        return LimitExceeded(Diagnostic(
            "E0111", f"this makes {layers:,} layers or more; the limit for a network is "
            f"{n:,}", span, help=how_to_raise("nodes", n, layers)))

    # ------------------------------------------------------------ calls
    def call(self, fn: ast.Name, args: tuple[ast.Arg, ...], span: Span, env: Env,
             x: Port, tail: bool = False) -> Port:
        """A name or call: a named tensor, a parameter holding layers, a block, a
        built-in block or an operator. A built-in finds ``tail`` in :attr:`tail`."""
        found, v = env.find(fn.id)
        if found and isinstance(v, TensorRef):
            if args:
                raise err("E0107", f"`{fn.id}` names a tensor; it takes no arguments", span)
            self.used.add(fn.id)
            if self.memo.open:
                self.memo.read(v.port, self.builder.index)
            return v.port  # continue from the named tensor
        if found and not args:
            if isinstance(v, Thunk):
                if self.ev.kind(v.expr, v.env) == "num":
                    raise err("E0107", f"`{fn.id}` is a number ({self.ev.eval(v.expr, v.env)}),"
                              " not a layer", span)
                self.used.add(fn.id)
                return self.build(v.expr, v.env, x, tail)
            if not (isinstance(v, str) and self.is_layer(v)):
                raise err("E0107", f"`{fn.id}` is a parameter ({v!r}), not a layer", span)
            self.used.add(fn.id)  # `--set act=gelu`, `act in {relu, gelu}`: that layer
            fn = ast.Name(fn.span, v)
        key = fn.id.lower()
        own = [k for k, b in self.blocks.items() if b.origin != "<prelude>"]
        if fn.id == "Dense" and key not in own or key == "dense" and keras_dense(args, own):
            key = "fc"  # Keras's Dense(units), not DenseNet's dense(n, k)
        if key in self.blocks:
            return self.call_block(self.blocks[key], args, span, env, x, tail)
        special = builtins.lookup(fn.id)
        if special is not None:
            self.tail = tail
            return special(self, args, span, env, x)
        op = ops.lookup(key)
        if op is not None:
            if op.name == "identity":
                return x
            if op.name == "fc" and tail and not args:
                args = self._classifier_args(fn.id, span, env)
            return self.apply_op(op, self.bind_args(op, args, env, x, span), span, x, env)
        if "." in fn.id or fn.id in self.inner_labels:
            raise unseen_tensor(fn, env, self.inner_labels)
        hint = ops.did_you_mean(fn.id, list(self.blocks) + builtins.names())
        raise err("E0101", f"unknown layer or block `{fn.id}`", fn.span,
                  help=f"did you mean `{hint}`?" if hint else "see `cnndsl ops` for the "
                  "layers, or define it: `block name(...) = ...`")

    def _classifier_args(self, name: str, span: Span, env: Env) -> tuple[ast.Arg, ...]:
        """A bare `FC` that ends the network is the classifier (the slides' last FC):
        `fc(classes)`, said in a note (and checked as if written so)."""
        classes = ast.Name(span, "classes")
        try:
            shown = f" = {self.ev.eval(classes, env)!r}"
        except ElabError:
            shown = ""
        self.report(Diagnostic("N0402", f"the last `{name}` has no width: it is the "
                               f"classifier, with `classes`{shown} units", span,
                               help="write fc(N) for another width"))
        return (ast.Arg(span, None, classes),)

    def call_block(self, info: BlockInfo, args: tuple[ast.Arg, ...], span: Span, env: Env,
                   x: Port, tail: bool = False) -> Port:
        b = info.defn
        chain = [name for name, _ in self.call_stack]
        if b.name.lower() in chain or len(chain) >= MAX_DEPTH:
            path = " -> ".join(chain[chain.index(b.name.lower()):] if b.name.lower() in chain
                               else chain[-5:]) + f" -> {b.name.lower()}"
            raise err("E0402", f"block `{b.name}` calls itself ({path})", span,
                      help="a block cannot use itself; repeat it with `*N` instead")
        export, self.export_next = self.export_next, False
        bound = self._bind_block_args(b, args, env, span, x)
        call_text = self._call_text(b.name, args, env)
        body_env = Env(bound, self._global_env(env), x, f"block {b.name}")
        self.call_stack.append((b.name.lower(), span))
        self.context.append(f"in `{call_text}`, called at line {span.line}:{span.col}")
        try:
            if self._is_single_op(b):  # a one-layer block is inlined: no scope of its own
                return self.run_body(b.body, body_env, x, tail)
            numeric = self._numeric(b, bound)
            key = None
            if MEMOIZE and x.ok and len(numeric) == len(b.params) and not export:
                key = (id(b), tuple((k, type(v), v) for k, v in numeric), x.type, tail)
            with self.builder.frame(b.name, call_text, True, span, numeric):
                done = self.memo.done.get(key) if key is not None else None
                if done is not None:
                    self._admit(done, span)
                    return replay(done, self, x, self.builder.prefix)
                out = self._expand(b, body_env, x, tail, key)
                if export:  # `call as s`: the tensors it named are `s.NAME`
                    self.exported = {k: v.port for k, v in body_env.vars.items()
                                     if isinstance(v, TensorRef) and "." not in k}
                return out
        finally:
            self.call_stack.pop()
            self.context.pop()

    def _expand(self, b: ast.BlockDef, env: Env, x: Port, tail: bool,
                key: tuple | None) -> Port:
        """A block's body, recorded for replay when ``key`` says it may be."""
        if key is None:
            return self.run_body(b.body, env, x, tail)
        rec = Recording(len(self.builder.nodes), len(self.builder.scope) - 1, self.steps,
                        self.params_total, self.errors, len(self.diags), len(self.aux),
                        frozenset(self.used))
        self.memo.open.append(rec)
        try:
            out = self.run_body(b.body, env, x, tail)
        finally:
            self.memo.open.pop()
        self.memo.finish(rec, self, key, x, out, self.builder.prefix)
        return out

    def _admit(self, done: Expansion, span: Span) -> None:
        """The limits a replay must respect, as a fresh expansion would."""
        if len(self.builder.nodes) + len(done.nodes) > self.limits.nodes:
            raise self._too_many(len(self.builder.nodes) + len(done.nodes), span)
        if self.params_total + done.params > self.limits.params:
            n = self.limits.params
            raise LimitExceeded(Diagnostic(
                "E0116", f"the network has more than {n:,} parameters by this layer", span,
                help=how_to_raise("params", n)))
        if self.steps + done.steps > self.limits.steps:
            raise LimitExceeded(Diagnostic(
                "E0111", f"the program takes more than {self.limits.steps:,} expansion "
                "steps", span, help=how_to_raise("steps", self.limits.steps)))

    def _numeric(self, b: ast.BlockDef, bound: dict[str, Any]) -> tuple:
        """The block's arguments that are numbers, by name (for readable emitted classes)."""
        out = []
        for p in b.params:
            v = bound.get(p.name)
            if isinstance(v, Thunk) and self.ev.kind(v.expr, v.env) == "num":
                try:
                    value = self.ev.eval(v.expr, v.env)
                except ElabError:
                    continue
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    out.append((p.name, value))
        return tuple(out)

    def _is_single_op(self, b: ast.BlockDef) -> bool:
        if len(b.body) != 1 or not isinstance(b.body[0], ast.ChainStmt):
            return False
        v = b.body[0].value
        name = v.func.id if isinstance(v, ast.Call) else v.id if isinstance(v, ast.Name) else None
        return (name is not None and name.lower() not in self.blocks
                and builtins.lookup(name) is None and ops.lookup(name) is not None)

    @staticmethod
    def _global_env(env: Env) -> Env:
        """The network's environment (blocks see their own parameters, then the network's)."""
        while env.parent is not None and env.origin != "network":
            env = env.parent
        return env

    def _bind_block_args(self, b: ast.BlockDef, args: tuple[ast.Arg, ...], env: Env,
                         span: Span, x: Port) -> dict[str, Any]:
        names = [p.name for p in b.params]
        bound: dict[str, Any] = {}
        positional = [a for a in args if a.name is None]
        if len(positional) > len(names):
            raise err("E0401", f"`{b.name}` takes {len(names)} argument(s), "
                      f"{len(positional)} given", span,
                      help=f"{b.name}({', '.join(self._param_sig(p) for p in b.params)})")
        for p, a in zip(b.params, positional):
            bound[p.name] = Thunk(a.value, env)
        for a in args:
            if a.name is None:
                continue
            if a.name not in names:
                raise err("E0401", f"`{b.name}` has no parameter `{a.name}`", a.span,
                          help=f"{b.name}({', '.join(self._param_sig(p) for p in b.params)})")
            if a.name in bound:
                raise err("E0106", f"`{a.name}` is given twice", a.span)
            bound[a.name] = Thunk(a.value, env)
        defaults_env = Env(bound, self._global_env(env), x, f"block {b.name}")
        for p in b.params:
            if p.name not in bound:
                if p.default is None:
                    raise err("E0401", f"`{b.name}` needs a value for `{p.name}`", span,
                              help=f"{b.name}({', '.join(self._param_sig(q) for q in b.params)})")
                bound[p.name] = Thunk(p.default, defaults_env)
        return bound

    @staticmethod
    def _param_sig(p: ast.Param) -> str:
        return p.name if p.default is None else f"{p.name}={p.default.text}"

    def _call_text(self, name: str, args: tuple[ast.Arg, ...], env: Env) -> str:
        parts = []
        for a in args:
            text = a.value.text
            if self.ev.kind(a.value, env) in ("num", "unknown"):
                try:
                    text = fmt_value(self.ev.eval(a.value, env, want_str=True))
                except ElabError:
                    pass
            parts.append(text if a.name is None else f"{a.name}={text}")
        return f"{name}({', '.join(parts)})" if parts else name

    # ------------------------------------------------------------ operators
    def bind_args(self, op: OpDef, args: tuple[ast.Arg, ...], env: Env, x: Port,
                  span: Span) -> dict[str, Any]:
        """Evaluate and validate a call's arguments against the operator's schema."""
        values: dict[str, Any] = {}
        spans: dict[str, Span] = {}
        positional = _positional(op)
        arg_env = env
        i = 0
        problems = []
        for a in args:
            if a.name is None:
                if i >= len(positional):
                    problems.append(err("E0103", f"too many arguments for `{op.name}`", a.span,
                                        help=_signature(op)))
                    continue
                attr = positional[i]
                i += 1
            else:
                name = a.name.lower()
                attr = op.attr(name) or op.attr(ATTR_ALIASES.get(name, ""))
                if attr is None:
                    names = [t.name for t in op.attrs]
                    hint = _closest(name, names)
                    problems.append(err("E0102", f"`{op.name}` has no argument `{a.name}`",
                                        a.span, help=(f"did you mean `{hint}`? " if hint else "")
                                        + _signature(op)))
                    continue
            if attr.name in values:
                problems.append(err("E0106", f"`{attr.name}` is given twice", a.span))
                continue
            try:
                v = self.ev.eval(a.value, arg_env, want_str=attr.kind in ("str", "pad"))
                values[attr.name] = check_attr(op, attr, v, a.value)
                spans[attr.name] = a.span
            except ElabError as ex:
                problems.append(ex)
        for p in problems[1:]:
            self.report(p.diagnostic)
        if problems and all(p.diagnostic is None for p in problems):
            raise problems[0]
        if problems:
            raise problems[0]
        return values

    def apply_op(self, op: OpDef, values: dict[str, Any], span: Span, x: Port,
                 env: Env) -> Port:
        attrs: dict[str, Any] = {}
        for a in op.attrs:
            if a.name in values:
                attrs[a.name] = values[a.name]
            elif a.default is REQUIRED:
                raise err("E0110", f"`{op.name}` needs `{a.name}`", span, help=_signature(op))
            elif callable(a.default):
                attrs[a.name] = check_attr(op, a, self._default(a, env), None)
            else:
                attrs[a.name] = _normalize(a, a.default)
        if not x.ok:
            return POISON
        if op.family == "fc" and x.type.is_map:
            flat = ops.get("flatten")
            x = self.builder.add("flatten", {}, [x], flat.infer({}, [x.type]), span)
        return self.add_node(op, attrs, [x], span)

    def _default(self, a, env: Env) -> Any:
        """A default computed from the network's values (a bare conv's ``channels``)."""
        return a.default(_Defaults(self, env))

    def add_node(self, op: OpDef, attrs: dict[str, Any], inputs: list[Port], span: Span,
                 base: str | None = None) -> Port:
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
            n = self.limits.params
            raise LimitExceeded(Diagnostic(
                "E0116", f"the network has more than {n:,} parameters by this layer", span,
                help=how_to_raise("params", n)))
        if len(self.builder.nodes) >= self.limits.nodes:
            raise self._too_many(len(self.builder.nodes) + 1, span)
        return self.builder.add(op.name, attrs, inputs, out, span, base)

    def _too_large(self, t: TensorType, span: Span | None) -> ElabError:
        n = self.limits.elements
        return err("E0115", f"a {t} tensor has {t.numel:,} elements per sample, more than "
                   f"the limit of {n:,}", span, help=how_to_raise("elements", n))



def _signature(op: OpDef) -> str:
    parts = []
    for a in op.attrs:
        if a.default is REQUIRED:
            parts.append(a.name)
        elif callable(a.default):
            parts.append(f"{a.name}=<default>")
        else:
            parts.append(f"{a.name}={fmt_value(a.default) if a.default is not None else '...'}")
    return f"{op.name}({', '.join(parts)})"


def _closest(name: str, names: list[str]) -> str | None:
    import difflib
    m = difflib.get_close_matches(name, names, n=1, cutoff=0.5)
    return m[0] if m else None


def _normalize(attr, v: Any) -> Any:
    if attr.kind == "pair" and isinstance(v, int):
        return (v, v)
    return v


class _Defaults(dict):
    """The values a default may read (``ctx["channels"]``): the network's, else built-in."""

    def __init__(self, el: Elaborator, env: Env):
        super().__init__()
        self.el, self.env = el, env

    def __missing__(self, key: str) -> Any:
        found, v = self.env.find(key)
        if found:
            self.el.used.add(key)
            return self.el.ev.eval(v.expr, v.env) if isinstance(v, Thunk) else v
        return BUILTIN_DEFAULTS[key]


@functools.cache
def _positional(op: OpDef) -> tuple:
    return tuple(a for a in op.attrs if a.positional)
