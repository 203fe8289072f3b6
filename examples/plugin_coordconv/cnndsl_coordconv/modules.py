"""The CoordConv layer in PyTorch (imports torch only: generated code imports it)."""

from __future__ import annotations

import torch
from torch import nn


def add_coords(x: torch.Tensor) -> torch.Tensor:
    """``x`` (N, C, H, W) with two channels appended: x then y, from -1 to 1."""
    n, _, h, w = x.shape
    xs = torch.linspace(-1.0, 1.0, w, device=x.device, dtype=x.dtype)
    ys = torch.linspace(-1.0, 1.0, h, device=x.device, dtype=x.dtype)
    return torch.cat([x, xs.view(1, 1, 1, w).expand(n, 1, h, w),
                      ys.view(1, 1, h, 1).expand(n, 1, h, w)], 1)


class CoordConv(nn.Module):
    """A convolution that also sees where it is: its input plus coordinate channels.

    Its one parameterized submodule is ``conv``, an ``nn.Conv2d`` over
    ``in_channels + 2`` channels, so weights port by structure to and from any
    implementation that holds that conv (``AddCoords`` then ``Conv2d``).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size=3, stride=1,
                 padding=0, dilation=1, bias: bool = True):
        super().__init__()
        self.conv = nn.Conv2d(in_channels + 2, out_channels, kernel_size, stride=stride,
                              padding=padding, dilation=dilation, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(add_coords(x))
