"""Trainer overhead: time per training step of ``cnndsl.train`` against a minimal
hand-written PyTorch loop, on the same model, data, batch size and optimizer.

Baseline (measured in the same run): the loop every PyTorch tutorial writes, on data
already converted to normalised float tensors in memory::

    for idx in torch.randperm(n).split(batch):
        opt.zero_grad(); F.cross_entropy(model(x[idx]), y[idx]).backward(); opt.step()

The trainer does more per step (uint8 -> float and normalisation of each batch on the
device, learning-rate schedule, running loss/accuracy, NaN checks, progress and stop
handling). Reported: the median CPU time of a step of each (process time, so that other
jobs on the machine disturb it little; interleaved repeats; the first epoch of each run
excluded as warm-up) and their ratio; target <= 1.05. Also the whole run (wall clock),
with checkpoints and metrics written every epoch. Single-threaded (OMP_NUM_THREADS=1).

    python benchmarks/train_overhead.py [--model lenet5] [--batch 128] [--repeats 3]
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cnndsl  # noqa: E402
from cnndsl.train import train  # noqa: E402


def make_data(n: int, shape: tuple[int, ...], classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (n, *shape), generator=g, dtype=torch.uint8)
    y = torch.randint(0, classes, (n,), generator=g)
    return x, y


def baseline(net: object, x: torch.Tensor, y: torch.Tensor, batch: int, epochs: int,
             lr: float) -> list[float]:
    """CPU seconds of every step of the minimal loop (epochs after the first)."""
    torch.manual_seed(0)
    model = net.to_torch()  # type: ignore[attr-defined]
    model.train()
    xf = x.float() / 255.0
    xf = (xf - xf.mean()) / xf.std()
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    steps = []
    for epoch in range(epochs):
        t = time.process_time()
        for idx in torch.randperm(len(xf)).split(batch):
            if len(idx) < batch:
                continue
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(model(xf[idx]), y[idx]).backward()
            opt.step()
            now = time.process_time()
            if epoch:
                steps.append(now - t)
            t = now
    return steps


def trainer(net: object, x: torch.Tensor, y: torch.Tensor, batch: int, epochs: int,
            lr: float, out: Path | None) -> tuple[list[float], float]:
    """(CPU seconds of every step after the first epoch, whole-run wall seconds).

    A step's time runs from the end of the previous step to the end of this one, as
    the callback after each step sees it: the batch's preparation, the forward and
    backward passes, the update and the trainer's bookkeeping."""
    steps: list[float] = []
    last = [time.process_time()]

    def tick(event: object) -> None:
        now = time.process_time()
        if event.kind == "step" and event.epoch > 0 and event.step > 1:  # type: ignore[attr-defined]
            steps.append(now - last[0])
        last[0] = now

    t0 = time.perf_counter()
    train(net, (x, y), epochs=epochs, batch_size=batch, optimizer="sgd", lr=lr,
          momentum=0.9, val_split=0, device="cpu", out=out, overwrite=True,
          progress="none", plots=False, callback=tick)
    return steps, time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="lenet5", help="zoo name or .cnn file")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--n", type=int, default=4096, help="training images")
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(1)
    net = cnndsl.compile(a.model)
    x, y = make_data(a.n - a.n % a.batch, tuple(net.input_shape), net.num_classes or 10)
    base: list[float] = []
    mine: list[float] = []
    mine_io: list[float] = []
    wall, wall_io = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(a.repeats):  # interleaved, so drifts in machine load hit both
            base += baseline(net, x, y, a.batch, a.epochs, 0.01)
            s, w = trainer(net, x, y, a.batch, a.epochs, 0.01, None)
            mine += s
            wall.append(w)
            s, w = trainer(net, x, y, a.batch, a.epochs, 0.01, Path(tmp) / "run")
            mine_io += s
            wall_io.append(w)
    b, m, mio = (statistics.median(v) for v in (base, mine, mine_io))
    steps = a.epochs * (len(x) // a.batch)
    result = {
        "model": net.name, "batch": a.batch, "images": len(x), "epochs": a.epochs,
        "threads": torch.get_num_threads(), "torch": str(torch.__version__),
        "baseline_s_per_step": b, "trainer_s_per_step": m,
        "ratio": m / b, "trainer_with_files_s_per_step": mio, "ratio_with_files": mio / b,
        "trainer_run_s": statistics.median(wall),
        "trainer_run_with_files_s": statistics.median(wall_io),
        "baseline_run_estimate_s": b * steps,
    }
    if a.json:
        print(json.dumps(result))
        return 0
    print(f"{net.name}, batch {a.batch}, {len(x)} images, {a.epochs} epochs, "
          f"{result['threads']} thread(s), torch {result['torch']}")
    print(f"  hand-written loop : {1e3 * b:8.3f} ms/step (median CPU time of {len(base)} steps)")
    print(f"  cnndsl.train      : {1e3 * m:8.3f} ms/step   ratio {m / b:.3f} (target <= 1.05)")
    print(f"  ... writing files : {1e3 * mio:8.3f} ms/step   ratio {mio / b:.3f}")
    print(f"  whole run: trainer {result['trainer_run_s']:.2f} s, with checkpoints and "
          f"metrics every epoch {result['trainer_run_with_files_s']:.2f} s, "
          f"loop alone ~{result['baseline_run_estimate_s']:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
