"""Calls: a name or call resolved to a named tensor, a parameter holding layers, a
block, a built-in block or an operator; a block call bound, expanded in its own frame,
and replayed where it repeats an earlier one (:mod:`.memo`).

Part of :class:`~cnndsl.elaborate.elaborator.Elaborator` (a mixin). A built-in block
gets a :class:`~.host.Host`, the narrow view of the elaborator it may use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import ops
from ..diagnostics import Diagnostic, Span
from ..ir.graph import Argument
from ..syntax import ast
from . import builtins
from .attrs import fmt_value
from .env import ElabError, Env, Port, TensorRef, Thunk, err
from .host import Host
from .memo import Expansion, Recording, replay
from .spelling import keras_dense, unseen_tensor

if TYPE_CHECKING:
    from .blocks import BlockInfo
    from .elaborator import Elaborator

MAX_DEPTH = 64  # block calls inside block calls
MEMOIZE = True  # repeated block calls replayed (memo.py); off only to test that it changes nothing


class Calls:
    def call(self: Elaborator, fn: ast.Name, args: tuple[ast.Arg, ...], span: Span, env: Env,
             x: Port, tail: bool = False) -> Port:
        """A name or call: a named tensor, a parameter holding layers, a block, a
        built-in block or an operator. ``tail``: nothing follows in the network (see
        :meth:`build`); a built-in finds it in its host."""
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
            return special(Host(self, tail), args, span, env, x)
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

    def _classifier_args(self: Elaborator, name: str, span: Span,
                         env: Env) -> tuple[ast.Arg, ...]:
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

    def call_block(self: Elaborator, info: BlockInfo, args: tuple[ast.Arg, ...], span: Span,
                   env: Env, x: Port, tail: bool = False) -> Port:
        b = info.defn
        chain = [name for name, _ in self.call_stack]
        if b.name.lower() in chain or len(chain) >= MAX_DEPTH:
            path = " -> ".join(chain[chain.index(b.name.lower()):] if b.name.lower() in chain
                               else chain[-5:]) + f" -> {b.name.lower()}"
            raise err("E0402", f"block `{b.name}` calls itself ({path})", span,
                      help="a block cannot use itself; repeat it with `*N` instead")
        export, self.export_next = self.export_next, False
        bound = self._bind_block_args(b, args, env, span, x)
        texts = [self._arg_text(a.value, env) for a in args]
        call_text = self._call_text(b.name, args, texts)
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
            with self.builder.frame(b.name, call_text, True, span, numeric, "block",
                                    _arguments(b, args, texts, numeric)):
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

    def _expand(self: Elaborator, b: ast.BlockDef, env: Env, x: Port, tail: bool,
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

    def _admit(self: Elaborator, done: Expansion, span: Span) -> None:
        """The limits a replay must respect, as a fresh expansion would."""
        if len(self.builder.nodes) + len(done.nodes) > self.limits.nodes:
            raise self._too_many(len(self.builder.nodes) + len(done.nodes), span)
        if self.params_total + done.params > self.limits.params:
            raise self._too_many_params(span)
        if self.steps + done.steps > self.limits.steps:
            raise self._too_many_steps(span)

    def _numeric(self: Elaborator, b: ast.BlockDef, bound: dict[str, Any]) -> tuple:
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

    def _is_single_op(self: Elaborator, b: ast.BlockDef) -> bool:
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

    def _bind_block_args(self: Elaborator, b: ast.BlockDef, args: tuple[ast.Arg, ...],
                         env: Env, span: Span, x: Port) -> dict[str, Any]:
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

    def _arg_text(self: Elaborator, e: ast.Expr, env: Env) -> str:
        """An argument as a call's text shows it: numbers evaluated, the rest as written."""
        if self.ev.kind(e, env) in ("num", "unknown"):
            try:
                return fmt_value(self.ev.eval(e, env, want_str=True))
            except ElabError:
                pass
        return e.text

    @staticmethod
    def _call_text(name: str, args: tuple[ast.Arg, ...], texts: list[str]) -> str:
        parts = [t if a.name is None else f"{a.name}={t}" for a, t in zip(args, texts)]
        return f"{name}({', '.join(parts)})" if parts else name


def _arguments(b: ast.BlockDef, args: tuple[ast.Arg, ...], texts: list[str],
               numeric: tuple) -> tuple[Argument, ...]:
    """Each parameter of a bound call as a reader sees it (see :class:`Argument`): a
    parameter not passed holds its default, evaluated where :meth:`Calls._numeric` did."""
    given: dict[str, tuple[str, str]] = {}
    positional = iter(b.params)
    for a, text in zip(args, texts):
        if a.name is None:
            given[next(positional).name] = (text.strip(), "positional")
        else:
            given[a.name] = (text.strip(), "keyword")
    values = dict(numeric)
    out = []
    for p in b.params:
        default = None if p.default is None else p.default.text.strip()
        value, how = given.get(p.name) or (
            fmt_value(values[p.name]) if p.name in values else default or "", "default")
        out.append(Argument(p.name, value, how, default))
    return tuple(out)
