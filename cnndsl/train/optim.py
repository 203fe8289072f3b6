"""Optimizers by name, from a resolved :class:`Recipe`."""

from __future__ import annotations

from collections.abc import Iterable

import torch

from .config import Recipe


def make_optimizer(params: Iterable[torch.nn.Parameter], r: Recipe,
                   device: torch.device) -> torch.optim.Optimizer:
    """``r`` must be resolved (one optimizer, lr and decay filled in). On CUDA, SGD, Adam
    and AdamW use their fused kernels where this torch has them."""
    params = [p for p in params if p.requires_grad]
    if device.type == "cuda" and r.optimizer in ("sgd", "adam", "adamw"):
        try:
            return build(params, r, fused=True)
        except (TypeError, RuntimeError):  # an older torch without fused kernels
            pass
    return build(params, r)


def build(params: list[torch.nn.Parameter], r: Recipe, **fast: bool) -> torch.optim.Optimizer:
    lr, wd = float(r.lr), float(r.weight_decay)  # type: ignore[arg-type]
    if r.optimizer == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=float(r.momentum or 0.0),
                               nesterov=r.nesterov, weight_decay=wd, **fast)
    if r.optimizer == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=wd, **fast)
    if r.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=wd, **fast)
    if r.optimizer == "adadelta":
        return torch.optim.Adadelta(params, lr=lr, weight_decay=wd)
    if r.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, momentum=float(r.momentum or 0.0),
                                   weight_decay=wd)
    raise ValueError(f"unknown optimizer {r.optimizer!r}")  # validated by config


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr
