"""The learning-rate range test (Smith 2015, "Cyclical Learning Rates", section 3.3).

From a fresh network, train ``steps`` batches while the rate grows geometrically from
``start`` to ``end``; record the loss, smoothed by an exponential moving average with
bias correction (weight 0.98, as fastai's finder). Stop early when the smoothed loss
passes four times its minimum. The suggestion is the rate where the smoothed loss falls
fastest (the most negative slope against log rate), a point in the descent where
training is fast and stable; the curve is returned so that a person can judge it too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from cnndsl.diagnostics import UserError

from .config import make_recipe
from .data import Feeder, prepare
from .initialize import apply_init
from .optim import make_optimizer, set_lr
from .run_types import seed_all

SMOOTHING = 0.98
DIVERGED = 4.0  # stop once the smoothed loss exceeds this multiple of its minimum


@dataclass
class LrFind:
    lrs: list[float]
    losses: list[float]  # smoothed
    suggestion: float
    stopped_early: bool

    def to_json(self) -> dict[str, Any]:
        return {"suggestion": self.suggestion, "lrs": self.lrs, "losses": self.losses,
                "stopped_early": self.stopped_early}


def suggest(lrs: list[float], losses: list[float]) -> float:
    """The rate of the steepest descent of the loss against log rate (ignoring the
    first and last tenth of the curve, where the average is still settling or the
    loss is already rising)."""
    n = len(lrs)
    lo, hi = n // 10, max(n // 10 + 2, n - n // 10)
    best, best_slope = lrs[min(n - 1, lo)], math.inf
    for i in range(max(lo, 1), min(hi, n)):
        slope = (losses[i] - losses[i - 1]) / (math.log(lrs[i]) - math.log(lrs[i - 1]))
        if slope < best_slope:
            best, best_slope = lrs[i], slope
    return best


def lr_find(network: Any, data: Any = "digits", *, start: float = 1e-7, end: float = 10.0,
            steps: int = 100, batch_size: int = 64, optimizer: str = "adam",
            seed: int = 0, device: str = "cpu") -> LrFind:
    """Run the range test on a fresh copy of ``network``; nothing is written."""
    if not (0 < start < end) or steps < 5:
        raise UserError(f"lr-find: need 0 < start < end and at least 5 steps (got {start:g}, "
                        f"{end:g}, {steps})", exit_code=2)
    recipe = make_recipe(optimizer=optimizer, batch_size=batch_size, seed=seed,
                         lr=start).resolved()
    dev = torch.device(device)
    prepared = prepare(data, network.input_shape, network.num_classes, seed=seed,
                       augment="none")
    seed_all(seed)
    model = network.to_torch().to(dev).train()
    apply_init(model, recipe.init)
    opt = make_optimizer(model, recipe, dev)
    feeder = Feeder(prepared.train, prepared.transform, dev)
    factor = (end / start) ** (1 / (steps - 1))
    lrs: list[float] = []
    losses: list[float] = []
    average, best, epoch = 0.0, math.inf, 0
    while len(lrs) < steps:
        for batch in feeder.batches(batch_size, seed=seed, epoch=epoch, shuffle=True,
                                    train=True):
            lr = start * factor ** len(lrs)
            set_lr(opt, lr)
            out = model(batch.x)
            logits = out[0] if isinstance(out, tuple) else out
            loss = F.cross_entropy(logits.float(), batch.y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            value = loss.item()
            if not math.isfinite(value):
                return _result(lrs, losses, True)
            average = SMOOTHING * average + (1 - SMOOTHING) * value
            smoothed = average / (1 - SMOOTHING ** (len(lrs) + 1))
            lrs.append(lr)
            losses.append(smoothed)
            best = min(best, smoothed)
            if smoothed > DIVERGED * best and len(lrs) > steps // 10:
                return _result(lrs, losses, True)
            if len(lrs) >= steps:
                break
        epoch += 1
    return _result(lrs, losses, False)


def _result(lrs: list[float], losses: list[float], early: bool) -> LrFind:
    if len(lrs) < 3:
        raise UserError("lr-find: the loss diverged at once", help="lower --start")
    return LrFind(lrs, losses, suggest(lrs, losses), early)


def plot(result: LrFind, path: str | Path, force: bool = False) -> Path:
    """Loss against rate (log scale), the suggestion marked, as a PNG."""
    from .plots import have_matplotlib

    if not have_matplotlib():
        raise UserError("the plot needs matplotlib", help="pip install matplotlib")
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cnndsl.outputs import mark, write_output

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(result.lrs, result.losses)
    ax.axvline(result.suggestion, color="tab:red", linestyle="--",
               label=f"suggestion {result.suggestion:.2g}")
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("training loss (smoothed)")
    ax.legend()
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return write_output(path, mark(buffer.getvalue(), ".png"), force)
