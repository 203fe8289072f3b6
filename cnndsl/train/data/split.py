"""Hold out a validation set, class by class, reproducibly."""

from __future__ import annotations

import torch

from .types import ImageSet


def stratified_split(labels: torch.Tensor, fraction: float,
                     seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices (train, val): about ``fraction`` of each class goes to val.

    >>> y = torch.tensor([0] * 10 + [1] * 10)
    >>> tr, va = stratified_split(y, 0.2, seed=0)
    >>> len(tr), len(va), int(y[va].sum())
    (16, 4, 2)
    """
    g = torch.Generator().manual_seed(seed)
    train, val = [], []
    for c in torch.unique(labels).tolist():
        idx = torch.nonzero(labels == c)[:, 0]
        idx = idx[torch.randperm(len(idx), generator=g)]
        k = int(round(fraction * len(idx)))
        val.append(idx[:k])
        train.append(idx[k:])
    tr = torch.sort(torch.cat(train)).values if train else labels.new_zeros(0)
    va = torch.sort(torch.cat(val)).values if val else labels.new_zeros(0)
    return tr, va


def split(images: ImageSet, fraction: float, seed: int) -> tuple[ImageSet, ImageSet]:
    tr, va = stratified_split(images.labels, fraction, seed)
    return images.subset(tr), images.subset(va)
