"""The operator registry: name and alias lookup, duplicate checks, "did you mean"."""

from __future__ import annotations

import difflib

from .schema import OpDef

_OPS: dict[str, OpDef] = {}
_ALIASES: dict[str, str] = {}


def _key(name: str) -> str:
    return name.lower().replace("-", "_")


def register(op: OpDef) -> OpDef:
    """Add an operator; its name and aliases must be new (case-insensitive)."""
    for n in (op.name, *op.aliases):
        k = _key(n)
        if k in _ALIASES:
            raise ValueError(f"operator name {n!r} is already taken by {_ALIASES[k]!r}")
        _ALIASES[k] = op.name
    _OPS[op.name] = op
    return op


def lookup(name: str) -> OpDef | None:
    """The operator called ``name`` (any case, any alias), or None."""
    canonical = _ALIASES.get(_key(name))
    return _OPS[canonical] if canonical else None


def get(name: str) -> OpDef:
    """The operator with canonical name ``name``; KeyError for an unknown one."""
    return _OPS[name]


def all_ops() -> list[OpDef]:
    return sorted(_OPS.values(), key=lambda o: o.name)


def names() -> list[str]:
    return sorted(_ALIASES)


def did_you_mean(name: str, extra: list[str] = ()) -> str | None:
    pool = list(_ALIASES) + [x.lower() for x in extra]
    match = difflib.get_close_matches(_key(name), pool, n=1, cutoff=0.6)
    return match[0] if match else None
