"""What a run does, in the lines the trainer prints before its first epoch."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from .config import Recipe
from .whitening import SAMPLES

if TYPE_CHECKING:
    from .loop import Trainer


def describe(t: Trainer, data: bool = True) -> list[str]:
    """What this run does, one line per topic (``data=False``: recipe and device)."""
    d, r = t.data, t.recipe
    dev = str(t.device)
    if t.world.distributed:
        dev += f" x {t.world.size} processes (DistributedDataParallel)"
    fast = [t.precision.describe()]
    if t.channels_last:
        fast.append("channels-last")
    if t.options.compile:
        fast.append("torch.compile")
    if t.device.type == "cuda":
        fast.append("data on the GPU" if t.train_feeder.resident else "pinned memory")
    val = f"{len(d.val)} images ({d.val_name})" if d.val is not None else "none"
    lines = []
    if data:
        lines += [f"data: {d.source.describe()}; training on {len(d.train)}, "
                  f"validation {val}", d.transform.describe()]
        if d.augment:
            lines.append(f"augmentation: {d.augment.spec()}")
    lines.append(f"recipe: {r.optimizer} lr {r.lr:g}"
                 + (f" momentum {r.momentum:g}" if r.optimizer in ("sgd", "rmsprop") else "")
                 + (" nesterov" if r.nesterov else "")
                 + f", weight decay {r.weight_decay:g}, batch {r.batch_size}, "
                 f"{r.epochs} epoch{'s' if r.epochs != 1 else ''}, schedule {r.schedule}"
                 + (f" at epochs {r.milestones}" if r.schedule == "multistep" else "")
                 + (f" + {r.warmup:g} warm-up epochs" if r.warmup else "")
                 + f", init {r.init}, seed {r.seed}"
                 + (f", preset {r.preset}" if r.preset else ""))
    lines += [f"also: {x}" for x in [", ".join(extras(r, len(d.train)))] if x]
    lines.append(f"device: {dev}; {', '.join(fast)}")
    if t.options.sync_bn and not t.world.distributed:
        lines.append("note: --sync-bn applies to runs of several processes (torchrun)")
    return lines + (list(d.notes) if data else []) + preset_notes(t)

def preset_notes(t: Trainer) -> list[str]:
    """A preset's dropout belongs to the network: say whether the network has it."""
    p = t.recipe.network_bindings.get("dropout")
    if p is None:
        return []
    rates = sorted({round(m.p, 4) for m in t.base.modules()
                    if isinstance(m, torch.nn.modules.dropout._DropoutNd)})
    if not rates:
        return [f"note: preset {t.recipe.preset} used dropout {p} before its fully "
                "connected layers; this network has no dropout layer"]
    if rates != [p]:
        return [f"note: preset {t.recipe.preset} used dropout {p}; this network's dropout "
                f"is {', '.join(map(str, rates))} (set it in the .cnn file or --set)"]
    return []


def extras(r: Recipe, n: int) -> list[str]:
    """The recipe's less common parts, in words (airbench94's tricks); ``n`` training
    images."""
    out = []
    if r.schedule == "linear":
        out.append(f"lr from {r.warmup_start:g}x up over {r.warmup:g} epochs, then down to "
                   f"{r.lr_end:g}x")
    if r.norm_bias_lr != 1.0:
        out.append(f"normalisation biases at {r.norm_bias_lr:g}x lr")
    if r.freeze_norm_weight:
        out.append("normalisation weights fixed at 1")
    if r.whiten:
        out.append(f"first conv whitened from {min(SAMPLES, n)} images (bias trained "
                   f"{r.whiten_bias_epochs:g} epochs)")
    if r.lookahead:
        out.append("lookahead to the weights' moving average every 5 steps")
    if r.ema:
        out.append(f"moving average of the weights (decay {r.ema:g}) validated and kept")
    if r.freeze:
        out.append(f"frozen up to {r.freeze}")
    if r.head_lr != 1.0:
        out.append(f"classifier at {r.head_lr:g}x lr")
    if r.tta != "none":
        out.append(f"test-time augmentation {r.tta}")
    return out
