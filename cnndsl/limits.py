"""Bounds on what one compile may cost, so that any input fails fast instead of running
away: a runaway repeat count, a file of a million brackets, an import diamond.

Every bound is far above any real network and can be raised: ``limits={"nodes":
500_000}`` in Python, ``--limit nodes=500000`` on the command line. The diagnostic that
reports a bound names it and says how to raise it.

>>> Limits().nodes, Limits.parse(["nodes=500000"]).nodes
(10000, 500000)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from .diagnostics import UserError


@dataclass(frozen=True)
class Limits:
    nodes: int = 10_000  # IR nodes after expansion (the zoo's ResNet-1202 has 4,208)
    steps: int = 50_000  # expansion steps (the zoo takes at most 2.3 a node; a repeat of
    #                      nothing still takes steps)
    elements: int = 2**31  # elements of one tensor, per sample
    params: int = 10**11  # parameters of the whole network
    source_bytes: int = 8 * 2**20  # one source file
    nesting: int = 100  # brackets inside brackets
    import_depth: int = 32  # files importing files
    import_bytes: int = 16 * 2**20  # all imported files together

    @classmethod
    def of(cls, value: Limits | Mapping[str, int] | None) -> Limits:
        """``value`` as Limits: None gives the defaults, a mapping overrides some."""
        if value is None:
            return cls()
        if isinstance(value, Limits):
            return value
        if not isinstance(value, Mapping):
            raise UserError(f"limits must be a mapping of bounds to numbers, got "
                            f"{type(value).__name__}", help='e.g. limits={"nodes": 200000}',
                            exit_code=2)
        return cls.parse(f"{k}={v}" for k, v in value.items())

    @classmethod
    def parse(cls, items: Iterable[str]) -> Limits:
        """``["nodes=500000", "params=1e12"]`` over the defaults."""
        known = {f.name for f in fields(cls)}
        changes: dict[str, Any] = {}
        for item in items:
            key, _, text = str(item).partition("=")
            key = key.strip().replace("-", "_")
            if key not in known:
                raise UserError(f"unknown limit `{key}`", help="limits: " + ", ".join(
                    sorted(known)), exit_code=2)
            try:
                value = int(float(text)) if "e" in text.lower() else int(text)
            except (ValueError, OverflowError):
                raise UserError(f"limit {key} needs a whole number, got {text!r}",
                                exit_code=2) from None
            if value < 1:
                raise UserError(f"limit {key} must be positive", exit_code=2)
            changes[key] = value
        return replace(cls(), **changes)


def how_to_raise(name: str, value: int, needed: int | None = None) -> str:
    """The help line of a diagnostic reporting a bound (``needed``: what the program
    asks for, where it is known)."""
    new = needed if needed is not None and needed > value else 2 * value
    return (f"if this is intended, raise the limit: --limit {name}={new} "
            f"(limits={{'{name}': {new}}} in Python)")
