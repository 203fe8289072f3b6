"""Trainer overhead: ``cnndsl train`` with the CLI defaults against a minimal hand-written
PyTorch loop, on the same network, data, split, batch size and optimizer.

Baseline (measured in the same process, interleaved with the trainer): the loop every
PyTorch tutorial writes, on data already fitted to the network (float, resized,
normalised) in memory, and a minimal validation pass after each epoch::

    for idx in torch.randperm(n).split(64):
        opt.zero_grad(); F.cross_entropy(model(x[idx]), y[idx]).backward(); opt.step()
    with torch.no_grad(): loss and accuracy over the validation set, read once

The trainer runs with the CLI defaults (adam, batch 64, 20% validation, normalisation,
the live progress bar, which a terminal gets), so it also fits every batch to the
network, keeps the running loss and accuracy, checks for NaN, handles Ctrl-C and draws
progress. Figures, each a ratio trainer / baseline of a pair of runs, min and median
over the pairs:

- ``step``: a steady training step (from the end of an epoch's first step to the end of
  its last full batch, epochs after the first);
- ``epoch``: a whole epoch with its validation (epochs after the first);
- ``epoch, run folder``: the same with the run folder the CLI writes (checkpoints and
  metrics every epoch; wall time, as the disk waits are not CPU time);

for LeNet-5 on the bundled digits (1,438 training, 359 validation images, 8x8 resized
to 32x32) and a small CIFAR-shaped network on an in-memory CIFAR-sized synthetic set
(3x32x32), single-threaded (CPU time) and with torch's default threads (wall time).

    python benchmarks/train_overhead.py [--quick] [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cnndsl  # noqa: E402
from benchmarks.figures import Figure, print_figures, ratio_figure  # noqa: E402
from cnndsl.train import train  # noqa: E402
from cnndsl.train.data import prepare  # noqa: E402

TARGET = 1.02
BATCH = 64  # the CLI's default recipe: adam, lr 1e-3, batch 64, 20% validation
LR = 1e-3

CIFAR_NET = """network cifar_small(classes=10):
    input 3x32x32
    conv(8, 3) - relu - maxpool(2)
    conv(16, 3) - relu - maxpool(2)
    conv(32, 3) - relu - maxpool(2)
    fc(classes)
"""


@dataclass
class Case:
    name: str
    network: str  # zoo name or source
    data: str
    epochs: int  # the first is warm-up, not measured
    files: bool  # also measure the epoch with the run folder


@dataclass
class Times:
    """Seconds per steady step and per epoch (with validation) of one run, in CPU time
    (all threads of the process) and in wall time."""

    step_cpu: float
    epoch_cpu: float
    step_wall: float
    epoch_wall: float

    def get(self, what: str, cpu: bool) -> float:
        return getattr(self, f"{what}_{'cpu' if cpu else 'wall'}")


def now() -> tuple[float, float]:
    return time.process_time(), time.perf_counter()


class Clock:
    """Marks the end of every step and epoch of one run; the first epoch is warm-up."""

    def __init__(self, full_steps: int) -> None:
        self.full = full_steps
        self.steps: list[tuple[float, float]] = []  # (last full step - first) / count
        self.epochs: list[tuple[float, float]] = []
        self.first = self.last_epoch = (0.0, 0.0)

    def step(self, epoch: int, step: int) -> None:  # step: 1-based
        t = now()
        if step == 1:
            self.first = t
        elif step == self.full and epoch > 0:
            self.steps.append(tuple((a - b) / (self.full - 1)  # type: ignore[arg-type]
                                    for a, b in zip(t, self.first)))

    def end_epoch(self, epoch: int) -> None:
        t = now()
        if epoch > 0:
            self.epochs.append(tuple(a - b for a, b in zip(t, self.last_epoch)))  # type: ignore[arg-type]
        self.last_epoch = t

    def times(self) -> Times:
        (sc, sw), (ec, ew) = ([statistics.fmean(v) for v in zip(*xs)]
                              for xs in (self.steps, self.epochs))
        return Times(sc, ec, sw, ew)


class Tty(io.StringIO):
    """stderr as a terminal, so that the trainer draws its live bar (the CLI default)."""

    def isatty(self) -> bool:
        return True


def fitted(net: Any, data: str) -> tuple[torch.Tensor, ...]:
    """The trainer's split, fitted once to the network's input (what a hand loop uses)."""
    p = prepare(data, tuple(net.input_shape), net.num_classes)
    assert p.val is not None
    return p.transform(p.train.x), p.train.y, p.transform(p.val.x), p.val.y


def baseline(net: Any, arrays: tuple[torch.Tensor, ...], epochs: int) -> Times:
    xt, yt, xv, yv = arrays
    c = Clock(len(xt) // BATCH)
    torch.manual_seed(0)
    model = net.to_torch()
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    c.end_epoch(-1)
    for epoch in range(epochs):
        model.train()
        for i, idx in enumerate(torch.randperm(len(xt)).split(BATCH)):
            if len(idx) < 2:  # the trainer drops a last batch of one (batch norm)
                continue
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(model(xt[idx]), yt[idx]).backward()
            opt.step()
            c.step(epoch, i + 1)
        model.eval()
        with torch.no_grad():
            loss, correct = torch.zeros(()), torch.zeros((), dtype=torch.int64)
            for idx in torch.arange(len(xv)).split(2 * BATCH):  # the trainer's batch too
                logits = model(xv[idx])
                loss += F.cross_entropy(logits, yv[idx], reduction="sum")
                correct += (logits.argmax(1) == yv[idx]).sum()
            _ = loss.item() / len(xv), correct.item() / len(xv)
        c.end_epoch(epoch)
    return c.times()


def trainer(net: Any, data: str, full_steps: int, epochs: int, out: Path | None) -> Times:
    c = Clock(full_steps)

    def tick(event: Any) -> None:
        if event.kind == "step":
            c.step(event.epoch, event.step)
        else:
            c.end_epoch(event.epoch)

    c.end_epoch(-1)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(Tty()):
        train(net, data, epochs=epochs, device="cpu", progress="auto", plots=False,
              out=out, overwrite=True, callback=tick)
    return c.times()


def run_case(case: Case, threads: int, repeats: int) -> list[Figure]:
    """Pairs (baseline, trainer) alternated in order, after a warm-up round."""
    torch.set_num_threads(threads)
    net = cnndsl.compile(case.network)
    arrays = fitted(net, case.data)
    full = len(arrays[0]) // BATCH
    cpu = threads == 1  # one thread: CPU time, which other jobs on the machine disturb less
    what = f"{net.name} on {case.data.partition(',')[0]}, {threads} thread" + \
        ("s" if threads > 1 else "")
    results: dict[str, list[Times]] = {"base": [], "plain": [], "files": []}
    with tempfile.TemporaryDirectory() as tmp:
        runs: list[tuple[str, Callable[[], Times]]] = [
            ("base", lambda: baseline(net, arrays, case.epochs)),
            ("plain", lambda: trainer(net, case.data, full, case.epochs, None))]
        if case.files:
            runs.append(("files", lambda: trainer(net, case.data, full, case.epochs,
                                                  Path(tmp) / "run")))
        for r in range(repeats + 1):
            for name, fn in runs if r % 2 else runs[::-1]:
                t = fn()
                if r:
                    results[name].append(t)
    base, plain, files = results["base"], results["plain"], results["files"]
    figures = [
        ratio_figure(f"train step, {what}", [t.get("step", cpu) for t in plain],
                     [t.get("step", cpu) for t in base], "minimal loop", TARGET,
                     _detail(plain, base, "step", cpu)),
        ratio_figure(f"train epoch + validation, {what}", [t.get("epoch", cpu) for t in plain],
                     [t.get("epoch", cpu) for t in base], "minimal loop + validation",
                     TARGET, _detail(plain, base, "epoch", cpu))]
    if files:  # wall time: the disk's waits are no CPU time
        figures.append(ratio_figure(
            f"train epoch + validation + run folder, {what}",
            [t.epoch_wall for t in files], [t.epoch_wall for t in base],
            "minimal loop + validation", None,
            _detail(files, base, "epoch", False) + "; checkpoints and metrics every epoch"))
    return figures


def _detail(ours: list[Times], base: list[Times], what: str, cpu: bool) -> str:
    o = statistics.median(t.get(what, cpu) for t in ours)
    b = statistics.median(t.get(what, cpu) for t in base)
    return (f"{what}: trainer {1e3 * o:.2f} ms, minimal loop {1e3 * b:.2f} ms "
            f"({'CPU' if cpu else 'wall'} time, medians)")


def cases(quick: bool) -> list[Case]:
    n = 2560 if quick else 10000
    epochs = 3 if quick else 4
    return [Case("digits", "lenet5", "digits", epochs, files=True),
            Case("cifar", CIFAR_NET, f"synthetic:N={n},shape=3x32x32,classes=10", epochs,
                 files=False)]


def measure(quick: bool) -> list[Figure]:
    """Step and epoch ratios, trainer / minimal loop, for each case, on one thread and on
    torch's default threads. ``quick``: fewer repeats, epochs and images."""
    default_threads = torch.get_num_threads()
    repeats = 2 if quick else 5
    figures: list[Figure] = []
    try:
        for threads in sorted({1, default_threads}):
            for case in cases(quick):
                figures += run_case(case, threads, repeats)
    finally:
        torch.set_num_threads(default_threads)
    return figures


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repeats (well under a minute)")
    ap.add_argument("--json", action="store_true", help="print the figures as one JSON list")
    a = ap.parse_args()
    t0 = time.perf_counter()
    figures = measure(a.quick)
    print_figures(figures, a.json)
    if not a.json:
        print(f"torch {torch.__version__}, {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
