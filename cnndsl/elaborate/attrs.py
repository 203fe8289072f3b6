"""Checking one attribute value against its operator's schema (:class:`~cnndsl.ops.Attr`).

>>> from cnndsl import ops
>>> conv = ops.get("conv")
>>> check_attr(conv, conv.attr("kernel"), 3, None), check_attr(conv, conv.attr("out"), 8.0, None)
((3, 3), 8)
"""

from __future__ import annotations

import math
from typing import Any

from ..ops.schema import Attr, OpDef
from ..syntax import ast
from ..syntax.build import MAX_INT
from .env import ElabError, err


def fmt_value(v: Any) -> str:
    if isinstance(v, tuple):
        return "x".join(map(str, v))
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


class _Place:
    """Where a value was written, for messages (its text is read only when needed)."""

    def __init__(self, op: OpDef, attr: Attr, expr: ast.Expr | None):
        self.op, self.attr, self.expr = op, attr, expr
        self.span = expr.span if expr is not None else None

    def error(self, code: str, message: str, help: str | None = None) -> ElabError:
        return err(code, message, self.span, help=help)

    @property
    def doc(self) -> str | None:
        return f"{self.op.name}: {self.attr.doc}" if self.attr.doc else None

    @property
    def what(self) -> str:
        return f"`{self.attr.name}` of {self.op.name}"


def _finite(x: int | float, at: _Place) -> None:
    if (isinstance(x, float) and not math.isfinite(x)) or abs(x) > MAX_INT:
        raise at.error("E0114", f"{at.what} is {fmt_value(x)}: too large",
                       help="numbers must be finite and below 2^63")


def _integer(x: Any, at: _Place) -> int:
    if type(x) is int and -MAX_INT <= x <= MAX_INT:
        return x
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        shown = fmt_value(x) if not isinstance(x, str) else repr(x)
        raise at.error("E0104", f"{at.what} must be a whole number, got {shown}", at.doc)
    _finite(x, at)
    if isinstance(x, float):
        if not x.is_integer():
            shown = at.expr.text if at.expr is not None else repr(x)
            raise at.error("E0104", f"{at.what} must be a whole number, `{shown}` is {x:g}",
                           help="round it: floor(...), round(...) or //")
        x = int(x)
    return x


def _bounded(x: int | float, at: _Place) -> None:
    low, high = at.attr.min, at.attr.max
    if low is not None and x < low:
        need = "positive" if low == 1 else f"at least {low:g}"
        raise at.error("E0105", f"{at.what} must be {need}, got {x:g}", at.doc)
    if high is not None and x > high:
        raise at.error("E0105", f"{at.what} must be at most {high:g}, got {x:g}")


def _ints(v: Any, at: _Place, sizes: tuple[int, ...]) -> tuple[int, ...]:
    vals = v if isinstance(v, tuple) else (v, v)
    if len(vals) not in sizes:
        what = "N or HxW" if sizes == (2,) else "P, PhxPw or top x bottom x left x right"
        raise at.error("E0104", f"{at.what} must be {what}")
    out = tuple(_integer(x, at) for x in vals)
    for x in out:
        _bounded(x, at)
    return out


def check_attr(op: OpDef, attr: Attr, v: Any, expr: ast.Expr | None) -> Any:
    """Type- and range-check one attribute value; returns the normalized value."""
    if v is None:
        return None
    at = _Place(op, attr, expr)
    kind = attr.kind
    if kind == "int":
        v = _integer(v, at)
        _bounded(v, at)
        return v
    if kind == "pair":
        return _ints(v, at, (2,))
    if kind == "float":
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise at.error("E0104", f"{at.what} must be a number")
        _finite(v, at)
        _bounded(v, at)
        return round(float(v), 12)  # 0.1 * 3 prints as 0.3
    if kind == "bool":
        if isinstance(v, bool):
            return v
        if isinstance(v, int) and v in (0, 1):
            return bool(v)
        raise at.error("E0104", f"{at.what} must be true or false")
    if kind == "str":
        if not isinstance(v, str):
            raise at.error("E0104", f"{at.what} must be a name")
        if attr.choices and v.lower() not in attr.choices:
            raise at.error("E0105", f"`{attr.name}` must be one of {', '.join(attr.choices)}")
        return v.lower() if attr.choices else v
    if kind == "pad":
        if isinstance(v, str):
            if v.lower() not in ("same", "valid", "auto"):
                raise at.error("E0105", "padding must be a number, HxW, 'same', 'valid' or "
                               f"'auto', got {v!r}")
            return v.lower()
        return _ints(v, at, (2, 4))
    return v
