"""The static compiler's contract under mutation fuzzing and hostile inputs.

For any text, ``loads`` and the static outputs succeed or raise CnnError / UserError,
nothing else. Bounds are asserted on counts (IR nodes), never on times; the hang guard
(``HANG_S``, far beyond the contract's 1 s) only keeps a runaway case from stalling
the suite. Time and memory are measured by benchmarks/fuzz.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .campaign import (
    Campaign,
    crash_report,
    documented_codes,
    node_limit,
    run_many,
    show_params,
)
from .fuzzing import Corpus, case, cases, tokenize, untokenize
from .hostile import HOSTILE, Hostile, run_isolated

DEFAULT_CASES = 5000
HANG_S = 30.0


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return Corpus.zoo()


def check_campaign(camp: Campaign, corpus: Corpus) -> None:
    """Every problem of a campaign, in one failure message."""
    counts, problems = camp.counts(), []
    crashes = camp.crash_classes()
    if crashes:
        problems.append(f"{counts['CRASH']} of {len(camp.outcomes)} cases crashed, in "
                        f"{len(crashes)} classes:\n" + crash_report(camp, corpus))
    hung = [case(corpus, camp.seed, i) for i, o in enumerate(camp.outcomes) if o.timed_out]
    if hung:
        problems.append(f"{len(hung)} cases ran past the {HANG_S:.0f} s hang guard:\n" +
                        "\n".join(f"  {c.name} {c.mutations} params={show_params(c.params)}"
                                   for c in hung[:20]))
    limit = node_limit()
    big = sorted((o.nodes, i) for i, o in enumerate(camp.outcomes) if (o.nodes or 0) > limit)
    if big:
        problems.append(f"{len(big)} cases compiled past the node limit {limit:,}: "
                        f"(nodes, case) {big[-10:]}")
    unknown = {c for o in camp.outcomes for c in o.codes} - documented_codes()
    if unknown:
        problems.append(f"diagnostic codes missing from docs/errors.md: {sorted(unknown)}")
    # the fuzzer itself: enough cases get through to the back ends to mean something
    compiled = sum(o.result == "ok" for o in camp.outcomes)
    if compiled < len(camp.outcomes) // 50:
        problems.append(f"only {compiled} cases compiled: the mutations are too blunt")
    assert not problems, "\n\n".join(problems) + f"\n\noutcomes: {dict(counts)}"


def test_tokens_join_back_to_the_text(corpus: Corpus) -> None:
    for name, text in corpus.files.items():
        assert untokenize(tokenize(text)) == text, name


def test_cases_are_deterministic(corpus: Corpus) -> None:
    def draw(seed: int) -> list[str]:  # repr: a NaN binding is not equal to itself
        return [f"{n} {t!r} {show_params(p)}" for n, t, p in cases(50, seed, corpus)]

    assert draw(7) == draw(7)
    assert draw(7) != draw(8)
    assert len(set(draw(7))) > 40


def test_fuzz(corpus: Corpus) -> None:
    check_campaign(run_many(DEFAULT_CASES, seed=0, corpus=corpus, hard_limit_s=HANG_S), corpus)


@pytest.mark.long
def test_fuzz_long(corpus: Corpus) -> None:
    n = int(os.environ.get("CNNDSL_LONG_FUZZ", "200000"))
    check_campaign(run_many(n, seed=1, corpus=corpus, hard_limit_s=HANG_S), corpus)


@pytest.mark.parametrize("hostile", HOSTILE, ids=[h.name for h in HOSTILE])
def test_hostile_input_ends_in_a_diagnostic(hostile: Hostile) -> None:
    out = run_isolated(hostile, hard_limit_s=60.0).outcome
    assert hostile.accepts(out), (
        f"{hostile.name}: expected a diagnostic among {sorted(hostile.expected())}, got "
        f"{out.result} {out.codes} {out.error} (stage {out.stage}, timed out: "
        f"{out.timed_out})\n{out.traceback}")


def test_bad_utf8_through_the_cli(tmp_path: Path) -> None:
    path = tmp_path / "bad.cnn"
    path.write_bytes(b"input 3x32x32\nconv(8) - relu \xff\xfe - fc(10)\n")
    r = subprocess.run([sys.executable, "-m", "cnndsl", "check", str(path)],
                       capture_output=True, text=True, errors="replace", timeout=120)
    out = r.stdout + r.stderr
    assert r.returncode == 1 and "E0012" in out and "2:16" in out, (r.returncode, out)
    assert "Traceback" not in out and "internal error" not in out, out
