"""Lint over a family's members (``cnndsl lint --members``): the W08xx warnings that
some member has and the network at its defaults does not.

A design space can hold members the defaults never show: ``width in {4, 64}`` with ten
classes has a bottleneck at ``width=4``. Each warning is reported once per code and
source place, with how many members have it and the first binding that does.

>>> from cnndsl.family import Family
>>> fam = Family("network f(w in {16, 4}):\\n  input 3x3x3\\n  conv(32, 3) - relu - conv(w, 1) - relu - gap - fc(10)")
>>> [(d.code, d.notes[-1]) for d in member_warnings(fam, [])]
[('W0803', "in 1 of the family's 2 members, e.g. w=4")]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from ..diagnostics import Diagnostic
from ..lint import lint
from .coverage import SAMPLE
from .members import Family
from .table import bindings_text


def member_warnings(family: Family, known: Sequence[Diagnostic],
                    sample: int = SAMPLE) -> list[Diagnostic]:
    """The lint warnings of the family's members (``sample`` drawn at random where there
    are more) at places and codes ``known`` (the defaults' warnings) does not hold."""
    seen = {(d.code, d.span) for d in known}
    size = family.space.size
    drawn = None if size <= sample else sample
    first: dict[tuple, tuple[Diagnostic, dict]] = {}
    count: dict[tuple, int] = {}
    walked = 0
    for member in family.members(drawn, seed=0, unique=False):
        walked += 1
        for d in lint(member.network):
            key = (d.code, d.span)
            if key in seen:
                continue
            first.setdefault(key, (d, member.bindings))
            count[key] = count.get(key, 0) + 1
    where = (f"the family's {walked:,} members" if drawn is None else
             f"{walked:,} members sampled from {size:,}")
    return [replace(d, notes=d.notes + (f"in {count[key]:,} of {where}, e.g. "
                                        f"{bindings_text(bindings)}",))
            for key, (d, bindings) in first.items()]
