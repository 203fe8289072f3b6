"""A first convolution set from the data: patch whitening (airbench94's first layer).

The training images' ``k x k`` patches (``d = C*k*k`` numbers each) have a covariance
``S = V diag(l) V^T``. Filters ``V^T / sqrt(l + eps)`` map a patch to coordinates of
unit variance that are uncorrelated; the layer keeps them and their negatives (``2d``
filters), so that the activation after it sees both signs. The weights are never
trained; the bias trains for the recipe's first ``whiten_bias_epochs`` epochs.
"""

from __future__ import annotations

import torch
from torch import nn

from cnndsl.diagnostics import UserError

EPS = 5e-4  # added to the eigenvalues: patches with no variance in a direction stay finite
SAMPLES = 5000  # images whose patches estimate the covariance


def first_conv(model: nn.Module) -> nn.Conv2d | None:
    return next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)


def whitening_layer(model: nn.Module) -> nn.Conv2d:
    """The convolution to whiten: the network's first, with ``2 x C*kh*kw`` filters."""
    conv = first_conv(model)
    if conv is None:
        raise UserError("--whiten: the network has no convolution",
                        help="whitening sets the first convolution from the data", exit_code=2)
    c, (kh, kw) = conv.in_channels, conv.kernel_size
    d = c * kh * kw
    if conv.groups != 1 or conv.out_channels != 2 * d or conv.dilation != (1, 1):
        raise UserError(
            f"--whiten: the first convolution has {conv.out_channels} filters of "
            f"{c}x{kh}x{kw}{' in groups' if conv.groups != 1 else ''}; whitening needs "
            f"2 x {c}*{kh}*{kw} = {2 * d} ungrouped, undilated filters",
            help=f"make the first layer conv({2 * d}, {kh}x{kw}) (airbench94: conv(24, 2, "
                 "pad=0) for RGB), or train without --whiten", exit_code=2)
    return conv


def patches(x: torch.Tensor, kh: int, kw: int) -> torch.Tensor:
    """Every ``kh x kw`` patch (stride 1, no padding) of (B, C, H, W), flattened: (N, C*kh*kw)."""
    c = x.shape[1]
    p = x.unfold(2, kh, 1).unfold(3, kw, 1)  # B, C, H', W', kh, kw
    return p.permute(0, 2, 3, 1, 4, 5).reshape(-1, c * kh * kw)


@torch.no_grad()
def whiten(conv: nn.Conv2d, images: torch.Tensor) -> None:
    """Set ``conv``'s filters from ``images`` (network-ready, (B, C, H, W)) and freeze them."""
    kh, kw = conv.kernel_size
    d = conv.in_channels * kh * kw
    cov = torch.zeros(d, d, dtype=torch.float64, device=images.device)
    count = 0
    for chunk in images.split(256):  # a few MB of patches at a time
        p = patches(chunk.double(), kh, kw)
        cov += p.T @ p
        count += len(p)
    cov /= max(count, 1)
    values, vectors = torch.linalg.eigh(cov)  # ascending; columns are the directions
    values, vectors = values.flip(0), vectors.flip(1)  # the largest variance first
    filters = (vectors.T / (values.clamp(min=0) + EPS).sqrt()[:, None])
    filters = filters.reshape(-1, conv.in_channels, kh, kw).to(conv.weight)
    conv.weight.copy_(torch.cat([filters, -filters]))
    conv.weight.requires_grad_(False)
