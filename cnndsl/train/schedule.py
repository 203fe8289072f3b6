"""Learning-rate schedules, computed per step, with a linear warm-up.

One small class instead of stacked torch schedulers: the rate is a function of (epoch,
step) plus, for ``plateau``, a factor that drops when validation accuracy stops rising
(the slides' "divide by 10 when validation accuracy plateaus"). Its state is a plain dict.
"""

from __future__ import annotations

import math


class Schedule:
    """The learning rate of every step.

    >>> s = Schedule("step", 0.1, epochs=6, steps_per_epoch=10, step_size=2)
    >>> [round(s.lr(e, 0), 6) for e in range(6)]
    [0.1, 0.1, 0.01, 0.01, 0.001, 0.001]
    >>> p = Schedule("plateau", 0.1, epochs=9, steps_per_epoch=1, patience=2)
    >>> [p.end_epoch(acc) for acc in (0.5, 0.6, 0.6, 0.6)]  # True: divided by 10
    [False, False, False, True]
    >>> p.lr(4, 0)
    0.01
    >>> m = Schedule("multistep", 0.1, epochs=5, steps_per_epoch=1, milestones=(2, 4))
    >>> [round(m.lr(e, 0), 6) for e in range(5)]
    [0.1, 0.1, 0.01, 0.01, 0.001]
    >>> t = Schedule("linear", 1.0, epochs=10, steps_per_epoch=10, warmup=2.5, start=0.2,
    ...              end=0.07)  # airbench94's triangle: 0.2 -> 1 over 25 steps -> 0.07
    >>> [round(t.lr(e, s), 3) for e, s in ((0, 0), (2, 4), (2, 5), (6, 2), (9, 9))]
    [0.232, 1.0, 1.0, 0.535, 0.07]
    """

    def __init__(self, kind: str, base_lr: float, *, epochs: int, steps_per_epoch: int,
                 warmup: float = 0.0, step_size: int = 1, gamma: float = 0.1,
                 patience: int = 3, start: float = 0.0, end: float = 0.0,
                 milestones: tuple[int, ...] = ()) -> None:
        self.kind = kind
        self.base = base_lr
        self.spe = max(1, steps_per_epoch)
        self.total = epochs * self.spe
        self.warmup_steps = int(round(warmup * self.spe))
        self.step_size = step_size
        self.gamma = gamma
        self.patience = patience
        self.start, self.end = start, end  # warm-up's first and linear's last fraction
        self.milestones = milestones  # multistep: epochs where the rate drops by gamma
        self.drops = 0  # plateau: times the rate was divided by 10
        self.best: float | None = None
        self.bad_epochs = 0

    def lr(self, epoch: int, step: int) -> float:
        t = epoch * self.spe + step
        if self.kind == "plateau":
            lr = self.base / 10**self.drops
        else:
            lr = self.base * self.shape(epoch, t)
        if t < self.warmup_steps:
            lr *= self.start + (1 - self.start) * (t + 1) / self.warmup_steps
        return lr

    def shape(self, epoch: int, t: int) -> float:
        if self.kind == "step":
            return self.gamma ** (epoch // self.step_size)
        if self.kind == "multistep":
            return self.gamma ** sum(epoch >= m for m in self.milestones)
        if self.kind == "cosine":
            span = max(1, self.total - self.warmup_steps)
            p = min(1.0, max(0.0, (t - self.warmup_steps) / span))
            return 0.5 * (1.0 + math.cos(math.pi * p))
        if self.kind == "linear":  # from 1 after the warm-up to `end` at the last step
            span = max(1, self.total - 1 - self.warmup_steps)
            p = min(1.0, max(0.0, (t - self.warmup_steps) / span))
            return 1.0 - (1.0 - self.end) * p
        if self.kind == "onecycle":  # Smith & Topin 2017, as torch's OneCycleLR (cosine)
            up = max(1, int(0.3 * self.total))
            start, end = 1 / 25, 1 / 25 / 1e4
            if t < up:
                return start + (1 - start) * 0.5 * (1 - math.cos(math.pi * t / up))
            p = min(1.0, (t - up) / max(1, self.total - up))
            return end + (1 - end) * 0.5 * (1 + math.cos(math.pi * p))
        return 1.0

    def end_epoch(self, accuracy: float | None) -> bool:
        """Tell the plateau schedule an epoch's accuracy; True when the rate dropped."""
        if self.kind != "plateau" or accuracy is None:
            return False
        if self.best is None or accuracy > self.best + 1e-4:
            self.best, self.bad_epochs = accuracy, 0
            return False
        self.bad_epochs += 1
        if self.bad_epochs >= self.patience:
            self.drops += 1
            self.bad_epochs = 0
            return True
        return False

    def state_dict(self) -> dict:
        return {"drops": self.drops, "best": self.best, "bad_epochs": self.bad_epochs}

    def load_state_dict(self, d: dict) -> None:
        self.drops = int(d["drops"])
        self.best = None if d["best"] is None else float(d["best"])
        self.bad_epochs = int(d["bad_epochs"])
