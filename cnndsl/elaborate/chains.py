"""The chain walker: the layers an expression stands for, applied to a port. Sequences,
groups, names and calls (handed to :meth:`call`), the VGG forms, repetition ``*N``,
optional parts ``X?`` and labels ``... as name``; everything else is an error that says
what a layer looks like.

Part of :class:`~cnndsl.elaborate.elaborator.Elaborator` (a mixin). Errors raised inside
are reported by :meth:`build` with the calls and repetitions that led there, and the
chain goes on poisoned, so that independent mistakes are reported in the same run.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from .. import ops
from ..diagnostics import Diagnostic
from ..syntax import ast
from .env import POISON, ElabError, Env, Port, TensorRef, err

if TYPE_CHECKING:
    from .elaborator import Elaborator

MAX_CONTEXT = 4  # calls and repetitions named in an error's notes


class ChainWalker:
    def build(self: Elaborator, e: ast.Expr, env: Env, x: Port, tail: bool = False) -> Port:
        """The layers ``e`` stands for, applied to ``x``. ``tail``: nothing follows them
        in the network (a softmax there is the classifier)."""
        try:
            return self._build(e, env, x, tail)
        except ElabError as ex:
            self.report(self._in_context(ex.diagnostic))
            return POISON

    def _in_context(self: Elaborator, d: Diagnostic | None) -> Diagnostic | None:
        """An error inside a block or a repetition, with the calls that led there
        (innermost first): where to look when one call of a block goes wrong."""
        if d is None or not self.context:
            return d
        where = tuple(reversed(self.context[-MAX_CONTEXT:]))
        return replace(d, notes=d.notes + where)

    def _build(self: Elaborator, e: ast.Expr, env: Env, x: Port, tail: bool = False) -> Port:
        self.steps += 1
        if self.steps > self.limits.steps:
            raise self._too_many_steps(e.span)
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

    def _repeat(self: Elaborator, e: ast.BinOp, env: Env, x: Port, tail: bool) -> Port:
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
