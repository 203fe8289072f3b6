"""Sliding-window arithmetic, written once for convolutions and pools.

The slides' rule: ``W2 = (W1 - F + 2P)/S + 1``. PyTorch floors it (or ceils with
``ceil_mode``); a placement that the floor drops is harmless when it would only have
covered padding, and a real loss when input pixels are never seen.

>>> fit(7, 3, 3, 0, 0).size, round(fit(7, 3, 3, 0, 0).exact, 2), fit(7, 3, 3, 0, 0).unseen
(2, 2.33, 1)
>>> fit(224, 7, 2, 3, 3).unseen      # ResNet's stem loses only padding
0
>>> fit(224, 11, 4, 0, 0).unseen     # AlexNet's stem on 224 never sees a column
1
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Fit:
    size: int  # output size (PyTorch's)
    exact: float  # the slides' formula without flooring
    unseen: int  # trailing real input pixels no window covers


def span(kernel: int, dilation: int = 1) -> int:
    """The extent of a (dilated) kernel."""
    return dilation * (kernel - 1) + 1


def fit(n: int, kernel: int, stride: int, pad0: int, pad1: int, dilation: int = 1,
        ceil_mode: bool = False) -> Fit:
    """Output size of a window sliding over ``n`` pixels, and what it leaves unseen."""
    extent = span(kernel, dilation)
    room = n + pad0 + pad1 - extent
    exact = room / stride + 1
    if room < 0:
        return Fit(0, exact, n)
    size = room // stride + 1
    if ceil_mode:
        size = -(-room // stride) + 1
        # PyTorch: the last window must start inside the input or the left padding
        if (size - 1) * stride >= n + pad0:
            size -= 1
    last_covered = (size - 1) * stride - pad0 + extent - 1
    return Fit(size, exact, max(0, n - 1 - last_covered))


def suggestions(n: int, kernel: int, stride: int, pad: int, dilation: int = 1) -> list[str]:
    """Fixes for a window that leaves pixels unseen: a padding, or another stride.

    Found by arithmetic, not by search, so a stride of 10**18 answers as fast as 2:

    >>> suggestions(7, 3, 3, 0)
    ['pad=1 gives a 3x3 output that sees every pixel', 'use stride 2', 'an input of 9 fits']
    """
    out = []
    extent = span(kernel, dilation)
    p = _first_pad(n - extent, stride, pad + 1)  # the smallest pad above `pad` that fits
    if p is not None and p <= pad + stride and p < extent:
        size = (n + 2 * p - extent) // stride + 1
        out.append(f"pad={p} gives a {size}x{size} output that sees every pixel")
    room = n + 2 * pad - extent
    for s in range(stride - 1, max(0, stride - 1 - _STRIDES_TRIED), -1):
        if room % s == 0:
            out.append(f"use stride {s}")
            break
    bigger = n + 1 + (-(n + 1 + 2 * pad - extent)) % stride
    out.append(f"an input of {bigger} fits")
    return out


_STRIDES_TRIED = 64


def _first_pad(base: int, stride: int, lowest: int) -> int | None:
    """The smallest p >= lowest with (base + 2p) divisible by stride, if any."""
    if stride % 2 == 0:
        if base % 2:
            return None  # base + 2p stays odd
        base, stride = base // 2, stride // 2  # base/2 + p divisible by stride/2
        return lowest + (-(base + lowest)) % stride
    inverse = pow(2, -1, stride) if stride > 1 else 0
    target = (-base * inverse) % stride if stride > 1 else 0
    return lowest + (target - lowest) % stride if stride > 1 else lowest


def same_padding(n: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TensorFlow's 'same': output ceil(n/stride); the odd pixel of padding goes after."""
    total = max((math.ceil(n / stride) - 1) * stride + span(kernel, dilation) - n, 0)
    return total // 2, total - total // 2
