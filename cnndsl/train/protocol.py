"""What the trainer needs from a compiled network.

The trainer is written against this protocol, not against the compiler's classes, so it
depends on the backend's module only (DESIGN.md) and can be tested with a hand-written
stand-in. :class:`cnndsl.Network` satisfies it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

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
            input_shape: tuple[int, ...] | list[int],
            imports: Mapping[str, Any] | None = None,
            name: str = "<checkpoint>", preset: str | None = None) -> NetworkLike:
    """Compile a network again from what a checkpoint stores.

    The source is always text (never a path or a zoo name) and its imports come from the
    checkpoint's own copies (or the zoo), never from other files: a checkpoint is data.
    Anything malformed, or a source that no longer compiles, is refused with a
    :class:`~cnndsl.diagnostics.UserError`.
    """
    import cnndsl  # the compiler core; imported only when a checkpoint is rebuilt
    from cnndsl.diagnostics import CnnError, UserError, render

    if not isinstance(source, str):
        raise UserError(f"{name}: refused: its network source is not text")
    if not isinstance(params, Mapping) or not (
            isinstance(input_shape, (list, tuple))
            and all(isinstance(d, int) and not isinstance(d, bool) for d in input_shape)):
        raise UserError(f"{name}: refused: its parameters or input shape are malformed")
    if preset is not None and not isinstance(preset, str):
        raise UserError(f"{name}: refused: its preset is not a name")
    record = dict(imports) if isinstance(imports, Mapping) else {"files": {}, "links": []}
    try:
        return cnndsl.loads(source, params=dict(params),
                            input="x".join(str(d) for d in input_shape), name=name,
                            imports=record, preset=preset)
    except CnnError as e:
        first = render(e.diagnostics[0]) if e.diagnostics else ""
        raise UserError(f"{name}: refused: its network does not compile\n{first}",
                        help="the checkpoint was written by another version of cnndsl, or "
                        "altered") from None
