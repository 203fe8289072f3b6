"""Answers before the key is released: the `cnndsl summary` process and the in-process
compile against the tools a user would reach for otherwise.

- process: ``cnndsl summary resnet152`` against a Python process that builds
  torchvision's resnet152 and prints ``torchinfo.summary`` of it (what one does without
  a static compiler); wall time of whole processes, interleaved.
- start-up: the same process's time before compiling (interpreter, imports, parser
  tables), against an empty interpreter (``python -c pass``).
- in process, warm: ``cnndsl.compile("resnet152").summary()`` against
  ``torch.fx.symbolic_trace`` of torchvision's resnet152 (its graph without running it).

The torchvision baselines need torchvision and torchinfo (``.venv-tv``); without them
those figures are left out and the absolute times are still reported.

    python benchmarks/startup.py [--quick] [--json]
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.figures import Figure, interleaved, main, plain_figure, ratio_figure  # noqa: E402

TORCHINFO = ("import torchvision, torchinfo\n"
             "torchinfo.summary(torchvision.models.resnet152(), input_size=(1, 3, 224, 224), "
             "verbose=0)\nprint('done')")
STARTUP = ("import time, sys; t = time.perf_counter()\n"
           "import cnndsl.cli, cnndsl.commands.summary\n"
           "from cnndsl.syntax.parser import _lark; _lark()\n"
           "print(time.perf_counter() - t)")


# As a user's machine runs it: bytecode written and reused (some shells set
# PYTHONDONTWRITEBYTECODE, which makes every start compile every module again).
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
ENV["OMP_NUM_THREADS"] = "1"


def _run(args: list[str]) -> None:
    subprocess.run(args, check=True, capture_output=True, cwd=ROOT, env=ENV)


def _has(*modules: str) -> bool:
    return all(importlib.util.find_spec(m) is not None for m in modules)


def measure(quick: bool = False) -> list[Figure]:
    py = sys.executable
    n = 5 if quick else 15
    figures = []
    _run([py, "-m", "compileall", "-q", str(ROOT / "cnndsl")])  # the bytecode, once
    ours_cmd = [py, "-m", "cnndsl", "summary", "resnet152"]
    if _has("torchvision", "torchinfo"):
        ours, base = interleaved(lambda: _run(ours_cmd), lambda: _run([py, "-c", TORCHINFO]),
                                 max(3, n // 3))
        figures.append(ratio_figure("`cnndsl summary resnet152` process", ours, base,
                                    "torchvision resnet152 + torchinfo.summary process",
                                    target=0.025))
    else:
        ours, _ = interleaved(lambda: _run(ours_cmd), lambda: None, n)
    figures.append(plain_figure("`cnndsl summary resnet152` process, wall", ours, "s",
                                target=0.1))
    empty, start = [], []
    for _ in range(n):  # the part before compiling: interpreter, imports, parser tables
        t = time.perf_counter()
        _run([py, "-c", "pass"])
        empty.append(time.perf_counter() - t)
        out = subprocess.run([py, "-c", STARTUP], capture_output=True, text=True, cwd=ROOT,
                             env=ENV)
        start.append(float(out.stdout.strip()) + empty[-1])
    figures.append(plain_figure("start-up (interpreter, imports, parser tables)", start, "s",
                                target=0.060, detail=f"of which an empty interpreter "
                                f"{1e3 * min(empty):.0f} ms"))

    import cnndsl

    def ours_warm() -> None:
        cnndsl.compile("resnet152").summary()

    if _has("torchvision"):
        import torch.fx
        import torchvision

        ref = torchvision.models.resnet152()
        warm_ours, warm_base = interleaved(ours_warm, lambda: torch.fx.symbolic_trace(ref),
                                           3 * n)
        figures.append(ratio_figure("compile + summary of ResNet-152, in process", warm_ours,
                                    warm_base, "torch.fx.symbolic_trace(torchvision resnet152)"))
    else:
        warm_ours, _ = interleaved(ours_warm, lambda: None, 3 * n)
    figures.append(plain_figure("compile + summary of ResNet-152, in process", warm_ours, "s",
                                target=0.005))
    return figures


if __name__ == "__main__":
    sys.exit(main(__doc__, measure, "fewer repeats"))
