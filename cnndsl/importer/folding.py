"""Runs of the same layers as repeats: ``bottleneck(256) - bottleneck(256) - bottleneck(256)``
is ``bottleneck(256) * 3``, ``conv(64, 3) - relu - conv(64, 3) - relu`` is
``(conv(64, 3) - relu) * 2``.

A shared block's instances must fold alike to share a body: ``head_run`` folds each run
of calls of one block as its first call and a repeat of the rest
(``bottleneck(c, stride) - bottleneck(c) * n``), also where the rest is one call or
none (a repeat of zero: any arguments do).

>>> from cnndsl.importer.expr import Context, chain
>>> relu, pool = Layer("relu", (), frozenset()), Layer("maxpool", (), frozenset())
>>> chain(fold((relu, pool, relu, pool, relu)), Context())
'(relu - maxpool) * 2 - relu'
>>> [type(x).__name__ for x in fold((Call(1, (64,)), Call(1, (64,))), head_run=True)]
['Call', 'Repeat']
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction

from .expr import Aux, Call, Label, Layer, Merge, Ref, Repeat, Residual, Stmt, Sym  # noqa: F401

MAX_PERIOD = 6  # the longest run of layers repeated as a group


def fold(items: Sequence, head_run: bool = False, stepped: bool = False) -> tuple:
    """``items`` with runs repeated (inside merges and residuals too); ``stepped``:
    also runs of calls whose arguments step evenly, with ``repeat_index``."""
    items = [_inside(it) for it in items]
    if head_run:
        return _head_runs(items)
    if stepped:
        items = _progressions(items)
    out = _maximal(items)
    while len(out) < len(items):  # runs of runs: ((conv(512, 3) - relu) * 3 - maxpool) * 2
        items, out = list(out), _maximal(list(out))
    return out


def fold_body(body: Sequence[Stmt], head_run: bool = False,
              stepped: bool = False) -> tuple[Stmt, ...]:
    return tuple(Stmt(fold(s.items, head_run, stepped), s.label) for s in body)


def _inside(it):
    if isinstance(it, Merge):
        return Merge(it.kind, tuple(fold(b) for b in it.branches), tag=it.tag)
    if isinstance(it, Residual):
        return Residual(fold(it.body), it.mode, tag=it.tag)
    if isinstance(it, Aux):
        return Aux(fold(it.head), tag=it.tag)
    return it


def _foldable(it) -> bool:
    return not isinstance(it, (Ref, Label, Aux))


def _maximal(items: list) -> tuple:
    out, i, n = [], 0, len(items)
    while i < n:
        best_p, best_r = 1, 1
        for p in range(1, min(MAX_PERIOD, (n - i) // 2) + 1):
            unit = items[i:i + p]
            if not all(_foldable(x) for x in unit):
                break
            if p > 1 and getattr(unit[0], "down", False):
                continue  # a stage ends with its pool: (convs - pool) * 2, not (pool - convs)
            r = 1
            while items[i + r * p:i + (r + 1) * p] == unit:
                r += 1
            if r > 1 and p * (r - 1) > best_p * (best_r - 1):
                best_p, best_r = p, r
        if best_r > 1:
            out.append(Repeat(tuple(items[i:i + best_p]), best_r, tag=_tag(items[i])))
        else:
            out.extend(items[i:i + best_p])
        i += best_p * best_r
    return tuple(out)


def _tag(it) -> str:
    return getattr(it, "tag", "")


def _head_runs(items: list) -> tuple:
    """Each run of calls of one block as its first call and a repeat of the rest."""
    out, i = [], 0
    while i < len(items):
        it = items[i]
        if not isinstance(it, Call):
            j = i
            while j < len(items) and not isinstance(items[j], Call):
                j += 1
            out.extend(_maximal(items[i:j]))
            i = j
            continue
        j = i + 1
        while j < len(items) and isinstance(items[j], Call) and items[j].block == it.block:
            j += 1
        rest = items[i + 1:j]
        if all(r == rest[0] for r in rest):
            out += [it, Repeat((rest[0] if rest else it,), len(rest), tag=_tag(it))]
        else:
            out.extend(_maximal(items[i:j]))
        i = j
    return tuple(out)


# ---------------------------------------------------------------- stepped arguments
MIN_STEPS = 3  # a stepped run is worth a repeat from this long


def _progressions(items: list) -> list:
    """Runs of calls of one block whose arguments are equal or step evenly (stochastic
    depth rates): ``sd_basic(1 / 108) - sd_basic(1 / 54) - sd_basic(1 / 36)`` is
    ``sd_basic((1 + repeat_index) / 108) * 3``."""
    out, i = [], 0
    while i < len(items):
        it = items[i]
        j = i
        while j < len(items) and isinstance(items[j], Call) and items[j].block == getattr(
                it, "block", None):
            j += 1
        for k in range(j - i, MIN_STEPS - 1, -1):
            args = _stepped(items[i:i + k])
            if args is not None:
                out.append(Repeat((Call(it.block, args, tag=it.tag, down=it.down),), k,
                                  tag=it.tag))
                i += k
                break
        else:
            out.append(it)
            i += 1
    return out


def _stepped(run: list) -> tuple | None:
    """The arguments of ``run`` with ``repeat_index`` where they step, None where they
    do not (or none steps)."""
    args, steps = [], False
    for column in zip(*(c.args for c in run)):
        if all(v == column[0] for v in column):
            args.append(column[0])
            continue
        text = _step(column)
        if text is None:
            return None
        args.append(Sym(text))
        steps = True
    return tuple(args) if steps else None


def _step(values: tuple) -> str | None:
    """``values`` as ``a + b * repeat_index`` (whole numbers) or that over a common
    denominator (rates the compiler keeps to 12 places), where they step evenly."""
    if all(type(v) is int for v in values):
        num, den = list(values), 1
    elif all(type(v) is float for v in values):
        fractions = [Fraction(v).limit_denominator(1000) for v in values]
        den = math.lcm(*(f.denominator for f in fractions))
        num = [int(f * den) for f in fractions]
        if den > 100_000 or any(round(n / den, 12) != v for n, v in zip(num, values)):
            return None
    else:
        return None
    step = num[1] - num[0]
    if step == 0 or any(b - a != step for a, b in zip(num, num[1:])):
        return None
    term = "repeat_index" if step == 1 else f"{step} * repeat_index"
    text = term if num[0] == 0 else f"{num[0]} + {term}"
    if den == 1:
        return text
    return f"{text} / {den}" if num[0] == 0 and step == 1 else f"({text}) / {den}"
