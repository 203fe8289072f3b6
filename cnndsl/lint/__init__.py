"""Lint: warnings (W08xx) about designs that compile but are probably not meant.

``lint(net)`` runs every rule of :data:`RULES` over a compiled network and returns its
warnings, one per code and source place (a block called twelve times warns once, with
the call that made the first layer and a count of the others), sorted by position,
less those that an ``# allow W08xx`` comment on their line accepts.

>>> from cnndsl import compile
>>> net = compile("input 3x3x3\\nconv(16, 3) - bn - relu - gap - fc(10)")
>>> [(d.code, str(d.span)) for d in lint(net)]
[('W0802', '<input>:2:1')]
>>> lint(compile("input 3x3x3\\nconv(16, 3, bias=false) - bn - relu - gap - fc(10)"))
[]

The codes are in :mod:`cnndsl.catalogue` (section ``lint``); W0801 is kept for a check
over a family's parameter ranges.
"""

from __future__ import annotations

from dataclasses import replace

from ..diagnostics import Diagnostic, apply_allow_comments
from .facts import Compiled, Facts
from .rules import RULES

__all__ = ["RULES", "lint"]


def lint(net: Compiled) -> list[Diagnostic]:
    """The W08xx warnings of ``net`` (a :class:`cnndsl.Network`), sorted by position."""
    facts = Facts.of(net)
    first: dict[tuple, Diagnostic] = {}
    more: dict[tuple, int] = {}
    for rule in RULES:
        for d in rule(facts):
            key = (d.code, d.span)
            if key in first:
                more[key] += 1
            else:
                first[key], more[key] = d, 0
    out = []
    for key, d in first.items():
        notes = d.notes + _calls(d, facts)
        if more[key]:
            n = more[key]
            notes += (f"and {n} more layer{'s' if n != 1 else ''} made by this line",)
        out.append(replace(d, notes=notes))
    out = apply_allow_comments(out)
    return sorted(out, key=lambda d: (d.span is not None, d.span.line if d.span else 0,
                                      d.span.col if d.span else 0, d.code))


def _calls(d: Diagnostic, facts: Facts) -> tuple[str, ...]:
    """Where the first offending layer was made: its block calls, innermost first."""
    node = next((n for n in facts.graph if n.span == d.span and n.scope), None)
    if node is None:
        return ()
    return tuple(f"in `{f.call}`, called at line {f.span.line}:{f.span.col}"
                 for f in reversed(node.scope) if f.named and f.span is not None)[:3]
