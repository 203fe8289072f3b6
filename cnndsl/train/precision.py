"""Automatic mixed precision: bf16 where the device supports it, else fp16 + GradScaler."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from cnndsl.diagnostics import UserError

AMP_CHOICES = ("auto", "on", "off", "bf16", "fp16")


@dataclass
class Precision:
    device_type: str
    dtype: torch.dtype | None = None  # autocast dtype; None = float32 throughout
    scaler: torch.amp.GradScaler | None = None

    @contextlib.contextmanager
    def autocast(self) -> Iterator[None]:
        if self.dtype is None:
            yield
        else:
            with torch.autocast(self.device_type, dtype=self.dtype):
                yield

    def describe(self) -> str:
        if self.dtype is None:
            return "float32"
        name = {torch.bfloat16: "bf16", torch.float16: "fp16"}[self.dtype]
        return f"mixed precision {name}" + (" with gradient scaling" if self.scaler else "")


def choose_precision(amp: str | bool, device: torch.device) -> Precision:
    """``auto``: on for CUDA (bf16 if supported, else fp16), off elsewhere; ``on``: also
    on the CPU (bf16); ``bf16``/``fp16``: that type; ``off``: float32."""
    mode = {True: "on", False: "off"}.get(amp, amp) if isinstance(amp, bool) else str(amp)
    mode = mode.strip().lower()
    if mode not in AMP_CHOICES:
        raise UserError(f"--amp {amp}: choose one of {', '.join(AMP_CHOICES)}", exit_code=2)
    kind = device.type
    if mode == "off" or (mode == "auto" and kind != "cuda"):
        return Precision(kind)
    if mode in ("auto", "on"):
        bf16 = kind != "cuda" or torch.cuda.is_bf16_supported()
        mode = "bf16" if bf16 else "fp16"
    dtype = torch.bfloat16 if mode == "bf16" else torch.float16
    scaler = torch.amp.GradScaler(kind) if dtype == torch.float16 else None
    return Precision(kind, dtype, scaler)
