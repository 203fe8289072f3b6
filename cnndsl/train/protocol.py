"""What the trainer needs from a compiled network.

The trainer is written against this protocol, not against the compiler's classes, so it
depends on the backend's module only (DESIGN.md) and can be tested with a hand-written
stand-in. :class:`cnndsl.Network` satisfies it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    import torch

ParamValue = int | float | bool | str


@runtime_checkable
class NetworkLike(Protocol):
    """A compiled network: its text, its bound parameters and a way to build it."""

    @property
    def name(self) -> str: ...

    @property
    def source(self) -> str: ...

    @property
    def path(self) -> str | None: ...

    @property
    def params(self) -> Mapping[str, ParamValue]: ...

    @property
    def input_shape(self) -> tuple[int, ...]: ...

    @property
    def num_classes(self) -> int | None: ...

    def to_torch(self) -> torch.nn.Module:
        """A fresh module whose forward returns logits of shape (B, num_classes)."""
        ...


def rebuild(source: str, params: Mapping[str, ParamValue],
            input_shape: tuple[int, ...] | list[int]) -> NetworkLike:
    """Compile a network again from what a checkpoint stores."""
    import cnndsl  # the compiler core; imported only when a checkpoint is rebuilt

    return cnndsl.compile(source, params=dict(params),
                          input="x".join(str(int(d)) for d in input_shape))
