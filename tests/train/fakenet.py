"""A stand-in for the compiler's Network, so the trainer is tested on its own.

It implements :class:`cnndsl.train.protocol.NetworkLike` with hand-written torch models.
Used by ``conftest.py`` and by the torchrun worker ``ddp_worker.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import nn


def lenet(classes: int = 10, channels: int = 1, bn: bool = False) -> nn.Module:
    """LeNet-5 as LeCun et al. 1998 (ReLU and max pooling), on 32x32 inputs."""
    def norm(c: int) -> nn.Module:
        return nn.BatchNorm2d(c) if bn else nn.Identity()

    return nn.Sequential(
        nn.Conv2d(channels, 6, 5), norm(6), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), norm(16), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, classes))


def tiny(classes: int = 10, channels: int = 1, size: int = 8, dropout: float = 0.0,
         bn: bool = False) -> nn.Module:
    """A small conv net for fast tests (optionally with dropout / batch norm)."""
    return nn.Sequential(
        nn.Conv2d(channels, 8, 3, padding=1), nn.BatchNorm2d(8) if bn else nn.Identity(),
        nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Dropout(dropout),
        nn.Linear(8 * (size // 2) ** 2, classes))


BUILDERS = {"lenet": lenet, "tiny": tiny}


@dataclass
class FakeNetwork:
    """What ``cnndsl.compile`` returns, as far as the trainer is concerned."""

    builder: str = "tiny"
    input_shape: tuple[int, ...] = (1, 8, 8)
    num_classes: int | None = 10
    bindings: dict = field(default_factory=dict)
    name: str = "fake"
    path: str | None = None

    @property
    def source(self) -> str:
        return f"# stand-in {self.builder}\nnetwork {self.name}:\n    input " + \
            "x".join(map(str, self.input_shape)) + "\n"

    def to_torch(self) -> nn.Module:
        c, h, _ = self.input_shape
        kw = dict(self.bindings)
        if self.builder == "tiny":
            kw.setdefault("size", h)
        return BUILDERS[self.builder](classes=self.num_classes, channels=c, **kw)
