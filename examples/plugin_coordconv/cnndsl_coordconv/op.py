"""The ``coordconv`` operator: one definition of every rule cnndsl asks of it.

The shape, window and padding rules are the built-in conv's, on an input with two more
channels; the counts follow: weights ``out x (C + 2) x kh x kw`` (+ ``out`` biases),
MACs ``output elements x (C + 2) x kh x kw``. The emission builds
:class:`cnndsl_coordconv.modules.CoordConv`, which the generated file imports (the
operator declares the import in ``torch_imports``; cnndsl's allow-list admits exactly
that). The emission is a :class:`cnndsl.ops.Ctor` value, not text: attribute values
reach the file only as the numbers cnndsl checked, written by cnndsl. Its inverse,
``from_torch``, reads a ``CoordConv`` module back (``cnndsl.from_torch`` of a model
holding one): the attributes from its inner conv, which sees two channels more.
"""

from __future__ import annotations

from cnndsl import ops
from cnndsl.ir.graph import TensorType
from cnndsl.ops import Attr, Ctor, OpDef, Params, ShapeError

Attrs = dict


def _conv() -> OpDef:
    return ops.get("conv")  # asked when used: the built-in rules, whatever their module


def _widened(t: TensorType) -> TensorType:
    if not t.is_map:
        raise ShapeError("E0304", f"coordconv needs a feature map (CxHxW) but its input is "
                         f"a vector of {t}", help="put it before the first fully connected "
                         "layer")
    return TensorType((t.channels + 2,) + t.dims[1:])


def _as_conv(a: Attrs) -> Attrs:
    return {**a, "groups": 1}


def _infer(a: Attrs, ins: list[TensorType]) -> TensorType:
    t, b, left, r = a["pad"]
    if t != b or left != r:  # 'same' with an even kernel: CoordConv pads evenly
        raise ShapeError("E0305", "coordconv supports symmetric padding only",
                         help="use an odd kernel with pad='same', or give pad as an int "
                         "or HxW")
    return _conv().infer(_as_conv(a), [_widened(ins[0])])


def _resolve(a: Attrs, ins: list[TensorType]) -> Attrs:
    out = _conv().resolve(_as_conv(a), ins)
    out.pop("groups", None)
    return out


def _params(a: Attrs, ins: list[TensorType], out: TensorType) -> Params:
    kh, kw = a["kernel"]
    return Params(a["out"] * (ins[0].channels + 2) * kh * kw, a["out"] if a["bias"] else 0)


def _macs(a: Attrs, ins: list[TensorType], out: TensorType) -> int:
    kh, kw = a["kernel"]
    return out.numel * (ins[0].channels + 2) * kh * kw


def _label(a: Attrs, out: TensorType) -> str:
    (kh, kw), s = a["kernel"], a["stride"]
    stride = "" if s == (1, 1) else f", /{s[0]}" if s[0] == s[1] else f", /{s[0]}x{s[1]}"
    return f"{kh}x{kw} coordconv, {a['out']}{stride}"


def _pair(v: tuple[int, int]) -> int | tuple[int, int]:
    return v[0] if v[0] == v[1] else (v[0], v[1])


def _module(a: Attrs, ins: list[TensorType], out: TensorType) -> Ctor:
    """``CoordConv(C, K, kernel_size=k, ...)`` (the padding is symmetric: see _infer), as
    a value: cnndsl writes it, and compares the numbers of a block's calls to give them
    one class (``CoordConv(c, 2 * c, ...)``)."""
    t, b, left, r = a["pad"]
    kw = [("kernel_size", _pair(a["kernel"]))]
    if a["stride"] != (1, 1):
        kw.append(("stride", _pair(a["stride"])))
    if t or left:
        kw.append(("padding", _pair((t, left))))
    if a["dilation"] != (1, 1):
        kw.append(("dilation", _pair(a["dilation"])))
    if not a["bias"]:
        kw.append(("bias", False))
    return Ctor("CoordConv", (ins[0].channels, a["out"]), tuple(kw))


def _from_torch(m, ins: list[TensorType]) -> Attrs:
    """A :class:`cnndsl_coordconv.modules.CoordConv` as the operator's attributes (read
    with getattr: no torch here). Raises ValueError for what coordconv cannot say."""
    conv = m.conv
    if conv.groups != 1 or conv.padding_mode != "zeros" or isinstance(conv.padding, str):
        raise ValueError("coordconv is an ungrouped conv with zero padding by a number")
    if ins and conv.in_channels != ins[0].channels + 2:
        raise ValueError(f"a conv over {conv.in_channels} channels on a {ins[0]} input")
    return {"out": conv.out_channels, "kernel": tuple(conv.kernel_size),
            "stride": tuple(conv.stride), "pad": tuple(conv.padding),
            "dilation": tuple(conv.dilation), "bias": conv.bias is not None}


def _window(a: Attrs):
    return _conv().window(_as_conv(a))


COORDCONV = OpDef(
    name="coordconv", family="conv", aliases=("coord_conv",),
    doc="CoordConv (Liu et al. 2018): the input plus two coordinate channels (x, then y, "
    "each from -1 to 1), then a 2-D convolution. Arguments as conv's (no groups).",
    attrs=(
        Attr("out", "int", lambda ctx: ctx["channels"], min=1, doc="number of filters (K)"),
        Attr("kernel", "pair", 3, min=1, doc="window size, an int or HxW"),
        Attr("stride", "pair", 1, min=1, doc="step, an int or HxW"),
        Attr("pad", "pad", "auto", min=0, doc="zero padding, as conv's"),
        Attr("dilation", "pair", 1, min=1, doc="spacing between kernel taps"),
        Attr("bias", "bool", True, doc="add a learned bias per filter"),
    ),
    resolve=_resolve, infer=_infer, params=_params, macs=_macs, macs_kind="conv",
    window=_window, label=_label, torch_module=_module,
    torch_imports=(("cnndsl_coordconv.modules", "CoordConv"),),
    torch_classes=("cnndsl_coordconv.modules.CoordConv",), from_torch=_from_torch,
    cost_note="params = K x (C_in + 2) x kh x kw + K biases; MACs = output elements x "
    "(C_in + 2) x kh x kw (the coordinate channels are made, not learned)",
)


def operators() -> list[OpDef]:
    """The ``cnndsl.ops`` entry point: the operators to register."""
    return [COORDCONV]
