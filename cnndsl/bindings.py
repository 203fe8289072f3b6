"""Bindings: the values ``--set K=V`` and ``bindings={...}`` give a network's parameters,
checked.

"Bindings" is the word for bound values throughout cnndsl; "params" means weight counts
(``Network.params_count``, the ``params`` column). ``parse_params`` and ``check_params``
are the old names, kept for one release.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Mapping
from typing import Any

from .deprecation import renamed_function
from .diagnostics import UserError
from .syntax.build import MAX_INT


def check_bindings(bindings: Mapping[str, Any] | None) -> dict[str, Any]:
    """Bindings as the compiler takes them: names to booleans, finite numbers below 2^63
    or strings; anything else is a usage error.

    >>> check_bindings({"N": 2, "act": "relu"})
    {'N': 2, 'act': 'relu'}
    """
    if bindings is not None and not isinstance(bindings, Mapping):
        raise UserError(f"bindings must be a mapping of names to values, got "
                        f"{type(bindings).__name__}", help='e.g. bindings={"N": 3}',
                        exit_code=2)
    out: dict[str, Any] = {}
    for k, v in (bindings or {}).items():
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
        check_switch(k, v)
        out[_name(k)] = v
    return out


def _name(key: str) -> str:
    """A bound name as the parser reads names in the source (NFKC: a full-width ``Ｎ``
    is ``N``, a decomposed ``ö`` the composed one)."""
    return unicodedata.normalize("NFKC", key.strip())


def check_switch(name: str, value: Any) -> None:
    """An optional part's switch (``pool?``, ``?`` for all) is on or off, nothing else:
    ``--set POOL?=maybe`` is a usage error, not a part left on.

    >>> check_switch("pool?", "maybe")
    Traceback (most recent call last):
    cnndsl.diagnostics.UserError: `pool?` switches an optional part on or off, got 'maybe'
      help: --set pool?=on or --set pool?=off (true/false, yes/no also read); from Python, True or False
    """
    if name.endswith("?") and not isinstance(value, bool):
        raise UserError(f"`{name}` switches an optional part on or off, got {value!r:.40}",
                        help=f"--set {name}=on or --set {name}=off (true/false, yes/no "
                        "also read); from Python, True or False", exit_code=2)


def parse_bindings(items: list[str] | None) -> dict[str, Any]:
    """``--set`` bindings as the compiler takes them: numbers, booleans, else text.

    >>> parse_bindings(["N=2", "act=relu", "pool?=off", "p=0.5"])
    {'N': 2, 'act': 'relu', 'pool?': False, 'p': 0.5}
    """
    out: dict[str, Any] = {}
    for item in items or ():
        if "=" not in item:
            raise UserError(f"--set expects K=V, got {item!r}", help="e.g. --set N=2",
                            exit_code=2)
        k, v = item.split("=", 1)
        if not k.strip():
            raise UserError(f"--set {item!r} names no parameter", help="e.g. --set N=2",
                            exit_code=2)
        out[_name(k)] = _scalar(v.strip())
    return out


parse_params = renamed_function(parse_bindings, "parse_params")
check_params = renamed_function(check_bindings, "check_params")


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
