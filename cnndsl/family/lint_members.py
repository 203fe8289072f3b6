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
from dataclasses import dataclass, field, replace

from ..diagnostics import Diagnostic
from ..lint import lint
from .coverage import SAMPLE
from .members import Family, Member, fingerprint
from .table import bindings_text


def member_warnings(family: Family, known: Sequence[Diagnostic],
                    sample: int = SAMPLE) -> list[Diagnostic]:
    """The lint warnings of the family's members (``sample`` drawn at random where there
    are more) at places and codes ``known`` (the first member's warnings) does not hold.
    Bindings are counted, each once: one that fails to compile has no network to lint,
    and two with the same graph are two bindings of one member."""
    seen = {(d.code, d.span) for d in known}
    size = family.space.size
    drawn = None if size <= sample else sample
    first: dict[tuple, tuple[Diagnostic, dict]] = {}
    count: dict[tuple, int] = {}
    walk = _Count(size, drawn is not None)
    for member in family.members(drawn, seed=0, invalid=True, unique=False):
        walk.add(member)
        for d in lint(member.network) if member.network is not None else ():
            key = (d.code, d.span)
            if key in seen:
                continue
            first.setdefault(key, (d, member.bindings))
            count[key] = count.get(key, 0) + 1
    return [replace(d, notes=d.notes + (f"in {walk.of(count[key])}, e.g. "
                                        f"{bindings_text(bindings)}",))
            for key, (d, bindings) in first.items()]


@dataclass
class _Count:
    """The bindings walked: how many compiled, and how many distinct graphs they had."""

    size: int
    sampled: bool
    walked: int = 0
    compiled: int = 0
    graphs: set[bytes] = field(default_factory=set)

    def add(self, member: Member) -> None:
        self.walked += 1
        if member.network is not None:
            self.compiled += 1
            self.graphs.add(fingerprint(member.network.graph))

    def of(self, n: int) -> str:
        """``n`` out of what was counted: ``2 of the family's 6 members`` where each
        binding is a member that compiles, else in bindings (``4 of the 8 bindings
        that compile (12 in all)``), as ``cnndsl enumerate`` counts them."""
        invalid = self.walked - self.compiled
        noun = "members" if not invalid and len(self.graphs) == self.compiled else "bindings"
        if not self.sampled:
            if not invalid:
                return f"{n:,} of the family's {self.walked:,} {noun}"
            return f"{n:,} of the {self.compiled:,} bindings that compile ({self.size:,} in all)"
        if not invalid:
            return f"{n:,} of {self.walked:,} {noun} sampled from {self.size:,}"
        return (f"{n:,} of the {self.compiled:,} sampled bindings that compile "
                f"({self.walked:,} sampled from {self.size:,})")
