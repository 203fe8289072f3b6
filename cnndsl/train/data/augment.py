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

from . import augment_ops as ops

AUGMENT_HELP = ("--augment: a preset (basic, imagenet, strong) or a list of crop[:PAD], "
                "translate[:PAD], flip, rrc[:MIN_AREA], jitter[:S], trivial, mixup[:ALPHA], "
                "cutmix[:ALPHA]; none; auto")
# Named policies (docs/training.md): the CIFAR recipe, ImageNet's Inception-style crops
# with colour jitter, and a strong modern one (timm-like).
PRESETS = {"basic": "crop:4,flip", "imagenet": "rrc:0.08,flip,jitter:0.4",
           "strong": "rrc:0.25,flip,trivial,mixup:0.2,cutmix:1.0"}
DEFAULTS = {"crop": 4, "translate": 2, "rrc": 0.08, "jitter": 0.4, "mixup": 0.2, "cutmix": 1.0}


@dataclass(frozen=True)
class Extra:
    """The random values of the augmentations beyond crop and flip, one row per image."""

    boxes: torch.Tensor | None = None  # rrc: (n, 4)
    factors: torch.Tensor | None = None  # jitter: (n, 3)
    ops: torch.Tensor | None = None  # trivial: (n,), strength (n,), signs (n,)
    strength: torch.Tensor | None = None
    signs: torch.Tensor | None = None

    def take(self, sl: slice) -> Extra:
        return Extra(*(None if v is None else v[sl] for v in (
            self.boxes, self.factors, self.ops, self.strength, self.signs)))


@dataclass(frozen=True)
class Augment:
    """Random crop after padding by ``pad`` pixels, and/or a horizontal flip. ``crop``
    pads with zeros; ``translate`` pads with the image's reflection (airbench's shifts),
    so that no image gets a black border."""

    pad: int = 0
    flip: bool = False
    reflect: bool = False
    rrc: float = 0.0  # random-resized crop's smallest area fraction; 0 = off
    jitter: float = 0.0  # colour jitter strength; 0 = off
    trivial: bool = False  # TrivialAugment
    mixup: float = 0.0  # Beta(a, a) of mixup; 0 = off
    cutmix: float = 0.0  # Beta(a, a) of CutMix; 0 = off

    @classmethod
    def parse(cls, spec: str) -> Augment:
        """``"crop:4,flip"`` -> ``Augment(pad=4, flip=True)``.

        >>> Augment.parse("crop:2,flip").spec()
        'crop:2,flip'
        >>> Augment.parse("flip,translate:2").spec()
        'translate:2,flip'
        >>> Augment.parse("strong").spec()
        'flip,rrc:0.25,trivial,mixup:0.2,cutmix:1'
        """
        spec = PRESETS.get(spec.strip().lower(), spec)
        values: dict = {}
        for part in filter(None, (p.strip().lower() for p in spec.split(","))):
            name, _, arg = part.partition(":")
            if name == "none":
                continue
            if name in ("flip", "trivial") and not arg:
                values[name] = True
                continue
            if name not in DEFAULTS:
                raise UserError(f"--augment {spec}: unknown augmentation '{part}'",
                                help=AUGMENT_HELP, exit_code=2)
            try:
                value = float(arg) if arg else float(DEFAULTS[name])
            except ValueError:
                value = -1.0
            bad = value < 0 or (name in ("crop", "translate") and value != int(value)) or \
                (name == "rrc" and not 0 < value <= 1)
            if bad:
                raise UserError(f"--augment {spec}: bad {name} value '{arg}'",
                                help=AUGMENT_HELP, exit_code=2)
            if name in ("crop", "translate"):
                values.update(pad=int(value), reflect=name == "translate")
            else:
                values[name] = value
        return cls(**values)

    def __bool__(self) -> bool:
        return self.pad > 0 or self.flip or self.per_image or self.mixes

    @property
    def per_image(self) -> bool:
        """Augmentations beyond crop and flip, drawn per image."""
        return self.rrc > 0 or self.jitter > 0 or self.trivial

    @property
    def mixes(self) -> bool:
        return self.mixup > 0 or self.cutmix > 0

    def spec(self) -> str:
        crop = "translate" if self.reflect else "crop"
        parts = ([f"{crop}:{self.pad}"] if self.pad else []) + (["flip"] if self.flip else [])
        parts += [f"rrc:{self.rrc:g}"] if self.rrc else []
        parts += [f"jitter:{self.jitter:g}"] if self.jitter else []
        parts += ["trivial"] if self.trivial else []
        parts += [f"mixup:{self.mixup:g}"] if self.mixup else []
        parts += [f"cutmix:{self.cutmix:g}"] if self.cutmix else []
        return ",".join(parts) or "none"

    def draw_extra(self, n: int, g: torch.Generator) -> Extra:
        """The random values of rrc, jitter and trivial for n images (after :meth:`draw`)."""
        if not self.per_image:
            return Extra()
        boxes = ops.rrc_boxes(n, self.rrc, g) if self.rrc else None
        factors = 1 + self.jitter * (2 * torch.rand(n, 3, generator=g) - 1) \
            if self.jitter else None
        if not self.trivial:
            return Extra(boxes, factors)
        kinds = torch.randint(0, len(ops.TRIVIAL_OPS), (n,), generator=g)
        strength = torch.rand(n, generator=g)
        signs = torch.where(torch.rand(n, generator=g) < 0.5, -1.0, 1.0)
        return Extra(boxes, factors, kinds, strength, signs)

    def apply_extra(self, x: torch.Tensor, extra: Extra, stage: str) -> torch.Tensor:
        """``stage="geometry"``: the random-resized crop (before crop and flip);
        ``"colour"``: jitter and trivial (after them)."""
        if stage == "geometry":
            return ops.resized_crop(x, extra.boxes) if extra.boxes is not None else x
        if extra.factors is not None:
            x = ops.jitter(x, extra.factors)
        if extra.ops is not None:
            x = ops.trivial(x, extra.ops, extra.strength, extra.signs)
        return x

    def mix(self, x: torch.Tensor, g: torch.Generator) -> tuple[torch.Tensor, float]:
        """The batch mixed (mixup or CutMix, half the batches each when both are on) and
        the weight of each image's own label; the partner's label is ``y.flip(0)``."""
        if not self.mixes or len(x) < 2:
            return x, 1.0
        cut = self.cutmix > 0 and (self.mixup == 0 or bool(torch.rand(1, generator=g) < 0.5))
        lam = ops.beta(self.cutmix if cut else self.mixup, g)
        box = ops.cut_box(x.shape[2], x.shape[3], lam, g) if cut else None
        return ops.mix(x, lam, box)

    def draw(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Crop offsets (n, 2) in [0, 2*pad] and flip flags (n,) for n images."""
        offsets = torch.randint(0, 2 * self.pad + 1, (n, 2), generator=generator)
        flips = torch.rand(n, generator=generator) < 0.5 if self.flip else \
            torch.zeros(n, dtype=torch.bool)
        return offsets, flips

    def apply(self, x: torch.Tensor, offsets: torch.Tensor, flips: torch.Tensor,
              extra: Extra | None = None) -> torch.Tensor:
        """Augment (B, C, H, W) with one offset pair and flip flag per image, and the
        per-image values of :meth:`draw_extra`."""
        if extra is not None:
            x = self.apply_extra(x, extra, "geometry")
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
        if extra is not None:
            x = self.apply_extra(x, extra, "colour")
        return x.contiguous()
