"""Reading a PyTorch module's settings back as an operator's attributes: what the
operators' ``from_torch`` functions share (see :attr:`cnndsl.ops.OpDef.from_torch`).

They read modules with getattr only, so this needs no torch: a module is any object
with the attributes PyTorch gives it.

>>> hw(3), hw((2, 1)), hw([1, 1])
((3, 3), (2, 1), (1, 1))
>>> class Conv:
...     padding_mode = "reflect"
>>> zeros_only(Conv(), "conv")
Traceback (most recent call last):
...
cnndsl.ops.readback.Unreadable: padding_mode='reflect': conv pads with zeros only
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .schema import Types


class Unreadable(ValueError):
    """A module setting the operator cannot express; the message says which."""


def hw(v: Any) -> tuple[int, int]:
    """An int or a two-element sequence as an HxW pair."""
    if isinstance(v, Sequence) and not isinstance(v, str):
        if len(v) != 2:
            raise Unreadable(f"{tuple(v)} is not an HxW pair")
        return (int(v[0]), int(v[1]))
    return (int(v), int(v))


def zeros_only(m: Any, op: str) -> None:
    """Windows pad with zeros: any other padding mode is another network."""
    mode = getattr(m, "padding_mode", "zeros")
    if mode != "zeros":
        raise Unreadable(f"padding_mode={mode!r}: {op} pads with zeros only")


def features(ins: Types) -> int:
    """The channels of a map, the length of a vector."""
    return ins[0].dims[0]


def check_width(m: Any, field: str, ins: Types, what: str) -> int:
    """The module's width ``field`` (``num_features``), checked against the input's."""
    n = getattr(m, field)
    if ins and n != features(ins):
        raise Unreadable(f"{what} of {n} on an input of {features(ins)}")
    return n


def flag(m: Any, field: str, want: Any, message: str) -> None:
    """Refuse a module whose ``field`` is not ``want``."""
    got = getattr(m, field, want)
    if got != want:
        raise Unreadable(f"{field}={got!r}: {message}")


def same_value(tensor: Any, default: float) -> float:
    """The value every element of ``tensor`` holds (a freshly initialized scale), else
    ``default``: how an initial value that training has moved is read."""
    values = set(tensor.detach().reshape(-1).tolist())
    return float(values.pop()) if len(values) == 1 else default
