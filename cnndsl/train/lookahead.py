"""Lookahead towards a moving average of the weights (airbench94's schedule).

Every ``EVERY`` steps the average moves towards the weights and the weights jump back
to the average: ``avg = d * avg + (1 - d) * w; w = avg``, with ``d = 0.95**5 * (t/T)**3``
at step ``t`` of ``T``: the weights run free early (d near 0) and are smoothed more and
more towards the end. After the last step the weights become the average. Buffers (batch
norm statistics) are averaged too.
"""

from __future__ import annotations

import torch

EVERY = 5
DECAY = 0.95 ** 5


class Lookahead:
    def __init__(self, model: torch.nn.Module, total_steps: int) -> None:
        self.model, self.total = model, max(1, total_steps)
        self.average = {k: v.detach().clone() for k, v in self._floats().items()}

    def _floats(self) -> dict[str, torch.Tensor]:
        return {k: v for k, v in self.model.state_dict().items() if v.is_floating_point()}

    def decay(self, t: int) -> float:
        return DECAY * (t / self.total) ** 3

    @torch.no_grad()
    def after_step(self, t: int) -> None:
        """Called after global step ``t`` (1-based)."""
        if t >= self.total:
            self.pull(1.0)
        elif t % EVERY == 0:
            self.pull(self.decay(t))

    @torch.no_grad()
    def pull(self, decay: float) -> None:
        for name, w in self._floats().items():
            avg = self.average[name]
            avg.lerp_(w, 1.0 - decay)
            w.copy_(avg)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.average

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        for name, avg in self.average.items():
            avg.copy_(state[name])
