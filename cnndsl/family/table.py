"""A family's members as rows of figures: measured, filtered, sorted, the Pareto front.

A row keeps numbers only (no network), so a family of any size is measured in flat
memory. The figures are those of ``cnndsl summary``: parameters, MACs (conv and
linear), activations (elements created), the peak of live activations in a forward
(fp32 bytes per image), the receptive field of the last feature map (its smaller
axis) and the output shape.

>>> from cnndsl.family import Family
>>> fam = Family("network f(N in 1..3, w in {4, 8}):\\n  input 1x8x8\\n  conv(w) * N - gap - fc(2)")
>>> rows = [measure(m) for m in fam.members()]
>>> [(r.bindings, r.params, r.rf) for r in pareto(rows, ["params", "rf"])]  # deeper sees more
[({'N': 1, 'w': 4}, 50, 3), ({'N': 2, 'w': 4}, 198, 5), ({'N': 3, 'w': 4}, 346, 7)]
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..diagnostics import UserError
from ..passes.memory import activation_memory
from .members import Member

# Each figure and the way that is better: -1 smaller, +1 larger.
METRICS: dict[str, int] = {"params": -1, "macs": -1, "activations": -1, "memory": -1,
                           "rf": +1}
DIRECTIONS = {**METRICS, "accuracy": +1, "seconds": -1}  # with a search's results


@dataclass
class Row:
    """One member's figures (None where it is invalid), its bindings and its errors."""

    index: int
    bindings: dict[str, Any]
    valid: bool
    params: int | None = None
    macs: int | None = None
    activations: int | None = None
    memory: int | None = None  # peak live activations, fp32 bytes per image
    rf: int | None = None
    output: str = ""
    codes: list[str] = field(default_factory=list)
    message: str = ""
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)  # search results: accuracy, time

    def get(self, key: str) -> Any:
        """A figure, a binding or an extra column by name (None if absent)."""
        if key in METRICS or key in ("index", "output"):
            return getattr(self, key)
        if key in self.bindings:
            return self.bindings[key]
        return self.extra.get(key)


def measure(member: Member) -> Row:
    """The figures of ``member`` (the network is not kept)."""
    net = member.network
    if net is None:
        first = next((d for d in member.error.diagnostics if d.is_error), None)
        return Row(member.index, member.bindings, False, codes=member.codes,
                   message=first.message if first else "", duplicates=member.duplicates)
    c = net.cost
    mem = activation_memory(net.graph, c=c)
    return Row(member.index, member.bindings, True, c.params.total, c.macs, c.activations,
               mem.peak_bytes, last_map_field(net), "x".join(map(str, net.output_shape)),
               duplicates=member.duplicates)


def last_map_field(net) -> int | float | None:
    """The receptive field (smaller axis) of the widest-seeing feature map the output is
    computed from: what the features that reach the classifier see (an auxiliary
    head's maps do not count)."""
    feeds = net.graph.ancestors([net.graph.output])
    sizes = [min(rf.size) for n in net.graph.nodes
             if n.name in feeds and n.type.is_map
             and (rf := net.receptive_fields.get(n.name)) is not None]
    size = max(sizes, default=None)
    return int(size) if isinstance(size, float) and size.is_integer() else size


# ---------------------------------------------------------------- selecting
@dataclass(frozen=True)
class Bounds:
    """Filters on the figures: ``max_params=1_000_000``, ``min_rf=32``, ..."""

    max_params: int | None = None
    max_macs: int | None = None
    max_activations: int | None = None
    max_memory: int | None = None
    min_rf: int | None = None

    def admit(self, r: Row) -> bool:
        """Whether a valid row meets every bound (an invalid one is judged elsewhere)."""
        for name in ("params", "macs", "activations", "memory"):
            limit = getattr(self, f"max_{name}")
            if limit is not None and getattr(r, name) > limit:
                return False
        return self.min_rf is None or (r.rf is not None and r.rf >= self.min_rf)


@dataclass(frozen=True)
class Counts:
    """How many bindings were walked, and what became of them."""

    bindings: int  # walked (the whole space, or the sample)
    space: int  # the size of the whole space
    valid: int  # distinct valid graphs
    invalid: int
    duplicates: int  # bindings that gave a graph already seen
    shown: int

    def text(self) -> str:
        walked = (f"{self.bindings:,} binding{'s' if self.bindings != 1 else ''}"
                  if self.bindings == self.space else
                  f"{self.bindings:,} sampled of {self.space:,} bindings")
        dup = f", {self.duplicates:,} duplicate{'s' if self.duplicates != 1 else ''}"
        return (f"{walked}: {self.valid:,} valid member{'s' if self.valid != 1 else ''}, "
                f"{self.invalid:,} invalid{dup if self.duplicates else ''}; "
                f"{self.shown:,} shown")

    def to_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


WALK_LIMIT = 1_000_000  # members walked without a sample (about 15 minutes)


def walk(family, bounds: Bounds | None = None, sample: int | None = None, seed: int = 0,
         keep_invalid: bool = False) -> tuple[list[Row], Counts]:
    """Measure the members (streamed; no network kept), keep the valid ones the bounds
    admit (and the invalid ones with ``keep_invalid``), count them all."""
    size = family.space.size
    if sample is None and size > WALK_LIMIT:
        dims = " x ".join(f"{d.name} ({d.size:,})" for d in family.space.dims)
        raise UserError(f"the family has {size:,} members ({dims}), too many to walk "
                        "them all", exit_code=2, help=f"draw some with --sample N (up to "
                        f"{WALK_LIMIT:,}), or fix dimensions with --set NAME=VALUE")
    if sample is not None and sample > WALK_LIMIT and size > WALK_LIMIT:
        raise UserError(f"--sample {sample:,} is more members than a walk takes "
                        f"({WALK_LIMIT:,}, about 15 minutes)", exit_code=2,
                        help=f"draw at most {WALK_LIMIT:,}, or fix dimensions with "
                        "--set NAME=VALUE")
    bounds = bounds or Bounds()
    rows: list[Row] = []
    valid = invalid = 0
    for member in family.members(sample, seed, invalid=True):
        row = measure(member)
        valid += row.valid
        invalid += not row.valid
        if row.valid and bounds.admit(row) or not row.valid and keep_invalid:
            rows.append(row)
    walked = size if sample is None else min(sample, size)
    # every binding walked is a new valid member, an invalid one, or a graph seen before
    return rows, Counts(walked, size, valid, invalid, walked - valid - invalid, len(rows))


def dominates(a: Row, b: Row, metrics: Sequence[str]) -> bool:
    """``a`` is at least as good as ``b`` in every metric and better in one."""
    better = False
    for m in metrics:
        x, y = _oriented(a, m), _oriented(b, m)
        if x > y:
            return False
        better = better or x < y
    return better


def pareto(rows: Iterable[Row], metrics: Sequence[str]) -> list[Row]:
    """The valid rows no other valid row dominates, ordered by the first metric."""
    _check_metrics(metrics)
    valid = [r for r in rows if r.valid]
    missing = [m for m in metrics if valid and all(r.get(m) is None for r in valid)]
    if missing:
        raise UserError(f"no member has a figure `{missing[0]}` (a network without feature "
                        "maps has no receptive field)", exit_code=2,
                        help="choose from " + ", ".join(
                            m for m in DIRECTIONS if any(r.get(m) is not None for r in valid)))
    ordered = sorted(valid, key=lambda r: [_oriented(r, m) for m in metrics])
    front: list[Row] = []
    for r in ordered:  # nothing after r in this order can dominate it
        if not any(dominates(f, r, metrics) for f in front):
            front.append(r)
    return front


def _oriented(r: Row, metric: str) -> float:
    """The figure, signed so that smaller is better (a missing one is worst)."""
    v = r.get(metric)
    if v is None:
        return float("inf")
    return -v if DIRECTIONS.get(metric, -1) > 0 else v


def _check_metrics(metrics: Sequence[str]) -> None:
    for m in metrics:
        if m not in DIRECTIONS:
            raise UserError(f"unknown figure `{m}`", exit_code=2,
                            help="choose from " + ", ".join(DIRECTIONS))


def sort_rows(rows: list[Row], key: str) -> list[Row]:
    """Sorted by a figure or a parameter (``-key``: descending); invalid rows last."""
    reverse = key.startswith("-")
    name = key.lstrip("-")
    present = [r for r in rows if r.valid and r.get(name) is not None]
    if not name:
        raise UserError("--sort needs a figure or a parameter", exit_code=2,
                        help="sort by " + ", ".join([*METRICS, *(rows[0].bindings if rows
                                                                 else ())]))
    if rows and not present and not any(name in r.bindings for r in rows):
        known = [*METRICS, *rows[0].bindings, *rows[0].extra]
        why = (f"no member has a figure `{name}` (a network without feature maps has no "
               "receptive field)" if name in METRICS else f"cannot sort by `{name}`")
        raise UserError(why, exit_code=2, help="sort by " + ", ".join(
            k for k in known if k != name))
    rest = [r for r in rows if not (r.valid and r.get(name) is not None)]
    present.sort(key=lambda r: _sortable(r.get(name)), reverse=reverse)
    return present + rest


def _sortable(v: Any) -> tuple:
    return (0, v, "") if isinstance(v, (int, float)) else (1, 0, str(v))


_AMOUNT = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([kKMGT]i?)?\s*B?\s*$")
_SCALE = {"k": 10**3, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
          "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}


def parse_amount(text: str) -> int:
    """``1M`` -> 1000000; ``100k``, ``2.5G``, ``64MiB`` (bytes) too.

    >>> parse_amount("1M"), parse_amount("2.5G"), parse_amount("64MiB"), parse_amount("300")
    (1000000, 2500000000, 67108864, 300)
    """
    m = _AMOUNT.match(text)
    if not m:
        raise UserError(f"not an amount: {text!r}", exit_code=2,
                        help="a number with an optional k, M, G or T (1M, 2.5G, 64MiB)")
    return round(float(m.group(1)) * _SCALE.get(m.group(2) or "", 1))


def bindings_text(values: Mapping[str, Any]) -> str:
    """``N=2 K=0 pool?=off``: a member's bindings as ``--set`` would give them."""
    return " ".join(f"{k}={_value_text(k, v)}" for k, v in values.items())


def _value_text(key: str, v: Any) -> str:
    if isinstance(v, bool):
        return ("on" if v else "off") if key.endswith("?") else str(v).lower()
    return str(v)
