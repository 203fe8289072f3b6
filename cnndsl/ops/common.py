"""What the operator families share: the feature-map check, the padding resolver, the
window geometry of convolutions and pools, the attribute declarations they have in
common, the text of labels and the values of PyTorch arguments.

The arithmetic itself (output size, fit, 'same' padding) is :mod:`cnndsl.ops.window`;
this module turns an operator's attributes into it, and its failures into ShapeErrors.

>>> resolve_pad({"kernel": (3, 3), "stride": (2, 2), "pad": "auto"}, [])["pad"]
(1, 1, 1, 1)
>>> pair((2, 2)), pair((2, 1)), stride_label((2, 2)), stride_label((2, 1))
('2', '(2, 1)', ', /2', ', /2x1')
>>> pair_value((2, 2)), pair_value((2, 1))
(2, (2, 1))
"""

from __future__ import annotations

from collections.abc import Callable

from ..ir.graph import TensorType
from . import window as win
from .schema import Attr, Attrs, ShapeError, Types, Window

KERNEL = Attr("kernel", "pair", 3, min=1, doc="window size, an int or HxW")
STRIDE = Attr("stride", "pair", 1, min=1, doc="step, an int or HxW")
DILATION = Attr("dilation", "pair", 1, min=1, doc="spacing between kernel taps")
PAD = Attr("pad", "pad", "auto", min=0,
           doc="zero padding: int, HxW, 'auto' ((F-1)/2 on each side), 'same' "
           "(TensorFlow's: output = ceil(input/stride), the odd pixel after), 'valid' (0)")


# ---------------------------------------------------------------- shape rules
def need_map(op: str, t: TensorType) -> None:
    if not t.is_map:
        raise ShapeError("E0304", f"{op} needs a feature map (CxHxW) but its input is a "
                         f"vector of {t}", help="put it before the first fully connected "
                         "layer, or remove it")


def same(a: Attrs, ins: Types) -> TensorType:
    """The shape rule of an operator that keeps its input's shape."""
    return ins[0]


def grouped_channels(op: str) -> Callable[[Attrs, Types], TensorType]:
    """The shape rule of a same-shape op over channel groups (group norm, shuffle)."""
    def infer(a: Attrs, ins: Types) -> TensorType:
        t = ins[0]
        need_map(op, t)
        if t.channels % a["groups"]:
            raise ShapeError("E0303", f"{t.channels} channels are not divisible by "
                             f"groups={a['groups']}", label=f"input is {t}")
        return t
    return infer


# ---------------------------------------------------------------- padding and windows
def four_sides(pad):
    """An int or HxW padding as (top, bottom, left, right); anything else as it is."""
    if isinstance(pad, int):
        return (pad, pad, pad, pad)
    if isinstance(pad, tuple) and len(pad) == 2:
        return (pad[0], pad[0], pad[1], pad[1])
    return pad


def resolve_pad(a: Attrs, ins: Types) -> Attrs:
    """Turn ``pad`` (int, HxW, 'auto', 'same', 'valid') into (top, bottom, left, right)."""
    a = dict(a)
    (kh, kw), (sh, sw), (dh, dw) = a["kernel"], a["stride"], a.get("dilation", (1, 1))
    pad = a["pad"]
    if pad == "valid":
        pad = (0, 0, 0, 0)
    elif pad == "auto":
        ph, pw = dh * (kh - 1) // 2, dw * (kw - 1) // 2
        pad = (ph, ph, pw, pw)
    elif pad == "same":
        if not ins[0].is_map:
            pad = (0, 0, 0, 0)
        else:
            t, b = win.same_padding(ins[0].dims[1], kh, sh, dh)
            lft, r = win.same_padding(ins[0].dims[2], kw, sw, dw)
            pad = (t, b, lft, r)
    a["pad"] = four_sides(pad)
    return a


def window_of(a: Attrs) -> Window:
    """The sliding window of a convolution or a pool, from its resolved attributes."""
    return Window(a["kernel"], a["stride"], a["pad"], a.get("dilation", (1, 1)),
                  bool(a.get("ceil_mode", False)))


def slide(op: str, a: Attrs, t: TensorType) -> tuple[int, int]:
    """Output H, W of a window op, with errors for impossible geometry."""
    w = window_of(a)
    out = []
    for axis, n in ((0, t.dims[1]), (1, t.dims[2])):
        k, s, d = w.kernel[axis], w.stride[axis], w.dilation[axis]
        p0, p1 = w.pad[2 * axis], w.pad[2 * axis + 1]
        extent = win.span(k, d)
        if extent > n + p0 + p1:
            what = f"{k}x{k}" if w.kernel[0] == w.kernel[1] else f"{w.kernel[0]}x{w.kernel[1]}"
            raise ShapeError(
                "E0301",
                f"{what} window is larger than its {'padded ' if p0 + p1 else ''}input "
                f"({n + p0 + p1} {'rows' if axis == 0 else 'columns'})",
                label=f"input is {t}",
                help="use a smaller kernel, add padding, or remove a downsampling layer "
                "before this one")
        f = win.fit(n, k, s, p0, p1, d, w.ceil_mode)
        if f.size <= 0:
            raise ShapeError("E0302", f"output size would be {f.size}", label=f"input is {t}")
        out.append(f.size)
    return out[0], out[1]


# ---------------------------------------------------------------- text
def pair(v) -> str:
    """An HxW value as PyTorch takes it: ``2`` for (2, 2), ``(2, 1)`` otherwise."""
    return str(v[0]) if v[0] == v[1] else f"({v[0]}, {v[1]})"


def pair_value(v: tuple[int, int]) -> int | tuple[int, int]:
    """An HxW value as a PyTorch argument: ``2`` for (2, 2), ``(2, 1)`` otherwise."""
    return v[0] if v[0] == v[1] else (v[0], v[1])


def pad_text(a: Attrs) -> str:
    t, b, lft, r = a["pad"]
    if t == b and lft == r:
        return pair((t, lft))
    return repr((t, b, lft, r))


def _hxw(v) -> str:
    return f"{v[0]}x{v[1]}"


def stride_label(s: tuple[int, int], uneven: Callable[[tuple], str] = _hxw) -> str:
    """A diagram label's stride: nothing for 1, ``, /2`` for 2 on both axes (the slides'
    ``7x7/2``), ``uneven(s)`` after the slash otherwise (``2x1``; pools print
    :func:`pair`'s ``(2, 1)``)."""
    if s == (1, 1):
        return ""
    return f", /{s[0]}" if s[0] == s[1] else f", /{uneven(s)}"
