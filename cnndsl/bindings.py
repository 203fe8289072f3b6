"""Bindings: what ``--set K=V`` and ``params={...}`` give the compiler, checked."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from .diagnostics import UserError
from .syntax.build import MAX_INT


def check_params(params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Bindings as the compiler takes them: names to booleans, finite numbers below 2^63
    or strings; anything else is a usage error."""
    out: dict[str, Any] = {}
    for k, v in (params or {}).items():
        if not isinstance(k, str):
            raise UserError(f"parameter names are strings, got {k!r}", exit_code=2)
        ok = isinstance(v, (bool, str)) or (
            isinstance(v, (int, float)) and not (isinstance(v, float) and not math.isfinite(v))
            and abs(v) <= MAX_INT)
        if not ok:
            shown = (f"a number of {v.bit_length()} bits" if isinstance(v, int)
                     else f"{type(v).__name__} {v!r:.40}")
            raise UserError(f"parameter `{k}`: {shown} is not a value the language has",
                            help="bind a whole number, a finite number below 2^63, "
                            "true/false, or a name", exit_code=2)
        out[k] = v
    return out


def parse_params(items: list[str] | None) -> dict[str, Any]:
    """``--set`` bindings as the compiler takes them: numbers, booleans, else text.

    >>> parse_params(["N=2", "act=relu", "pool?=off", "p=0.5"])
    {'N': 2, 'act': 'relu', 'pool?': False, 'p': 0.5}
    """
    out: dict[str, Any] = {}
    for item in items or ():
        if "=" not in item:
            raise UserError(f"--set expects K=V, got {item!r}", help="e.g. --set N=2",
                            exit_code=2)
        k, v = item.split("=", 1)
        out[k.strip()] = _scalar(v.strip())
    return out


def _scalar(v: str) -> Any:
    low = v.lower()
    if low in ("true", "yes", "on"):
        return True
    if low in ("false", "no", "off"):
        return False
    for conv in (int, float):
        try:
            value = conv(v)
        except ValueError:
            continue
        if isinstance(value, float) and not math.isfinite(value):
            break  # "inf", "nan", 1e999: kept as text, refused where a number is needed
        return value
    return v
