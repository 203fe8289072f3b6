"""Convolutions: ``conv`` (grouped, depthwise, dilated) and its transpose ``deconv``.

Conventions (see docs/language.md and docs/cost.md): MACs count multiply-accumulates,
bias adds excluded (fvcore's and the slides' convention). Both emit through one helper,
which writes only the arguments that differ from PyTorch's defaults and declares the
ones it leaves out (``Ctor.defaults``: spelled out where a block's calls differ).
"""

from __future__ import annotations

from ..ir.graph import TensorType
from .common import (
    DILATION,
    KERNEL,
    PAD,
    STRIDE,
    four_sides,
    need_map,
    pair_value,
    resolve_pad,
    slide,
    stride_label,
    window_of,
)
from .ctor import Ctor, Value
from .readback import Unreadable, check_width, hw, zeros_only
from .registry import register
from .schema import Attr, Attrs, OpDef, Params, ShapeError, Types, Window

# Keywords the constructor leaves out at PyTorch's default (Ctor.defaults).
_CONV_DEFAULTS = (("stride", 1), ("padding", 0), ("dilation", 1), ("groups", 1))


def _torch_conv(cls: str, a: Attrs, ins: Types, pad: tuple[int, int],
                extra: tuple[tuple[str, Value], ...] = ()) -> Ctor:
    """``nn.Conv2d(...)`` or ``nn.ConvTranspose2d(...)``; ``pad`` is HxW, ``extra`` the
    keywords that follow the padding (a transpose's ``output_padding``)."""
    kw: list[tuple[str, Value]] = [("kernel_size", pair_value(a["kernel"]))]
    if a["stride"] != (1, 1):
        kw.append(("stride", pair_value(a["stride"])))
    if pad != (0, 0):
        kw.append(("padding", pair_value(pad)))
    kw.extend(extra)
    if a["dilation"] != (1, 1):
        kw.append(("dilation", pair_value(a["dilation"])))
    if a["groups"] != 1:
        kw.append(("groups", a["groups"]))
    if not a["bias"]:
        kw.append(("bias", False))
    return Ctor(f"nn.{cls}", (ins[0].channels, a["out"]), tuple(kw), _CONV_DEFAULTS)


# ---------------------------------------------------------------- convolution
def _conv_infer(a: Attrs, ins: Types) -> TensorType:
    t = ins[0]
    need_map("conv", t)
    g = a["groups"]
    if t.channels % g:
        raise ShapeError("E0303", f"{t.channels} input channels are not divisible by "
                         f"groups={g}", label=f"input is {t}",
                         help="choose groups dividing both channel counts")
    if a["out"] % g:
        raise ShapeError("E0303", f"{a['out']} output channels are not divisible by "
                         f"groups={g}", help="choose groups dividing both channel counts")
    h, w = slide("conv", a, t)
    return TensorType((a["out"], h, w))


def _conv_params(a: Attrs, ins: Types, out: TensorType) -> Params:
    kh, kw = a["kernel"]
    weights = a["out"] * (ins[0].channels // a["groups"]) * kh * kw
    return Params(weights, a["out"] if a["bias"] else 0)


def _conv_macs(a: Attrs, ins: Types, out: TensorType) -> int:
    kh, kw = a["kernel"]
    return out.numel * (ins[0].channels // a["groups"]) * kh * kw


def _conv_label(a: Attrs, out: TensorType) -> str:
    kh, kw = a["kernel"]
    g = a["groups"]
    kind = "conv"
    if g > 1:
        kind = "dw conv" if g == out.channels else f"conv g{g}"  # depthwise: a filter per map
    return f"{kh}x{kw} {kind}, {a['out']}{stride_label(a['stride'])}"


def _conv_module(a: Attrs, ins: Types, out: TensorType) -> Ctor:
    """Uneven padding ('same' with an even kernel) is left to :func:`_conv_call`."""
    t, b, lft, r = a["pad"]
    return _torch_conv("Conv2d", a, ins, (t, lft) if t == b and lft == r else (0, 0))


def _conv_call(a: Attrs, xs: list[str], m: str | None, ins: Types, out: TensorType) -> str:
    """Asymmetric padding ('same' with an even kernel) is applied explicitly, then the conv."""
    t, b, lft, r = a["pad"]
    if t == b and lft == r:
        return f"{m}({xs[0]})"
    return f"{m}(F.pad({xs[0]}, ({lft}, {r}, {t}, {b})))"


def _conv_from_torch(m, ins: Types) -> Attrs:
    """``nn.Conv2d``: PyTorch's 'same' (stride 1 only) is the language's; 'valid' is 0."""
    zeros_only(m, "conv")
    check_width(m, "in_channels", ins, "a convolution")
    pad = m.padding
    pad = {"same": "same", "valid": 0}[pad] if isinstance(pad, str) else hw(pad)
    return {"out": m.out_channels, "kernel": hw(m.kernel_size), "stride": hw(m.stride),
            "pad": pad, "dilation": hw(m.dilation), "groups": m.groups,
            "bias": m.bias is not None}


register(OpDef(
    name="conv", family="conv",
    doc="2-D convolution. A bare `conv` is 3x3, stride 1, padding (F-1)/2, with "
    "`channels` filters.",
    aliases=("convolution", "conv2d"),
    attrs=(
        Attr("out", "int", lambda ctx: ctx["channels"], min=1, doc="number of filters (K)"),
        KERNEL, STRIDE, PAD, DILATION,
        Attr("groups", "int", 1, min=1, doc="grouped convolution; in_c for depthwise"),
        Attr("bias", "bool", True, doc="add a learned bias per filter"),
    ),
    resolve=resolve_pad, infer=_conv_infer, params=_conv_params, macs=_conv_macs,
    macs_kind="conv", window=window_of, label=_conv_label, torch_module=_conv_module,
    torch_call=_conv_call, torch_classes=("torch.nn.Conv2d",), from_torch=_conv_from_torch,
    cost_note="MACs = output elements x (C_in/groups) x kh x kw; params = K x C_in/groups "
    "x kh x kw weights + K biases",
))


# ---------------------------------------------------------------- transposed convolution
def _deconv_infer(a: Attrs, ins: Types) -> TensorType:
    t = ins[0]
    need_map("deconv", t)
    g = a["groups"]
    if t.channels % g or a["out"] % g:
        raise ShapeError("E0303", f"channels ({t.channels} in, {a['out']} out) are not "
                         f"divisible by groups={g}", label=f"input is {t}")
    size = []
    for axis in (0, 1):
        n, k, s = t.dims[1 + axis], a["kernel"][axis], a["stride"][axis]
        p, op_, d = a["pad"][axis], a["output_pad"][axis], a["dilation"][axis]
        if op_ >= max(s, d):
            raise ShapeError("E0305", f"output_pad {op_} must be smaller than the stride "
                             f"{s} (or the dilation)", help="PyTorch's rule for transposed "
                             "convolutions")
        size.append((n - 1) * s - 2 * p + d * (k - 1) + op_ + 1)
    if min(size) <= 0:
        raise ShapeError("E0302", f"output size would be {min(size)}", label=f"input is {t}")
    return TensorType((a["out"], size[0], size[1]))


def _deconv_module(a: Attrs, ins: Types, out: TensorType) -> Ctor:
    extra = (("output_padding", pair_value(a["output_pad"])),) if a["output_pad"] != (0, 0) \
        else ()
    return _torch_conv("ConvTranspose2d", a, ins, a["pad"], extra)


def _deconv_from_torch(m, ins: Types) -> Attrs:
    zeros_only(m, "deconv")
    check_width(m, "in_channels", ins, "a transposed convolution")
    if isinstance(m.padding, str):
        raise Unreadable(f"padding={m.padding!r}: deconv pads by a number of pixels")
    return {"out": m.out_channels, "kernel": hw(m.kernel_size), "stride": hw(m.stride),
            "pad": hw(m.padding), "output_pad": hw(m.output_padding),
            "dilation": hw(m.dilation), "groups": m.groups, "bias": m.bias is not None}


register(OpDef(
    name="deconv", family="conv", aliases=("convtranspose", "conv_transpose", "upconv",
                                            "transposed_conv", "conv2dtranspose"),
    doc="Transposed convolution (learned upsampling, U-Net's up-conv): output "
    "(W-1)*S - 2P + D*(F-1) + output_pad + 1. A bare `deconv(c)` is 2x2, stride 2.",
    attrs=(
        Attr("out", "int", lambda ctx: ctx["channels"], min=1, doc="number of filters"),
        Attr("kernel", "pair", 2, min=1), Attr("stride", "pair", 2, min=1),
        Attr("pad", "pair", 0, min=0), Attr("output_pad", "pair", 0, min=0),
        Attr("dilation", "pair", 1, min=1), Attr("groups", "int", 1, min=1),
        Attr("bias", "bool", True),
    ),
    infer=_deconv_infer,
    params=lambda a, ins, out: Params(ins[0].channels * (a["out"] // a["groups"])
                                      * a["kernel"][0] * a["kernel"][1],
                                      a["out"] if a["bias"] else 0),
    macs=lambda a, ins, out: (ins[0].numel * (a["out"] // a["groups"])
                              * a["kernel"][0] * a["kernel"][1]),
    macs_kind="conv",
    # an upsampling factor, not a step: "x2" (the transpose of a conv's "/2")
    label=lambda a, o: f"{a['kernel'][0]}x{a['kernel'][1]} up-conv, {a['out']}"
    + (f", x{a['stride'][0]}" if a["stride"] != (1, 1) else ""),
    torch_module=_deconv_module,
    torch_classes=("torch.nn.ConvTranspose2d",), from_torch=_deconv_from_torch,
    transposed=lambda a: Window(a["kernel"], a["stride"], four_sides(a["pad"]),
                                a["dilation"]),
    cost_note="MACs = input elements x out/groups x kh x kw (each input pixel scatters "
    "through the kernel); params = C_in x out/groups x kh x kw + out",
))
