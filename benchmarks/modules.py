"""Generated modules against torchvision's hand-written ones, computing the same function
(torchvision's weights copied into ours with ``cnndsl.port_weights``).

- forward: evaluation mode under ``torch.no_grad()``, batch 8 at 3x224x224, ResNet-50,
  VGG16, DenseNet-121 and MobileNetV2; one thread (``OMP_NUM_THREADS=1`` and
  ``torch.set_num_threads(1)``, CPU time of the process) and PyTorch's default threads
  (wall time). Target <= 1.01.
- train step: forward, cross-entropy, backward and an SGD step (momentum 0.9), batch 8,
  one thread. Target <= 1.01.
- ``to_torch()``: a fresh module from a compiled network (every call after the first:
  the text is emitted, checked and compiled once per text) against torchvision's
  constructor (``torchvision.models.resnet50()``), ResNet-50 and DenseNet-121, one
  thread; target <= 1.0. The first call (emission, allow-list check, ``compile``,
  ``exec``, construction) is reported beside it, without a target.

Each configuration runs in a process of its own, so that the thread settings hold from
the start. Needs torchvision (``.venv-tv/bin/python benchmarks/modules.py``); without it
there are no figures. ``--quick`` measures fewer networks and repeats (well under a
minute); the full run takes about four minutes on two cores.

    python benchmarks/modules.py [--quick] [--json]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.figures import Figure, interleaved, print_figures, ratio_figure  # noqa: E402

FORWARD = ("resnet50", "vgg16", "densenet121", "mobilenet_v2")  # zoo = torchvision names
BATCH = 8
TITLES = {"resnet50": "ResNet-50", "vgg16": "VGG16", "densenet121": "DenseNet-121",
          "mobilenet_v2": "MobileNetV2"}
# (networks, repeats) per measure, full and quick
PLAN = {
    False: {"forward": (FORWARD, 5), "forward_threads": (FORWARD, 5),
            "train": (FORWARD, 3), "to_torch": (("resnet50", "densenet121"), 7)},
    True: {"forward": (("resnet50", "mobilenet_v2"), 3), "forward_threads": (("resnet50",), 3),
           "train": (("mobilenet_v2",), 3), "to_torch": (("resnet50", "densenet121"), 5)},
}


def _pair(name: str):
    """torchvision's model and ours with its weights, and the compiled network."""
    import torch
    import torchvision

    import cnndsl
    torch.manual_seed(0)
    ref = getattr(torchvision.models, name)()
    net = cnndsl.compile(name)
    ours = net.to_torch()
    cnndsl.port_weights(ref, ours)
    return ref, ours, net


def _forward(model, x) -> Callable[[], object]:
    import torch
    model.eval()

    def run():
        with torch.no_grad():
            return model(x)
    return run


def _train_step(model, x, y) -> Callable[[], object]:
    import torch
    from torch.nn import functional as F
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)

    def step():
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return step


def _figure(label: str, name: str, ours: list[float], base: list[float], baseline: str,
            target: float | None, detail: str = "") -> Figure:
    return ratio_figure(f"{label}, {TITLES[name]}", ours, base, baseline, target, detail)


def part(kind: str, quick: bool) -> list[Figure]:
    """The figures of one process: ``single`` (one thread) or ``threads`` (default)."""
    import torch
    if kind == "single":
        torch.set_num_threads(1)
    clock = time.process_time if kind == "single" else time.perf_counter
    threads = f"{torch.get_num_threads()} thread{'s' if torch.get_num_threads() > 1 else ''}"
    plan = PLAN[quick]
    figures = []
    names, repeats = plan["forward" if kind == "single" else "forward_threads"]
    x = torch.randn(BATCH, 3, 224, 224)
    for name in names:
        ref, ours, _ = _pair(name)
        a, b = interleaved(_forward(ours, x), _forward(ref, x), repeats, clock)
        figures.append(_figure(f"forward, batch {BATCH}, {threads}", name, a, b,
                               "torchvision", 1.01))
        del ref, ours
    if kind != "single":
        return figures
    names, repeats = plan["train"]
    y = torch.randint(0, 1000, (BATCH,))
    for name in names:
        ref, ours, _ = _pair(name)
        a, b = interleaved(_train_step(ours, x, y), _train_step(ref, x, y), repeats, clock)
        figures.append(_figure(f"train step, batch {BATCH}, {threads}", name, a, b,
                               "torchvision", 1.01))
        del ref, ours
    names, repeats = plan["to_torch"]
    for name in names:
        figures += _construction(name, repeats, clock)
    return figures


def _construction(name: str, repeats: int, clock: Callable[[], float]) -> list[Figure]:
    import torchvision

    import cnndsl
    from cnndsl.backends import torch_source
    ctor = getattr(torchvision.models, name)
    net = cnndsl.compile(name)
    net.to_torch()  # the text emitted, checked and compiled: what every later call finds
    a, b = interleaved(net.to_torch, ctor, repeats, clock)
    warm = _figure("to_torch()", name, a, b, "torchvision constructor", 1.0)

    def first():  # what the first call does: emit, check, compile, exec, construct
        torch_source._program.cache_clear()
        text = torch_source.emit(net.graph, net.source_name, net.params_count).source
        return torch_source.build(text)
    a, b = interleaved(first, ctor, max(3, repeats // 2), clock)
    cold = _figure("to_torch(), first call", name, a, b, "torchvision constructor", None)
    return [warm, cold]


def measure(quick: bool = False) -> list[Figure]:
    if importlib.util.find_spec("torchvision") is None:
        print("modules: torchvision is not installed; no figures (run with an interpreter "
              "that has it, e.g. .venv-tv/bin/python)", file=sys.stderr)
        return []
    figures = []
    for kind in ("single", "threads"):
        env = dict(os.environ)
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            if kind == "single":
                env[var] = "1"
            else:
                env.pop(var, None)
        args = [sys.executable, __file__, "--part", kind, "--json"] + (["--quick"] if quick
                                                                         else [])
        out = subprocess.run(args, env=env, capture_output=True, text=True, cwd=ROOT)
        if out.returncode != 0:
            raise RuntimeError(f"modules --part {kind} failed:\n{out.stderr}")
        figures += [Figure(**d) for d in json.loads(out.stdout.strip().splitlines()[-1])]
    return figures


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer networks and repeats")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--part", choices=("single", "threads"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    figures = part(a.part, a.quick) if a.part else measure(a.quick)
    print_figures(figures, a.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
