"""What every benchmark here reports: figures that are ratios against a baseline measured
in the same run, interleaved and repeated, with their min and median.

A benchmark module exposes ``measure(quick: bool) -> list[Figure]``; ``benchmarks/run.py``
collects them into ``docs/performance.md``; run alone (``python benchmarks/X.py``) a
module prints its figures. Absolute times are reported beside the ratios, never judged.

>>> f = ratio_figure("compile", [2.0, 2.2, 2.1], [1.0, 1.1, 1.0], "torch.fx trace", 1.05)
>>> round(f.median, 2), f.met
(2.0, False)
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Figure:
    """One measure: ``median`` (and ``min``) of ``ours / baseline`` over paired samples,
    or of a plain quantity when ``baseline`` is empty."""

    name: str
    median: float
    min: float
    baseline: str = ""  # what the ratio is against ("" for a plain quantity)
    target: float | None = None  # met when median <= target
    unit: str = "x"  # "x" for a ratio
    detail: str = ""  # the absolute times, sizes, counts behind it
    samples: int = 0
    extra: dict = field(default_factory=dict)

    @property
    def met(self) -> bool | None:
        return None if self.target is None else self.median <= self.target

    def line(self) -> str:
        target = "" if self.target is None else (
            f"  target <= {self.target:g}{'' if self.unit == 'x' else ' ' + self.unit}: "
            + ("met" if self.met else "NOT met"))
        against = f" vs {self.baseline}" if self.baseline else ""
        unit = "" if self.unit == "x" else f" {self.unit}"
        return (f"{self.name}{against}: median {self.median:.3f}{unit} (min {self.min:.3f}, "
                f"{self.samples} samples){target}" + (f"\n    {self.detail}" if self.detail
                                                       else ""))


def ratio_figure(name: str, ours: list[float], base: list[float], baseline: str,
                 target: float | None = None, detail: str = "") -> Figure:
    """The ratio of paired samples (each of ours against the baseline taken beside it)."""
    ratios = [o / b for o, b in zip(ours, base) if b > 0]
    return Figure(name, statistics.median(ratios), min(ratios), baseline, target, "x",
                  detail or f"ours median {_ms(statistics.median(ours))}, baseline "
                  f"{_ms(statistics.median(base))}", len(ratios))


def plain_figure(name: str, values: list[float], unit: str, target: float | None = None,
                 detail: str = "") -> Figure:
    return Figure(name, statistics.median(values), min(values), "", target, unit, detail,
                  len(values))


def interleaved(ours: Callable[[], object], base: Callable[[], object], repeats: int,
                clock: Callable[[], float] = time.perf_counter,
                warmup: int = 1) -> tuple[list[float], list[float]]:
    """Seconds of ``ours`` and ``base``, alternated ``repeats`` times (after a warm-up),
    so that a change in the machine's load falls on both."""
    for _ in range(warmup):
        ours()
        base()
    a, b = [], []
    for i in range(repeats):
        for fn, out in ((ours, a), (base, b)) if i % 2 == 0 else ((base, b), (ours, a)):
            t = clock()
            fn()
            out.append(clock() - t)
    return a, b


def print_figures(figures: list[Figure], as_json: bool) -> None:
    """A benchmark's output: one line per figure, or (``--json``) the figures as one JSON
    list on one line, the last line, which ``benchmarks/run.py`` reads."""
    if as_json:
        print(json.dumps([f.__dict__ for f in figures]))
        return
    for f in figures:
        print(f.line())


def main(doc: str, measure: Callable[[bool], list[Figure]], quick_help: str) -> int:
    """The command line of a benchmark module: ``[--quick] [--json]``."""
    import argparse

    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help=quick_help)
    ap.add_argument("--json", action="store_true", help="the figures as one JSON list")
    a = ap.parse_args()
    print_figures(measure(a.quick), a.json)
    return 0


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.2f} ms" if seconds < 10 else f"{seconds:.1f} s"
