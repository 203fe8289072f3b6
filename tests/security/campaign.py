"""Running many fuzz cases: in worker processes, with crash classes and minimal repros.

Outcomes depend only on (seed, index), never on the number of workers or their order.
"""

from __future__ import annotations

import os
import re
import resource
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from .fuzzing import Case, Corpus, case, tokenize
from .runner import Outcome, run_case

DOCS = Path(__file__).resolve().parents[2] / "docs" / "errors.md"
WORKER_MEMORY = 4 * 2**30  # a worker's address space: a runaway case fails, the machine lives

_state: dict[str, Any] = {}  # what forked workers inherit


def node_limit() -> int:
    """The compiler's bound on IR nodes, read from the code (it moves as the code does)."""
    try:
        from cnndsl.limits import Limits
        return Limits().nodes
    except (ImportError, AttributeError):
        from cnndsl.elaborate import elaborator
        return elaborator.MAX_NODES


def documented_codes() -> set[str]:
    return set(re.findall(r"^\| *([EWN]\d{4}) *\|", DOCS.read_text(encoding="utf-8"), re.M))


@dataclass
class Campaign:
    seed: int
    outcomes: list[Outcome]  # by case index
    seconds: float
    workers: int

    def counts(self) -> Counter[str]:
        return Counter(o.kind for o in self.outcomes)

    def crash_classes(self) -> dict[str, list[int]]:
        """Crash key -> the indices of the cases that hit it."""
        out: dict[str, list[int]] = {}
        for i, o in enumerate(self.outcomes):
            if o.kind == "CRASH":
                out.setdefault(o.key, []).append(i)
        return out

    def slowest(self, k: int) -> list[int]:
        return sorted(range(len(self.outcomes)), key=lambda i: -self.outcomes[i].seconds)[:k]


def _init_worker(corpus: Corpus, seed: int, hard_limit_s: float, cap: int | None) -> None:
    _state.update(corpus=corpus, seed=seed, hard=hard_limit_s)
    if cap:
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))


def _run_index(i: int) -> Outcome:
    c = case(_state["corpus"], _state["seed"], i)
    return run_case(c.text, c.params, name=c.name, hard_limit_s=_state["hard"])


def run_many(n: int, seed: int, corpus: Corpus | None = None, workers: int | None = None,
             hard_limit_s: float = 30.0) -> Campaign:
    """Cases 0..n-1 of ``seed``; ``workers`` processes (default: CNNDSL_FUZZ_WORKERS, else
    the CPU count); 1 runs them here, without the memory cap."""
    corpus = corpus or Corpus.zoo()
    run_case("input 3x8x8\nconv(4) - relu - fc(10)")  # imports the back ends before forking
    workers = workers or int(os.environ.get("CNNDSL_FUZZ_WORKERS", 0)) or os.cpu_count() or 1
    t0 = time.perf_counter()
    if workers == 1:
        _init_worker(corpus, seed, hard_limit_s, None)
        outcomes = [_run_index(i) for i in range(n)]
    else:
        with ProcessPoolExecutor(workers, mp_context=get_context("fork"),
                                 initializer=_init_worker,
                                 initargs=(corpus, seed, hard_limit_s, WORKER_MEMORY)) as pool:
            outcomes = list(pool.map(_run_index, range(n), chunksize=64))
    return Campaign(seed, outcomes, time.perf_counter() - t0, workers)


def minimize(text: str, params: dict[str, Any] | None, keep: Callable[[Outcome], bool],
             budget: int = 300) -> str:
    """A smaller program for which ``keep`` still holds: drop lines, then tokens (greedy
    delta debugging, at most ``budget`` compiles)."""
    tries = 0

    def still(t: str) -> bool:
        nonlocal tries
        tries += 1
        return tries <= budget and keep(run_case(t, params, hard_limit_s=5.0))

    for split in (lambda t: t.splitlines(keepends=True), lambda t: [x for _, x in tokenize(t)]):
        parts = split(text)
        chunk = max(1, len(parts) // 2)
        while chunk >= 1 and tries < budget:
            i, changed = 0, False
            while i < len(parts) and tries < budget:
                trial = parts[:i] + parts[i + chunk:]
                if trial and still("".join(trial)):
                    parts, changed = trial, True
                else:
                    i += chunk
            if not changed:
                chunk //= 2
        text = "".join(parts)
    parts = [x for _, x in tokenize(text)]
    for i, tok in enumerate(parts):  # long tokens (a 5,000-character path): halve them
        while len(tok) > 40 and tries < budget:
            q = tok[0] if tok[0] in "'\"" else ""
            shorter = q + tok[len(q):len(tok) // 2] + q
            if not still("".join(parts[:i] + [shorter] + parts[i + 1:])):
                break
            parts[i] = tok = shorter
    return "".join(parts)


def show_params(params: dict[str, Any] | None, width: int = 60) -> str:
    """Bindings for a report (an int past Python's int-to-str limit has no repr)."""
    def one(v: Any) -> str:
        if isinstance(v, int) and v.bit_length() > 4000:
            return f"<int of {v.bit_length()} bits>"
        r = repr(v)
        return r if len(r) <= width else r[:width] + "..."
    return "{" + ", ".join(f"{k!r}: {one(v)}" for k, v in (params or {}).items()) + "}"


def show(text: str, lines: int = 40, width: int = 160) -> str:
    """A program for a report: long lines and long files cut, control characters escaped."""
    rows = [ln if len(ln) <= width else ln[:width] + f"... ({len(ln)} chars)"
            for ln in text.split("\n")]
    if len(rows) > lines:
        rows = rows[:lines] + [f"... ({len(rows) - lines} more lines)"]
    return "\n".join("    " + ascii(r)[1:-1] if not r.isprintable() else "    " + r
                     for r in rows)


def crash_report(camp: Campaign, corpus: Corpus, classes: int = 8,
                 minimize_budget: int = 200) -> str:
    """Each crash class: how often, a case (program, mutations, traceback), and a
    minimized program that still crashes the same way."""
    parts = []
    for n, (key, idx) in enumerate(sorted(camp.crash_classes().items(),
                                          key=lambda kv: -len(kv[1]))):
        c: Case = case(corpus, camp.seed, idx[0])
        o = camp.outcomes[idx[0]]
        parts.append(f"=== CRASH {key} ({len(idx)} cases, first {c.name}, stage {o.stage})\n"
                     f"mutations: {c.mutations}\nparams: {show_params(c.params)}\n"
                     f"program:\n{show(c.text)}\n{o.traceback}")
        if n < classes and minimize_budget:
            small = minimize(c.text, c.params, lambda r, k=key: r.key == k, minimize_budget)
            parts.append(f"minimized:\n{show(small)}\n")
    return "\n".join(parts)
