"""An exponential moving average of the weights (``--ema DECAY``; Polyak & Juditsky 1992,
as timm's ``ModelEmaV2``): after every step ``avg = decay * avg + (1 - decay) * w`` for
parameters and floating buffers (batch-norm statistics), the rest copied. The average is
what validation scores, what checkpoints offer as the trained model (``eval``,
``predict``, ``export``, ``load_run``) and what the run returns; training continues from
the raw weights, which checkpoints keep for resuming.
"""

from __future__ import annotations

import copy

import torch


class WeightAverage:
    def __init__(self, model: torch.nn.Module, decay: float) -> None:
        self.decay = decay
        self.model = copy.deepcopy(model).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        for avg, w in zip(self.model.state_dict().values(), model.state_dict().values()):
            if avg.is_floating_point():
                avg.lerp_(w, 1.0 - self.decay)
            else:
                avg.copy_(w)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.model.state_dict()

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.model.load_state_dict(state)
