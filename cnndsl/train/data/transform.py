"""Fit stored images to the network's input: scale, channels, size, normalisation.

Applied to whole batches on the training device, so the stored data stays small
(uint8, native size) and nothing is resized on the host. The same :class:`Transform`
is saved in checkpoints, so ``eval`` and ``predict`` see images exactly as training did.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from cnndsl.diagnostics import UserError

from .types import ImageSet

Shape3 = tuple[int, int, int]


def fmt(shape: tuple[int, ...]) -> str:
    return "x".join(str(d) for d in shape)


@dataclass
class Transform:
    """``data_shape`` images with intensities ``x / scale`` in [0, 1] -> ``input_shape``."""

    data_shape: Shape3
    input_shape: Shape3
    scale: float = 255.0
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def fit(cls, data_shape: Shape3, input_shape: tuple[int, ...], scale: float) -> Transform:
        """The transform from data to network input, or an error when none makes sense."""
        if len(input_shape) != 3:
            raise UserError(f"the network's input is {fmt(input_shape)}; the trainer feeds "
                            "images, so it needs an input CxHxW",
                            help="declare an image input, e.g. `input 1x28x28`")
        c, C = data_shape[0], input_shape[0]
        if c != C and c != 1 and C != 1:
            raise UserError(f"the data has {c} channels but the network's input has {C}",
                            help=f"use --input {c}x{input_shape[1]}x{input_shape[2]} or "
                                 "data with 1 or matching channels")
        return cls(tuple(map(int, data_shape)), tuple(map(int, input_shape)),  # type: ignore[arg-type]
                   float(scale))

    @property
    def resizes(self) -> bool:
        return self.data_shape[1:] != self.input_shape[1:]

    def describe(self) -> str:
        """One line saying what is done to each image."""
        (c, h, w), (C, H, W) = self.data_shape, self.input_shape
        done = []
        if c != C:
            done.append(f"{c} channel replicated to {C}" if c == 1
                        else f"{c} channels averaged to 1")
        if self.resizes:
            done.append(f"resized {h}x{w} -> {H}x{W} (bilinear"
                        + (", antialiased)" if H < h or W < w else ")"))
        head = f"input: data {fmt(self.data_shape)} -> network {fmt(self.input_shape)}"
        tail = "; ".join(done) if done else "no resizing"
        if self.mean:
            m = ", ".join(f"{v:.3f}" for v in self.mean)
            s = ", ".join(f"{v:.3f}" for v in self.std)
            tail += f"; normalized with mean ({m}) std ({s})"
        return f"{head}: {tail}"

    def geometry(self, x: torch.Tensor) -> torch.Tensor:
        """(B, c, h, w) stored images -> float (B, C, H, W) intensities in [0, 1]."""
        x = x.float()
        if self.scale != 1.0:
            x = x * (1.0 / self.scale)
        c, C = self.data_shape[0], self.input_shape[0]
        if c > 1 and C == 1:
            x = x.mean(dim=1, keepdim=True)
        if self.resizes:
            H, W = self.input_shape[1:]
            down = H < x.shape[2] or W < x.shape[3]
            x = F.interpolate(x, size=(H, W), mode="bilinear", align_corners=False,
                              antialias=down)
        if c == 1 and C > 1:
            x = x.expand(-1, C, -1, -1)
        return x

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        if not self.mean:
            return x
        key = (x.device, x.dtype)
        if key not in self._cache:
            shape = (1, len(self.mean), 1, 1)
            mean = torch.tensor(self.mean, dtype=x.dtype).view(shape).to(x.device)
            inv = (1.0 / torch.tensor(self.std, dtype=torch.float64)).to(x.dtype)
            self._cache[key] = (mean, inv.view(shape).to(x.device))
        mean, inv_std = self._cache[key]
        return (x - mean) * inv_std

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.normalize(self.geometry(x))

    def with_stats(self, images: ImageSet, limit: int = 20000, chunk: int = 512) -> Transform:
        """The same transform, normalising with the per-channel mean/std of ``images``."""
        n = len(images)
        if n == 0:
            return self
        step = max(1, n // limit)
        total = torch.zeros(self.input_shape[0], dtype=torch.float64)
        sq = torch.zeros_like(total)
        count = 0
        for i in range(0, n, chunk * step):
            x = self.geometry(images.pixels[i:i + chunk * step:step]).double()
            total += x.sum(dim=(0, 2, 3)).cpu()
            sq += (x * x).sum(dim=(0, 2, 3)).cpu()
            count += x.shape[0] * x.shape[2] * x.shape[3]
        mean = total / count
        std = (sq / count - mean * mean).clamp_min(0).sqrt().clamp_min(1e-3)
        return Transform(self.data_shape, self.input_shape, self.scale,
                         tuple(round(float(v), 6) for v in mean),
                         tuple(round(float(v), 6) for v in std))

    def to_json(self) -> dict:
        return {"data_shape": list(self.data_shape), "input_shape": list(self.input_shape),
                "scale": self.scale, "mean": list(self.mean), "std": list(self.std)}

    @classmethod
    def from_json(cls, d: dict) -> Transform:
        return cls(tuple(d["data_shape"]), tuple(d["input_shape"]), float(d["scale"]),  # type: ignore[arg-type]
                   tuple(d.get("mean", ())), tuple(d.get("std", ())))
