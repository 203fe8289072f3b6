"""Block calls as a reader wants them: defaults dropped, optional arguments by name.

The elaborator records every parameter of a call on its frame
(:class:`~cnndsl.ir.graph.Argument`: the value, how the call passed it, the signature's
default). A diagram shows the required parameters by position and the others by name
where they differ from their defaults: with ``block basic(c, stride=1)``, the call
``basic(128, 2)`` reads ``basic(128, stride=2)`` and ``basic(64, 1)`` reads ``basic(64)``.
A built-in's call (``aux(...)``) has no signature and shows as written.

>>> from cnndsl.ir.graph import Argument, Frame
>>> def basic(stride: str, given: str = "positional") -> Frame:
...     args = (Argument("c", "128"), Argument("stride", stride, given, "1"))
...     return Frame("basic1", "basic", f"basic(128, {stride})", arguments=args)
>>> label(basic("2")), label(basic("1")), label(basic("1", "default"))
('basic(128, stride=2)', 'basic(128)', 'basic(128)')
>>> extends(basic("2"), basic("1", "default")), extends(basic("1"), basic("2"))
(True, False)
"""

from __future__ import annotations

from ..ir.graph import Frame


def label(frame: Frame) -> str:
    """The call as a diagram shows it; as written where the frame has no arguments (a
    built-in's, or an IR from before they were recorded)."""
    shown = _shown(frame)
    if shown is None:
        return frame.call
    positional, keyword = shown
    parts = positional + [f"{k}={v}" for k, v in keyword.items()]
    return f"{frame.block}({', '.join(parts)})" if parts else frame.block


def extends(first: Frame, other: Frame) -> bool:
    """``first`` shows ``other``'s arguments and maybe more: ``basic(128, stride=2)``
    extends ``basic(128)``; ``b(8, act=tanh)`` does not extend ``b(8, act=gelu)``. Never
    where the arguments are unknown."""
    a, b = _shown(first), _shown(other)
    if a is None or b is None:
        return False
    (p1, k1), (p2, k2) = a, b
    return p1[: len(p2)] == p2 and all(k1.get(k) == v for k, v in k2.items())


def _shown(frame: Frame) -> tuple[list[str], dict[str, str]] | None:
    """The arguments a diagram shows: the required ones up to the first optional one by
    position, then the rest passed with a value other than the default's text, by name."""
    if frame.arguments is None:
        return None
    positional: list[str] = []
    keyword: dict[str, str] = {}
    optional = False
    for a in frame.arguments:
        if a.default is None and not optional:
            positional.append(a.value)
            continue
        optional = True
        if a.given != "default" and (a.default is None or a.value != a.default):
            keyword[a.name] = a.value
    return positional, keyword
