"""Environments, values and the numeric evaluator of the elaborator.

Block arguments are passed by name (a :class:`Thunk`: the expression and the
environment it was written in), so one argument can be a number (``basic(64)``) or a
piece of network (``residual(conv - bn)``); what it is, is decided where it is used.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ..diagnostics import Diagnostic, Span
from ..ir.graph import TensorType
from ..syntax import ast
from ..syntax.build import MAX_INT

# Widths of bare layers and the class count, overridable like any parameter.
BUILTIN_DEFAULTS: dict[str, Any] = {"channels": 32, "hidden": 128, "classes": 10}
BOOLEANS = {"true": True, "false": False, "yes": True, "no": False, "on": True, "off": False}


class ElabError(Exception):
    """A diagnostic that stops the current expression (collected, then elaboration goes on)."""

    def __init__(self, diagnostic: Diagnostic | None):
        self.diagnostic = diagnostic  # None: a consequence of an error already reported


class LimitExceeded(Exception):
    """A bound of :class:`~cnndsl.limits.Limits` was crossed: elaboration stops at once
    (not collected and continued, as an :class:`ElabError` is)."""

    def __init__(self, diagnostic: Diagnostic):
        self.diagnostic = diagnostic


def err(code: str, message: str, span: Span | None, help: str | None = None,
        label: str | None = None) -> ElabError:
    return ElabError(Diagnostic(code, message, span, help=help, label=label))


@dataclass(frozen=True)
class Port:
    """A value flowing through the network: the node that makes it and its type.

    ``type`` None marks a value poisoned by an earlier error: building goes on (to find
    independent errors) but shapes are no longer checked.
    """

    node: str | None
    type: TensorType | None

    @property
    def ok(self) -> bool:
        return self.type is not None


POISON = Port(None, None)


@dataclass(frozen=True)
class TensorRef:
    """A tensor named with ``as``: using the name continues from that tensor."""

    port: Port


@dataclass
class Thunk:
    expr: ast.Expr
    env: Env
    cache: Any = field(default=None, repr=False)


@dataclass
class Env:
    vars: dict[str, Any]
    parent: Env | None = None
    block_input: Port | None = None  # what in_c, in_h, in_w refer to
    origin: str = "network"  # 'network', 'block NAME', 'builtin'

    def find(self, name: str) -> tuple[bool, Any]:
        env: Env | None = self
        while env is not None:
            if name in env.vars:
                return True, env.vars[name]
            env = env.parent
        return False, None

    def input_port(self) -> Port | None:
        env: Env | None = self
        while env is not None:
            if env.block_input is not None:
                return env.block_input
            env = env.parent
        return None

    def child(self, vars: dict[str, Any], block_input: Port | None = None,
              origin: str = "block") -> Env:
        return Env(vars, self, block_input, origin)


# ---------------------------------------------------------------- numeric evaluation
_MATH = {
    "floor": (1, lambda x: math.floor(x)),
    "ceil": (1, lambda x: math.ceil(x)),
    "round": (1, lambda x: int(round(x))),
    "int": (1, lambda x: int(x)),
    "abs": (1, abs),
    "min": (-1, min),
    "max": (-1, max),
    "make_divisible": (-1, None),  # handled below
}


TESTS = frozenset({"==", "!=", "<", "<=", ">", ">=", "and", "or"})


def make_divisible(v: float, divisor: int = 8, min_value: int | None = None) -> int:
    """MobileNet's channel rounding: nearest multiple of divisor, never below 90% of v.

    >>> make_divisible(32 * 1.4), make_divisible(24 * 0.35, 8)
    (48, 8)
    """
    min_value = min_value or divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    return new_v + divisor if new_v < 0.9 * v else new_v


def is_math(name: str) -> bool:
    return name.lower() in _MATH


class Evaluator:
    """Evaluates expressions to numbers, strings or shapes.

    ``resolve_layer(name)`` tells whether a name is a layer or block (for messages);
    ``on_unbound(name)`` records free parameters.
    """

    def __init__(self, is_layer, record_use=None):
        self.is_layer = is_layer
        self.record_use = record_use or (lambda name: None)

    def kind(self, e: ast.Expr, env: Env, depth: int = 0) -> str:
        """'num', 'net' or 'unknown' (a free name) without evaluating anything."""
        if depth > 200:
            return "unknown"
        if isinstance(e, (ast.Num, ast.Str, ast.ShapeLit)):
            return "num"
        if isinstance(e, (ast.VggConv, ast.VggFc, ast.Alt, ast.Optional)):
            return "net"
        if isinstance(e, ast.Label):
            return "net"
        if isinstance(e, ast.Name):
            found, v = env.find(e.id)
            if found:
                if isinstance(v, TensorRef):
                    return "net"
                return self.kind(v.expr, v.env, depth + 1) if isinstance(v, Thunk) else "num"
            if e.id.lower() in ("in_c", "in_h", "in_w") or e.id.lower() in BOOLEANS:
                return "num"
            if self.is_layer(e.id):
                return "net"
            if e.id in BUILTIN_DEFAULTS:
                return "num"
            return "unknown"
        if isinstance(e, ast.Call) and e.func.id.lower() == "if" and len(e.args) == 3:
            kinds = {self.kind(a.value, env, depth + 1) for a in e.args[1:]}
            return "net" if "net" in kinds else ("num" if kinds == {"num"} else "unknown")
        if isinstance(e, ast.Call):
            return "num" if is_math(e.func.id) and not self.is_layer(e.func.id) else "net"
        if isinstance(e, ast.Group):
            return self.kind(e.value, env, depth + 1)
        if isinstance(e, (ast.Neg, ast.Not)) or (isinstance(e, ast.BinOp) and e.op in TESTS):
            return "num"
        if isinstance(e, ast.Seq):
            kinds = {self.kind(i, env, depth + 1) for i in e.items}
            return "net" if "net" in kinds else ("num" if kinds == {"num"} else "unknown")
        if isinstance(e, ast.BinOp):
            kinds = {self.kind(e.left, env, depth + 1), self.kind(e.right, env, depth + 1)}
            return "net" if "net" in kinds else ("num" if kinds == {"num"} else "unknown")
        return "unknown"

    def eval(self, e: ast.Expr, env: Env, want_str: bool = False) -> Any:
        if isinstance(e, ast.Num):
            return e.value
        if isinstance(e, ast.Str):
            return e.value
        if isinstance(e, ast.ShapeLit):
            return e.dims
        if isinstance(e, ast.Group):
            return self.eval(e.value, env, want_str)
        if isinstance(e, ast.Name):
            return self._name(e, env, want_str)
        if isinstance(e, ast.Neg):
            v = self.eval(e.value, env)
            self._need_number(v, e.value)
            return -v
        if isinstance(e, ast.Not):
            return not self.truth(e.value, env)
        if isinstance(e, ast.BinOp) and e.op in TESTS:
            return self._test(e, env)
        if isinstance(e, ast.Call) and e.func.id.lower() == "if" and len(e.args) == 3 \
                and all(a.name is None for a in e.args):  # a number chosen by a test
            chosen = e.args[1] if self.truth(e.args[0].value, env) else e.args[2]
            return self.eval(chosen.value, env, want_str)
        try:
            if isinstance(e, ast.Seq):
                return _finite(self._arith_seq(e, env), e)
            if isinstance(e, ast.BinOp):
                return _finite(self._binop(e, env), e)
            if isinstance(e, ast.Call) and is_math(e.func.id):
                return _finite(self._math(e, env), e)
        except OverflowError:
            raise _overflow(e) from None
        raise err("E0107", f"expected a number, found the layer expression `{e.text}`",
                  e.span, help="numbers are needed here (a width, a kernel size, a count)")

    def _name(self, e: ast.Name, env: Env, want_str: bool) -> Any:
        found, v = env.find(e.id)
        if found:
            self.record_use(e.id)
            if isinstance(v, TensorRef):
                raise err("E0107", f"`{e.id}` names a tensor, not a number", e.span)
            if isinstance(v, Thunk):
                if v.cache is None:
                    v.cache = (self.eval(v.expr, v.env, want_str),)
                return v.cache[0]
            return v
        low = e.id.lower()
        if low in ("in_c", "in_h", "in_w"):
            port = env.input_port()
            if port is not None and not port.ok:
                raise ElabError(None)  # the input is poisoned: already reported
            if port is None:
                raise err("E0203", f"`{e.id}` is only known inside a block, where it is the "
                          "block's input size", e.span)
            t = port.type
            if low == "in_c":
                return t.dims[0]
            if not t.is_map:
                raise err("E0203", f"`{e.id}`: the block's input is a vector ({t})", e.span)
            return t.dims[1] if low == "in_h" else t.dims[2]
        if low in BOOLEANS:
            return BOOLEANS[low]
        if e.id in BUILTIN_DEFAULTS:
            self.record_use(e.id)
            return BUILTIN_DEFAULTS[e.id]
        if want_str:
            return e.id
        if self.is_layer(e.id):
            raise err("E0107", f"expected a number, found the layer `{e.id}`", e.span)
        raise err("E0201", f"parameter `{e.id}` has no value", e.span,
                  help=f"bind it: `--set {e.id}=<value>` on the command line, "
                  f"`bindings={{'{e.id}': ...}}` in Python, or give it a default in the "
                  f"header: `network name({e.id}=...):`")

    @staticmethod
    def _need_number(v: Any, e: ast.Expr) -> None:
        """Numbers for arithmetic; a test or true/false counts as 1 or 0."""
        if not isinstance(v, (int, float)):
            raise err("E0104", f"expected a number, `{e.text}` is {v!r}", e.span)

    def _arith_seq(self, e: ast.Seq, env: Env) -> Any:
        if all(op == "," for op in e.ops):  # a tuple, as Keras writes sizes: (3, 3)
            values = tuple(self.eval(item, env) for item in e.items)
            for v, item in zip(values, e.items):
                self._need_number(v, item)
            return values
        acc = self.eval(e.items[0], env)
        self._need_number(acc, e.items[0])
        for op, item in zip(e.ops, e.items[1:]):
            v = self.eval(item, env)
            self._need_number(v, item)
            if op == "-":
                acc = acc - v
            elif op == "+":
                acc = acc + v
            else:
                raise err("E0107", f"`{op}` joins layers, but both sides here are numbers",
                          e.span, help="use `-` or `+` for arithmetic")
        return acc

    def truth(self, e: ast.Expr, env: Env) -> bool:
        """A test's value: a comparison, a number or true/false (never a string)."""
        v = self.eval(e, env)
        if not isinstance(v, (int, float)):
            raise err("E0104", f"a test needs a number or true/false, `{e.text}` is {v!r}",
                      e.span)
        return bool(v)

    def _test(self, e: ast.BinOp, env: Env) -> bool:
        """A comparison (numbers, or names as in ``act == relu``) or ``and``/``or``,
        which evaluate their right side only when it decides."""
        if e.op == "and":
            return self.truth(e.left, env) and self.truth(e.right, env)
        if e.op == "or":
            return self.truth(e.left, env) or self.truth(e.right, env)
        a, b = self._operand(e.left, env), self._operand(e.right, env)
        if e.op in ("==", "!="):
            same = a.lower() == b.lower() if isinstance(a, str) and isinstance(b, str) else a == b
            return same if e.op == "==" else not same
        for v, side in ((a, e.left), (b, e.right)):
            if isinstance(v, str) or not isinstance(v, (int, float)):
                raise err("E0104", f"`{e.op}` compares numbers, `{side.text}` is {v!r}",
                          side.span)
        return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[e.op]

    def _operand(self, e: ast.Expr, env: Env) -> Any:
        """A value to compare: a layer's name stands for itself (``act == relu``), an
        unbound name is an error (a misspelt parameter never compares unequal)."""
        if isinstance(e, ast.Name):
            if env.find(e.id)[0]:
                return self.eval(e, env, want_str=True)  # `act=relu` holds a name
            if self.is_layer(e.id):
                return e.id
        return self.eval(e, env)

    def _binop(self, e: ast.BinOp, env: Env) -> Any:
        a = self.eval(e.left, env)
        b = self.eval(e.right, env)
        self._need_number(a, e.left)
        self._need_number(b, e.right)
        if e.op in ("*", "×"):
            return a * b
        if b == 0:
            raise err("E0202", "division by zero", e.span)
        if e.op == "/":
            q = a / b
            return int(q) if isinstance(a, int) and isinstance(b, int) and a % b == 0 else q
        if e.op == "//":
            return a // b
        return a % b

    def _math(self, e: ast.Call, env: Env) -> Any:
        args = [self.eval(a.value, env) for a in e.args]
        for a, v in zip(e.args, args):
            self._need_number(v, a.value)
        name = e.func.id.lower()
        if name == "make_divisible":
            if not 1 <= len(args) <= 3:
                raise err("E0401", "make_divisible(value, divisor=8, min=divisor)", e.span)
            if any(not isinstance(a, int) or a < 1 for a in args[1:]):
                raise err("E0105", "make_divisible's divisor and minimum must be positive "
                          "whole numbers", e.span)
            return make_divisible(*args)
        arity, fn = _MATH[name]
        if (arity == 1 and len(args) != 1) or not args:
            raise err("E0401", f"{name}() takes {'one argument' if arity == 1 else 'arguments'}",
                      e.span)
        return fn(args[0]) if arity == 1 else fn(args)


def _finite(v: Any, e: ast.Expr) -> Any:
    """An arithmetic result, if it is a finite number that fits in 64 bits."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return v
    if (isinstance(v, float) and not math.isfinite(v)) or abs(v) > MAX_INT:
        raise _overflow(e)
    return v


def _overflow(e: ast.Expr) -> ElabError:
    return err("E0114", f"`{e.text}` overflows", e.span,
               help="numbers must be finite and below 2^63")
