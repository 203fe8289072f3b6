"""Scaling: time per layer to parse, compile and summarize networks of 100 to 100,000
layers, written out line by line and as one repeat, so that linear growth shows as a
flat column. The baseline of each row is the 100-layer network of the same form: the
figure is the cost per layer at N layers divided by the cost per layer at 100 (1.0:
linear; a quadratic pass shows as a ratio growing with N).

    python benchmarks/scaling.py [--quick] [--json]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cnndsl  # noqa: E402
from benchmarks.figures import Figure, main, plain_figure  # noqa: E402
from cnndsl.syntax.parser import parse  # noqa: E402

SIZES = (100, 1_000, 10_000, 100_000)
LIMITS = {"nodes": 10**6, "steps": 10**7, "source_bytes": 2**28}


def written(layers: int) -> str:
    """``layers`` layers, three to a line (conv, batch norm, ReLU)."""
    lines = ["input 8x16x16"] + ["conv(8, 3) - bn - relu"] * (layers // 3)
    return "\n".join(lines) + "\n"


def repeated(layers: int) -> str:
    return f"input 8x16x16\n(conv(8, 3) - bn - relu)*{layers // 3}\n"


def per_layer(text: str, layers: int, repeats: int) -> dict[str, float]:
    """Best-of-``repeats`` microseconds per layer of parse, compile, summary."""
    best = {"parse": float("inf"), "compile": float("inf"), "summary": float("inf")}
    for _ in range(repeats):
        t0 = time.perf_counter()
        parse(text, "<bench>", cnndsl.limits.Limits.of(LIMITS))
        t1 = time.perf_counter()
        net = cnndsl.loads(text, limits=LIMITS)
        t2 = time.perf_counter()
        net.summary()
        t3 = time.perf_counter()
        for k, v in (("parse", t1 - t0), ("compile", t2 - t1), ("summary", t3 - t2)):
            best[k] = min(best[k], v * 1e6 / layers)
    return best


def measure(quick: bool = False) -> list[Figure]:
    sizes = SIZES[:3] if quick else SIZES
    figures = []
    for form, make in (("written out", written), ("one repeat", repeated)):
        rows = {n: per_layer(make(n), n, 3 if n <= 10_000 else 1) for n in sizes}
        for stage in ("parse", "compile", "summary"):
            if form == "one repeat" and stage == "parse":
                continue  # one line: nothing grows with N
            base = rows[sizes[0]][stage]
            detail = ", ".join(f"{n:,}: {rows[n][stage]:.1f} us" for n in sizes)
            top = rows[sizes[-1]][stage] / base
            figures.append(plain_figure(
                f"{stage} per layer, {form}, {sizes[-1]:,} vs {sizes[0]} layers", [top], "x",
                target=1.5, detail=f"per layer: {detail}"))
            figures[-1].baseline = f"per layer at {sizes[0]} layers"
    return figures


if __name__ == "__main__":
    sys.exit(main(__doc__, measure, "up to 10,000 layers"))
