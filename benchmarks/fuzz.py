"""Fuzz cost: wall time and peak memory of each mutation-fuzz case and of each hostile
input, against the static compiler's contract (1 s and 200 MB a case).

Cases 0..N-1 of a seed (tests/security/fuzzing.py) run one at a time in this process:
first plain, for the wall time of ``loads`` and every static output; then, for the cases
that took at least ``--trace-above`` seconds (cheaper ones cannot reach the memory bound
in that time), again under tracemalloc for the peak of Python allocations. A hang guard
stops a case after ``--hang`` seconds; the process is capped at 8 GB of address space. The hostile inputs (tests/security/hostile.py)
run each in a forked child capped at 4 GB of address space: once for the time and the
growth of its maximum resident set, once traced.

    python benchmarks/fuzz.py [N] [--seed 0] [--trace-above 0.01] [--hang 60] [--json]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.security.campaign import Campaign, show_params  # noqa: E402
from tests.security.fuzzing import (  # noqa: E402
    MEMORY_BYTES,
    SLOW_S,
    Corpus,
    case,
    run_case,
)
from tests.security.hostile import HOSTILE, run_isolated  # noqa: E402

MB = 2**20


def traced_peak(text: str, params: dict[str, Any], hang: float) -> int:
    tracemalloc.start()
    try:
        run_case(text, params, hard_limit_s=hang)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))] if s else 0.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("n", nargs="?", type=int, default=5000, help="fuzz cases")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--trace-above", type=float, default=0.01,
                    help="trace the memory of cases that took at least this many seconds")
    ap.add_argument("--hang", type=float, default=60.0, help="hang guard, seconds")
    ap.add_argument("--slowest", type=int, default=10)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    cap = 8 * 2**30  # a runaway case fails with MemoryError (a CRASH) instead of the machine
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    corpus = Corpus.zoo()
    run_case("input 3x8x8\nconv(4) - relu - fc(10)")  # imports and caches, before timing
    t0 = time.perf_counter()
    outcomes = []
    for i in range(a.n):
        c = case(corpus, a.seed, i)
        outcomes.append(run_case(c.text, c.params, name=c.name, hard_limit_s=a.hang))
    camp = Campaign(a.seed, outcomes, time.perf_counter() - t0, 1)
    peaks: dict[int, int] = {}
    for i, o in enumerate(outcomes):
        if o.seconds >= a.trace_above:
            c = case(corpus, a.seed, i)
            peaks[i] = traced_peak(c.text, c.params, a.hang)

    times = [o.seconds for o in outcomes]
    hostile = []
    for h in HOSTILE:
        m = run_isolated(h, hard_limit_s=a.hang)  # timed untraced, then traced
        mem = run_isolated(h, hard_limit_s=a.hang, trace=True)
        hostile.append({"name": h.name, "result": m.outcome.result, "codes": m.outcome.codes,
                        "error": m.outcome.error, "accepted": h.accepts(m.outcome),
                        "seconds": m.outcome.seconds, "timed_out": m.outcome.timed_out,
                        "peak_mb": mem.peak_bytes / MB, "rss_growth_mb": m.rss_bytes / MB})
    slow = []
    for i in camp.slowest(a.slowest):
        c, o = case(corpus, a.seed, i), outcomes[i]
        slow.append({"case": c.name, "seconds": o.seconds, "peak_mb": peaks.get(i, 0) / MB,
                     "result": o.result, "nodes": o.nodes, "codes": o.codes[:4],
                     "mutations": c.mutations, "params": show_params(c.params),
                     "stages": {k: round(v, 3) for k, v in o.stages}})
    result = {
        "cases": a.n, "seed": a.seed, "seconds": camp.seconds, "cases_per_s": a.n / camp.seconds,
        "counts": dict(camp.counts()),
        "time_max_s": max(times), "time_p99_s": percentile(times, 0.99),
        "time_p90_s": percentile(times, 0.90), "time_median_s": statistics.median(times),
        "over_time_bound": sum(t > SLOW_S for t in times),
        "command_max_s": max(o.command_seconds for o in outcomes),
        "command_over_bound": sum(o.command_seconds > SLOW_S for o in outcomes),
        "traced": len(peaks), "peak_max_mb": max(peaks.values(), default=0) / MB,
        "peak_p99_mb": percentile([p / MB for p in peaks.values()], 0.99),
        "over_memory_bound": sum(p > MEMORY_BYTES for p in peaks.values()),
        "crash_classes": {k: len(v) for k, v in camp.crash_classes().items()},
        "slowest": slow, "hostile": hostile,
    }
    if a.json:
        print(json.dumps(result, default=str))
        return 0
    print(f"{a.n} fuzz cases (seed {a.seed}) in {camp.seconds:.1f} s, "
          f"{result['cases_per_s']:.0f} cases/s, one process: {result['counts']}")
    print(f"  time: max {result['time_max_s']:.3f} s, p99 {result['time_p99_s']:.3f} s, "
          f"p90 {result['time_p90_s']:.4f} s, median {result['time_median_s']:.4f} s; "
          f"{result['over_time_bound']} over {SLOW_S:g} s (every view of a case)")
    print(f"  one command (compile, then its slowest view): max {result['command_max_s']:.3f} s;"
          f" {result['command_over_bound']} over {SLOW_S:g} s")
    print(f"  peak memory (tracemalloc, the {len(peaks)} cases of >= {a.trace_above:g} s): "
          f"max {result['peak_max_mb']:.1f} MB, p99 {result['peak_p99_mb']:.1f} MB; "
          f"{result['over_memory_bound']} over {MEMORY_BYTES // MB} MB")
    for key, n in result["crash_classes"].items():
        print(f"  CRASH x{n}: {key}")
    print(f"slowest {len(slow)}:")
    for s in slow:
        stages = " ".join(f"{k}={v:.2f}" for k, v in s["stages"].items())
        print(f"  {s['seconds']:7.3f} s {s['peak_mb']:7.1f} MB  {s['result']:<10} "
              f"nodes={s['nodes']} {s['case']} {s['mutations']} params={s['params']}\n"
              f"            {stages} {' '.join(s['codes'])}")
    print("hostile inputs (forked child each):")
    for h in hostile:
        mark = "ok  " if h["accepted"] else "FAIL"
        print(f"  {mark} {h['name']:<36} {h['seconds']:7.3f} s  peak {h['peak_mb']:7.1f} MB  "
              f"rss +{h['rss_growth_mb']:6.1f} MB  {h['result']} {' '.join(h['codes'][:3])} "
              f"{h['error'][:60] if h['result'] != 'diagnostic' else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
