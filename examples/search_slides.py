"""Search the slides' family on the bundled 8x8 digits: the four cheapest members, one
epoch each, two at a time; print every trial and the accuracy-MACs front.

    python examples/search_slides.py

The same search from the shell (the results file makes it resumable):

    cnndsl search slides.cnn --data digits --trials 4 --epochs 1 --jobs 2

Nothing is written outside a temporary folder. The ``__main__`` guard matters: the
workers are spawned processes, which import this file again.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from cnndsl.family.search import search
from cnndsl.family.table import bindings_text

SLIDES = """\
network slides(N in 1..3, M in 1..2, K in 0..1):
    input 1x8x8
    [(CONV-RELU)*N-POOL?]*M-(FC-RELU)*K,SOFTMAX
"""


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        results = Path(tmp) / "search-slides.jsonl"
        rows = search(SLIDES, "digits", trials=4, epochs=1, jobs=2, results=results,
                      report=lambda rec, done, total: print(
                          f"[{done}/{total}] {bindings_text(rec['bindings'])}: "
                          f"{rec.get('status')}"))
        print(f"{len(rows)} members trained in {rows.seconds:.1f} s; the front "
              "(accuracy against MACs):")
        for r in rows.front:
            print(f"  {bindings_text(r.bindings):28} {r.macs:>9,} MACs  "
                  f"{100 * r.extra['accuracy']:5.1f}%")


if __name__ == "__main__":
    main()
