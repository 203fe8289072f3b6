"""An operator's call bound to its schema: arguments matched by position or keyword
(with the spellings users bring from PyTorch, Keras and papers), each checked
(:func:`.attrs.check_attr`), the defaults filled in (a bare conv's width from the
network's ``channels``), every problem reported.

Part of :class:`~cnndsl.elaborate.elaborator.Elaborator` (a mixin).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from .. import ops
from ..diagnostics import Span
from ..ops.schema import REQUIRED, Attr, OpDef
from ..suggest import closest
from ..syntax import ast
from .attrs import check_attr, fmt_value
from .env import BUILTIN_DEFAULTS, POISON, ElabError, Env, Port, Thunk, err

if TYPE_CHECKING:
    from .elaborator import Elaborator

# Keyword spellings users bring from PyTorch, Keras and papers.
ATTR_ALIASES = {
    "padding": "pad", "kernel_size": "kernel", "k": "kernel", "filters": "out",
    "channels": "out", "out_channels": "out", "units": "out", "features": "out",
    "out_features": "out", "s": "stride", "rate": "p", "ceil": "ceil_mode",
    "negative_slope": "slope", "g": "groups", "strides": "stride", "pool_size": "kernel",
}


class OperatorArgs:
    def bind_args(self: Elaborator, op: OpDef, args: tuple[ast.Arg, ...], env: Env, x: Port,
                  span: Span) -> dict[str, Any]:
        """Evaluate and validate a call's arguments against the operator's schema."""
        values: dict[str, Any] = {}
        positional = _positional(op)
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
                    hint = closest(name, names, cutoff=0.5)  # short keyword names
                    problems.append(err("E0102", f"`{op.name}` has no argument `{a.name}`",
                                        a.span, help=(f"did you mean `{hint}`? " if hint else "")
                                        + _signature(op)))
                    continue
            if attr.name in values:
                problems.append(err("E0106", f"`{attr.name}` is given twice", a.span))
                continue
            try:
                v = self.ev.eval(a.value, env, want_str=attr.kind in ("str", "pad"))
                values[attr.name] = check_attr(op, attr, v, a.value)
            except ElabError as ex:
                problems.append(ex)
        for p in problems[1:]:  # all reported; the first one stops the call
            self.report(p.diagnostic)
        if problems:
            raise problems[0]
        return values

    def apply_op(self: Elaborator, op: OpDef, values: dict[str, Any], span: Span, x: Port,
                 env: Env) -> Port:
        """The operator's node on ``x``, its defaults filled in; a fully connected layer
        after a feature map flattens it first."""
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

    def _default(self: Elaborator, a: Attr, env: Env) -> Any:
        """A default computed from the network's values (a bare conv's ``channels``)."""
        return a.default(_Defaults(self, env))


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


def _normalize(attr: Attr, v: Any) -> Any:
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
