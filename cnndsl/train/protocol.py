"""What the trainer needs from a compiled network.

The trainer is written against this protocol, not against the compiler's classes, so it
depends on the backend's module only (DESIGN.md) and can be tested with a hand-written
stand-in. :class:`cnndsl.Network` satisfies it.

A network's ``bindings`` are the values its parameters were bound to (``--set``); a
stand-in written before they were called so has ``params`` instead, which
:func:`bindings_of` still reads for one release, with a ``DeprecationWarning``. A
checkpoint records them as ``bindings`` (and, for the cnndsl releases that read
``params``, under that key too); :func:`checkpoint_bindings` reads either.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from cnndsl.deprecation import warn

if TYPE_CHECKING:
    import torch

BindingValue = int | float | bool | str
ParamValue = BindingValue  # the old name


@runtime_checkable
class NetworkLike(Protocol):
    """A compiled network: its text, its parameters' bindings and a way to build it."""

    @property
    def name(self) -> str: ...

    @property
    def source(self) -> str: ...

    @property
    def path(self) -> str | None: ...

    @property
    def bindings(self) -> Mapping[str, BindingValue]: ...

    @property
    def input_shape(self) -> tuple[int, ...]: ...

    @property
    def num_classes(self) -> int | None: ...

    def to_torch(self) -> torch.nn.Module:
        """A fresh module whose forward returns logits of shape (B, num_classes)."""
        ...


def bindings_of(net: Any) -> dict[str, BindingValue]:
    """``net.bindings``; a stand-in's ``params`` where it has no ``bindings``
    (deprecated: warns).

    >>> class Old:
    ...     params = {"N": 2}
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     bindings_of(Old()), caught[0].category.__name__
    ({'N': 2}, 'DeprecationWarning')
    """
    bindings = getattr(net, "bindings", None)
    if bindings is None:
        bindings = getattr(net, "params", None)
        if bindings is not None:
            warn(f"a network's `params` ({type(net).__name__}.params)",
                 "`bindings` (the NetworkLike protocol)")
    return dict(bindings or {})


def checkpoint_bindings(ckpt: Mapping[str, Any]) -> Any:
    """The bindings a checkpoint records: ``bindings``, or ``params`` in a checkpoint
    written before they were called so."""
    return ckpt["bindings"] if "bindings" in ckpt else ckpt.get("params")


def rebuild(source: str, bindings: Mapping[str, BindingValue],
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
    if not isinstance(bindings, Mapping) or not (
            isinstance(input_shape, (list, tuple))
            and all(isinstance(d, int) and not isinstance(d, bool) for d in input_shape)):
        raise UserError(f"{name}: refused: its bindings or input shape are malformed")
    if preset is not None and not isinstance(preset, str):
        raise UserError(f"{name}: refused: its preset is not a name")
    record = dict(imports) if isinstance(imports, Mapping) else {"files": {}, "links": []}
    try:
        return cnndsl.loads(source, bindings=dict(bindings),
                            input="x".join(str(d) for d in input_shape), name=name,
                            imports=record, preset=preset)
    except CnnError as e:
        first = render(e.diagnostics[0]) if e.diagnostics else ""
        raise UserError(f"{name}: refused: its network does not compile\n{first}",
                        help="the checkpoint was written by another version of cnndsl, or "
                        "altered") from None
