"""Optimizers by name, from a resolved :class:`Recipe`."""

from __future__ import annotations

from collections.abc import Iterable

import torch

from .config import Recipe

NORMS = (torch.nn.modules.batchnorm._NormBase, torch.nn.GroupNorm, torch.nn.LayerNorm)


def param_groups(model: torch.nn.Module, r: Recipe,
                 head: Iterable[torch.nn.Parameter] = ()) -> list[dict]:
    """The trained parameters, in groups: normalisation biases apart when their rate is
    scaled (``norm_bias_lr``; their weight decay is divided by the same factor, so the
    decay per step stays), the classifier's ``head`` apart when ``head_lr`` scales its
    rate; a group's ``lr_scale`` multiplies the schedule's rate."""
    biases = {id(m.bias) for m in model.modules()
              if isinstance(m, NORMS) and getattr(m, "bias", None) is not None}
    heads = {id(p) for p in head} if r.head_lr != 1.0 else set()
    scaled = r.norm_bias_lr != 1.0
    rest, norm, top = [], [], []
    for p in model.parameters():
        if p.requires_grad:
            (top if id(p) in heads else norm if scaled and id(p) in biases else rest).append(p)
    wd = float(r.weight_decay)  # type: ignore[arg-type]
    groups = [{"params": rest, "lr_scale": 1.0, "weight_decay": wd}]
    if norm:
        groups.append({"params": norm, "lr_scale": r.norm_bias_lr,
                       "weight_decay": wd / r.norm_bias_lr})
    if top:
        groups.append({"params": top, "lr_scale": r.head_lr, "weight_decay": wd})
    return [g for g in groups if g["params"]] or groups[:1]


def make_optimizer(model: torch.nn.Module, r: Recipe, device: torch.device,
                   head: Iterable[torch.nn.Parameter] = ()) -> torch.optim.Optimizer:
    """``r`` must be resolved (one optimizer, lr and decay filled in). On CUDA, SGD, Adam
    and AdamW use their fused kernels where this torch has them."""
    params = param_groups(model, r, head)
    if device.type == "cuda" and r.optimizer in ("sgd", "adam", "adamw"):
        try:
            return build(params, r, fused=True)
        except (TypeError, RuntimeError):  # an older torch without fused kernels
            pass
    return build(params, r)


def build(params: list[dict], r: Recipe, **fast: bool) -> torch.optim.Optimizer:
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
        group["lr"] = lr * group.get("lr_scale", 1.0)
