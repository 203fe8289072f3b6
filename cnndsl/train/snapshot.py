"""A run's checkpoints: what a checkpoint holds, writing it, and resuming from it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from . import checkpoint as ck
from .protocol import bindings_of
from .run_types import imports_of

if TYPE_CHECKING:
    from .loop import Trainer


def payload(t: Trainer, epoch: int, step: int, partial: dict[str, float]) -> dict[str, Any]:
    """The checkpoint of run ``t`` at ``epoch`` and ``step``: what a resume needs to
    compute exactly what an uninterrupted run computes, and to rebuild the network."""
    n, d = t.net, t.data
    meta = ck.plain({
        "format": ck.FORMAT, "version": ck.VERSION, "torch": str(torch.__version__),
        "network": n.name, "source": n.source, "path": n.path,
        "imports": imports_of(n),
        # "params": the bindings again, for the cnndsl releases that read them so
        "bindings": bindings_of(n), "params": bindings_of(n),
        "preset": getattr(n, "preset", None),
        "input_shape": [int(v) for v in n.input_shape],
        "num_classes": t.num_classes, "classes": list(d.classes),
        "data": d.source.spec, "transform": d.transform.to_json(),
        "recipe": t.recipe.to_json(), "schedule": t.schedule.state_dict(),
        "epoch": epoch, "step": step, "partial": partial,
        "metrics": list(t.history.records), "world_size": t.world.size,
    })
    return {**meta, "state_dict": t.base.state_dict(),
            "lookahead": t.lookahead.state_dict() if t.lookahead else None,
            "ema": t.ema.state_dict() if t.ema else None,
            "optimizer": t.optimizer.state_dict(),
            "scaler": t.precision.scaler.state_dict() if t.precision.scaler else None,
            "rng": ck.rng_state()}


def save_run(t: Trainer, epoch: int, step: int, partial: dict[str, float], best: bool) -> None:
    """``last.pt`` written atomically (and copied to ``best.pt``), where the run writes."""
    if t.out is None:
        return
    last = t.out / ck.LAST
    ck.save_atomic(payload(t, epoch, step, partial), last)
    if best:
        ck.copy_atomic(last, t.out / ck.BEST)


def restore_run(t: Trainer) -> tuple[int, int, dict[str, float]]:
    """Optimizer, schedule, scaler, metrics from the checkpoint being resumed."""
    c = t.resume
    if c is None:
        return 0, 0, {}
    t.optimizer.load_state_dict(c["optimizer"])
    t.schedule.load_state_dict(c["schedule"])
    if t.precision.scaler is not None and c.get("scaler"):
        t.precision.scaler.load_state_dict(c["scaler"])
    t.history.records = list(c["metrics"])
    step = int(c.get("step", 0))
    if step:
        ck.set_rng_state(c["rng"])
    return int(c["epoch"]), step, dict(c.get("partial") or {})
