"""Data augmentation on batches of tensors (on the training device).

Random parameters are drawn on the CPU from a generator the caller seeds per step, for
the whole global batch; each process takes its share. So a run is reproducible, resumes
exactly, and gives the same result on 1 or N processes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from cnndsl.diagnostics import UserError

AUGMENT_HELP = ("--augment none | crop[:PAD] | translate[:PAD] | flip | crop:4,flip | "
                "flip,translate:2 | auto")


@dataclass(frozen=True)
class Augment:
    """Random crop after padding by ``pad`` pixels, and/or a horizontal flip. ``crop``
    pads with zeros; ``translate`` pads with the image's reflection (airbench's shifts),
    so that no image gets a black border."""

    pad: int = 0
    flip: bool = False
    reflect: bool = False

    @classmethod
    def parse(cls, spec: str) -> Augment:
        """``"crop:4,flip"`` -> ``Augment(pad=4, flip=True)``.

        >>> Augment.parse("crop:2,flip")
        Augment(pad=2, flip=True, reflect=False)
        >>> Augment.parse("flip,translate:2").spec()
        'translate:2,flip'
        """
        pad, flip, reflect = 0, False, False
        for part in filter(None, (p.strip().lower() for p in spec.split(","))):
            name, _, arg = part.partition(":")
            if name == "none":
                continue
            if name == "flip" and not arg:
                flip = True
            elif name in ("crop", "translate"):
                reflect = name == "translate"
                try:
                    pad = int(arg) if arg else (2 if reflect else 4)
                except ValueError:
                    pad = -1
                if pad < 0:
                    raise UserError(f"--augment {spec}: bad {name} padding '{arg}'",
                                    help=AUGMENT_HELP, exit_code=2)
            else:
                raise UserError(f"--augment {spec}: unknown augmentation '{part}'",
                                help=AUGMENT_HELP, exit_code=2)
        return cls(pad, flip, reflect)

    def __bool__(self) -> bool:
        return self.pad > 0 or self.flip

    def spec(self) -> str:
        crop = "translate" if self.reflect else "crop"
        parts = ([f"{crop}:{self.pad}"] if self.pad else []) + (["flip"] if self.flip else [])
        return ",".join(parts) or "none"

    def draw(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Crop offsets (n, 2) in [0, 2*pad] and flip flags (n,) for n images."""
        offsets = torch.randint(0, 2 * self.pad + 1, (n, 2), generator=generator)
        flips = torch.rand(n, generator=generator) < 0.5 if self.flip else \
            torch.zeros(n, dtype=torch.bool)
        return offsets, flips

    def apply(self, x: torch.Tensor, offsets: torch.Tensor, flips: torch.Tensor) -> torch.Tensor:
        """Augment (B, C, H, W) with one offset pair and flip flag per image."""
        if self.pad:
            b, _, h, w = x.shape
            p = self.pad
            mode = "reflect" if self.reflect and p < min(h, w) else "constant"
            padded = F.pad(x, (p, p, p, p), mode=mode).permute(0, 2, 3, 1)  # B, H+2p, W+2p, C
            offsets = offsets.to(x.device, non_blocking=True)
            rows = offsets[:, 0:1] + torch.arange(h, device=x.device)  # B, H
            cols = offsets[:, 1:2] + torch.arange(w, device=x.device)  # B, W
            batch = torch.arange(b, device=x.device)[:, None, None]
            x = padded[batch, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)
        if self.flip:
            flips = flips.to(x.device, non_blocking=True)
            x = torch.where(flips[:, None, None, None], x.flip(3), x)
        return x.contiguous()
