"""Batch augmentations on tensors, vectorised over the batch, on the training device.

Each takes the random values the caller drew (from a seeded generator, see
:mod:`~cnndsl.train.data.augment`), so that a run replays exactly. Images are (B, C, H,
W) intensities in [0, 1], before normalisation; mixing comes after it.

- :func:`resized_crop`: random-resized crop (Szegedy et al. 2015, torchvision's
  ``RandomResizedCrop``): a box of 8-100% of the area (by default) and aspect 3/4-4/3,
  resized back to the image's size (bilinear);
- :func:`jitter`: brightness, contrast and saturation factors in [1 - s, 1 + s];
- :func:`trivial`: TrivialAugment (Muller & Hutter 2021): one operation per image, of a
  random strength, from identity, brightness, contrast, colour, solarize, posterize,
  autocontrast, rotate, shear and translate;
- :func:`mix`: mixup (Zhang et al. 2018) or CutMix (Yun et al. 2019) of each image with
  the batch's mirror image (``x.flip(0)``), one weight per batch drawn from Beta(a, a).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

TRIVIAL_OPS = ("identity", "brightness", "contrast", "color", "solarize", "posterize",
               "autocontrast", "rotate", "shear_x", "shear_y", "translate_x", "translate_y")
GREY = torch.tensor([0.299, 0.587, 0.114])  # ITU-R 601 luma


def grey(x: torch.Tensor) -> torch.Tensor:
    """(B, 1, H, W) luminance of RGB images (grey images as they are)."""
    if x.shape[1] != 3:
        return x.mean(1, keepdim=True)
    return (x * GREY.to(x).view(1, 3, 1, 1)).sum(1, keepdim=True)


def affine(x: torch.Tensor, theta: torch.Tensor, padding: str = "zeros") -> torch.Tensor:
    """Sample ``x`` (bilinear) through per-image affine maps (B, 2, 3) of normalised
    coordinates; outside the image ``padding`` (zeros: black, border: the edge)."""
    grid = F.affine_grid(theta.to(x), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode=padding, align_corners=False)


def rrc_boxes(n: int, min_scale: float, g: torch.Generator) -> torch.Tensor:
    """(n, 4) boxes (x0, y0, width, height) as fractions of the image."""
    area = min_scale + (1 - min_scale) * torch.rand(n, generator=g)
    log_ratio = math.log(3 / 4) + (math.log(4 / 3) - math.log(3 / 4)) * torch.rand(n, generator=g)
    ratio = log_ratio.exp()
    w = (area * ratio).sqrt().clamp(max=1.0)
    h = (area / ratio).sqrt().clamp(max=1.0)
    x0 = (1 - w) * torch.rand(n, generator=g)
    y0 = (1 - h) * torch.rand(n, generator=g)
    return torch.stack([x0, y0, w, h], 1)


def resized_crop(x: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    """Each image's box (fractions) resized to the whole image."""
    x0, y0, w, h = boxes.to(x).unbind(1)
    theta = torch.zeros(len(x), 2, 3, dtype=x.dtype, device=x.device)
    theta[:, 0, 0], theta[:, 1, 1] = w, h
    theta[:, 0, 2], theta[:, 1, 2] = 2 * x0 + w - 1, 2 * y0 + h - 1
    return affine(x, theta, "border")  # a box at the edge repeats the edge, never black


def jitter(x: torch.Tensor, factors: torch.Tensor) -> torch.Tensor:
    """Brightness, contrast and saturation, one factor each per image ((B, 3))."""
    b, c, s = (f.view(-1, 1, 1, 1) for f in factors.to(x).unbind(1))
    x = x * b
    x = (x - grey(x).mean((2, 3), keepdim=True)) * c + grey(x).mean((2, 3), keepdim=True)
    g = grey(x)
    x = g + (x - g) * s
    return x.clamp(0, 1)


def trivial(x: torch.Tensor, ops: torch.Tensor, strength: torch.Tensor,
            signs: torch.Tensor) -> torch.Tensor:
    """One operation of :data:`TRIVIAL_OPS` per image (``ops``), at ``strength`` in [0, 1]
    (TrivialAugment's uniform magnitude), towards ``signs`` (+-1)."""
    ops, m, sg = ops.to(x.device), strength.to(x), signs.to(x)
    out = x.clone()
    n = len(x)
    theta = torch.zeros(n, 2, 3, dtype=x.dtype, device=x.device)
    theta[:, 0, 0] = theta[:, 1, 1] = 1.0
    geometric = torch.zeros(n, dtype=torch.bool, device=x.device)
    for k, name in enumerate(TRIVIAL_OPS):
        sel = ops == k
        if not bool(sel.any()) or name == "identity":
            continue
        xs, ms, ss = x[sel], m[sel].view(-1, 1, 1, 1), sg[sel].view(-1, 1, 1, 1)
        if name in ("brightness", "contrast", "color"):
            f = 1 + 0.99 * ms * ss
            mean = grey(xs).mean((2, 3), keepdim=True)
            ref = {"brightness": torch.zeros_like(xs), "contrast": mean.expand_as(xs),
                   "color": grey(xs).expand_as(xs)}[name]
            out[sel] = (ref + (xs - ref) * f).clamp(0, 1)
        elif name == "solarize":  # invert what is above a threshold from 1 down to 0
            t = 1 - ms
            out[sel] = torch.where(xs >= t, 1 - xs, xs)
        elif name == "posterize":  # keep 8 down to 4 bits
            levels = 2 ** (8 - (4 * ms).round())
            out[sel] = torch.floor(xs * 255 / (256 / levels)) * (256 / levels) / 255
        elif name == "autocontrast":
            lo = xs.amin((2, 3), keepdim=True)
            hi = xs.amax((2, 3), keepdim=True)
            out[sel] = torch.where(hi > lo, (xs - lo) / (hi - lo).clamp(min=1e-6), xs)
        else:
            geometric |= sel
            a = (ms * ss).view(-1)
            t = theta[sel]
            if name == "rotate":  # up to 30 degrees
                r = a * math.pi / 6
                t[:, 0, 0], t[:, 0, 1], t[:, 1, 0], t[:, 1, 1] = r.cos(), -r.sin(), r.sin(), r.cos()
            elif name == "shear_x":
                t[:, 0, 1] = 0.99 * a
            elif name == "shear_y":
                t[:, 1, 0] = 0.99 * a
            elif name == "translate_x":  # up to 32 pixels of a 224 image: 1/7 of the width
                t[:, 0, 2] = 2 * a / 7
            else:
                t[:, 1, 2] = 2 * a / 7
            theta[sel] = t
    if bool(geometric.any()):
        out[geometric] = affine(x[geometric], theta[geometric])
    return out


def cut_box(h: int, w: int, lam: float, g: torch.Generator) -> tuple[int, int, int, int]:
    """CutMix's box (top, left, height, width) of about (1 - lam) of the area."""
    cut = math.sqrt(1 - lam)
    bh, bw = int(h * cut), int(w * cut)
    cy, cx = (int(v) for v in torch.randint(0, 10**9, (2,), generator=g))
    cy, cx = cy % h, cx % w
    top, left = max(cy - bh // 2, 0), max(cx - bw // 2, 0)
    return top, left, min(cy + bh - bh // 2, h) - top, min(cx + bw - bw // 2, w) - left


def beta(alpha: float, g: torch.Generator) -> float:
    """A draw from Beta(alpha, alpha), from the generator (Gamma draws by numpy)."""
    import numpy as np

    rng = np.random.default_rng(int(torch.randint(0, 2**62, (1,), generator=g)))
    return float(rng.beta(alpha, alpha))


def mix(x: torch.Tensor, lam: float, box: tuple[int, int, int, int] | None
        ) -> tuple[torch.Tensor, float]:
    """Each image mixed with its partner ``x.flip(0)``: blended by ``lam`` (mixup), or
    with ``box`` pasted from the partner (CutMix; ``lam`` becomes the kept area)."""
    partner = x.flip(0)
    if box is None:
        return lam * x + (1 - lam) * partner, lam
    top, left, bh, bw = box
    out = x.clone()
    out[:, :, top:top + bh, left:left + bw] = partner[:, :, top:top + bh, left:left + bw]
    return out, 1 - bh * bw / (x.shape[2] * x.shape[3])
