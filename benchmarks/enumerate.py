"""Enumerating a family: 10,000 members of the slides' template (six dimensions), streamed.

Figures: the wall time of ``cnndsl enumerate`` over all 10,000 (in process, measuring
every member); the time per member against compiling each member alone with
``cnndsl.compile(..., bindings=...)`` (what a loop over ``--set`` does: the program is
parsed again each time), interleaved over the same 500 members; the time per member at
10,000 against 1,000 (1.0: linear); and the memory kept per member, from the peak
traced while walking 500 and 5,000 members with the Python API (a fingerprint of each
graph, to report duplicates once; no network is kept).

    python benchmarks/enumerate.py [--quick] [--json]
"""

from __future__ import annotations

import io
import sys
import time
import tracemalloc
from contextlib import redirect_stdout
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cnndsl  # noqa: E402
from benchmarks.figures import Figure, interleaved, main, plain_figure, ratio_figure  # noqa: E402
from cnndsl.cli import main as cli  # noqa: E402
from cnndsl.family import Family  # noqa: E402

FAMILY = """\
network big(N in 1..5, M in 1..5, K in 0..1, channels in {8, 16, 32, 64},
            hidden in {32, 64, 128, 256, 512}, act in {relu, gelu, tanh, sigmoid, elu}):
    input 3x32x32
    [(CONV - act) * N - POOL?] * M - (FC - act) * K, SOFTMAX
"""


def _enumerate_cli(path: Path, sample: int | None) -> float:
    argv = ["enumerate", str(path), "--format", "csv"]
    argv += [] if sample is None else ["--sample", str(sample)]
    out = io.StringIO()
    t = time.perf_counter()
    with redirect_stdout(out):
        cli(argv)
    elapsed = time.perf_counter() - t
    assert out.getvalue().count("\n") > (sample or 10_000) // 4  # members, duplicates aside
    return elapsed


def _traced_peak(members: int) -> int:
    tracemalloc.start()
    for _bindings, _net in cnndsl.enumerate(FAMILY, sample=members, seed=1):
        pass
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def measure(quick: bool = False) -> list[Figure]:
    path = Path(__file__).with_name("_family.cnn")
    path.write_text(FAMILY, encoding="utf-8")
    try:
        size = len(Family(path).space)
        assert size == 10_000, size
        whole = [_enumerate_cli(path, None) for _ in range(1 if quick else 3)]
        small = [_enumerate_cli(path, 1_000) for _ in range(1 if quick else 3)]
        fam = Family(path)
        picks = [fam.space.bindings(i) for i in fam.space.indices(500, seed=2)]
        text = path.read_text(encoding="utf-8")

        def ours() -> None:
            for values in picks:
                fam.compile(values)

        def alone() -> None:
            for values in picks:
                cnndsl.compile(text, bindings=fam.space.compile_bindings(values))

        a, b = interleaved(ours, alone, 1 if quick else 3)
        per_10k, per_1k = min(whole) / 10_000, min(small) / 1_000
        peaks = {n: _traced_peak(n) for n in (500, 5_000)}
    finally:
        path.unlink(missing_ok=True)
    return [
        plain_figure("enumerate 10,000 members (measured, CSV), wall", whole, "s",
                     target=10.0, detail=f"{10_000 / min(whole):,.0f} members/s"),
        ratio_figure("compile a member, the family's parse shared", a, b,
                     "cnndsl.compile of each member alone (parsed each time)", target=1.0,
                     detail=f"500 members: ours {min(a):.2f} s, alone {min(b):.2f} s"),
        plain_figure("time per member, 10,000 vs 1,000 members", [per_10k / per_1k], "x",
                     target=1.2, detail=f"{per_1k * 1e3:.2f} ms at 1,000, "
                     f"{per_10k * 1e3:.2f} ms at 10,000"),
        plain_figure("memory kept per member walked (Python API, 500 to 5,000 members)",
                     [(peaks[5_000] - peaks[500]) / 4_500], "B", target=1_000,
                     detail=f"traced peak {peaks[500] / 1e6:.2f} MB at 500, "
                     f"{peaks[5_000] / 1e6:.2f} MB at 5,000: a fingerprint per graph, "
                     "no network"),
    ]


if __name__ == "__main__":
    sys.exit(main(__doc__, measure, "one repeat of each"))
