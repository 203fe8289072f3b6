"""Pooling: max and average windows, global pools, adaptive average pooling.

Conventions (see docs/cost.md): max and average windows cost no MACs; global and
adaptive average pools count 1 per input element (fvcore's count), kind `pool`. The
window arithmetic is the convolutions' (:mod:`cnndsl.ops.common`).
"""

from __future__ import annotations

from ..ir.graph import TensorType
from .common import (
    need_map,
    pad_text,
    pair,
    pair_value,
    resolve_pad,
    slide,
    stride_label,
    window_of,
)
from .ctor import Ctor, Value
from .readback import Unreadable, flag, hw
from .registry import register
from .schema import REQUIRED, Attr, Attrs, OpDef, ShapeError, Types


# ---------------------------------------------------------------- windows
def _pool_resolve(a: Attrs, ins: Types) -> Attrs:
    a = dict(a)
    if a.get("stride") is None:
        a["stride"] = a["kernel"]
    a.setdefault("dilation", (1, 1))
    return resolve_pad(a, ins)


def _pool_infer(kind: str):
    def infer(a: Attrs, ins: Types) -> TensorType:
        t = ins[0]
        need_map(f"{kind} pool", t)
        top, bottom, left, right = a["pad"]
        kh, kw = a["kernel"]
        if top != bottom or left != right:
            raise ShapeError("E0305", "pooling supports symmetric padding only",
                             help="give pad as an int or HxW")
        if 2 * top > kh or 2 * left > kw:
            raise ShapeError("E0305", f"pooling padding {pad_text(a)} is more than half "
                             f"the {kh}x{kw} window", help="PyTorch allows at most "
                             "kernel/2 padding in pools")
        h, w = slide(f"{kind} pool", a, t)
        return TensorType((t.channels, h, w))
    return infer


def _pool_label(kind: str):
    def label(a: Attrs, out: TensorType) -> str:
        k, s = a["kernel"], a["stride"]  # an uneven stride reads /(2, 1) here, /2x1 on convs
        return f"{k[0]}x{k[1]} {kind} pool{stride_label(s, pair)}"
    return label


def _pool_module(cls: str):
    def module(a: Attrs, ins: Types, out: TensorType) -> Ctor:
        kw: list[tuple[str, Value]] = [("kernel_size", pair_value(a["kernel"]))]
        if a["stride"] != a["kernel"]:
            kw.append(("stride", pair_value(a["stride"])))
        t, _, lft, _ = a["pad"]
        if t or lft:
            kw.append(("padding", pair_value((t, lft))))
        if a.get("ceil_mode"):
            kw.append(("ceil_mode", True))
        if cls == "AvgPool2d" and not a.get("count_include_pad", True):
            kw.append(("count_include_pad", False))
        return Ctor(f"nn.{cls}", kwargs=tuple(kw))
    return module


def _pool_from_torch(kind: str):
    def read(m, ins: Types) -> Attrs:
        if isinstance(m.padding, str):
            raise Unreadable(f"padding={m.padding!r}: pools pad by a number of pixels")
        if kind == "max":
            if hw(m.dilation) != (1, 1):
                raise Unreadable(f"dilation={m.dilation}: max pooling has no dilation")
            flag(m, "return_indices", False, "the indices are a second output")
        else:
            flag(m, "divisor_override", None, "average pooling divides by the window")
        a = {"kernel": hw(m.kernel_size),
             "stride": hw(m.stride if m.stride not in (None, (), []) else m.kernel_size),
             "pad": hw(m.padding), "ceil_mode": bool(m.ceil_mode)}
        if kind == "avg":
            a["count_include_pad"] = bool(m.count_include_pad)
        return a
    return read


_POOL_ATTRS = (
    Attr("kernel", "pair", 2, min=1, doc="window size"),
    Attr("stride", "pair", None, min=1, doc="step (default: the kernel size)"),
    Attr("pad", "pad", 0, min=0, doc="padding on each side (int or HxW; 'same')"),
    Attr("ceil_mode", "bool", False, doc="round the output size up, as Caffe did"),
)

register(OpDef(
    name="maxpool", family="pool", aliases=("pool", "max_pool", "maxpool2d", "maxpooling2d"),
    doc="Max pooling. A bare `pool` is 2x2, stride 2 (the slides' common setting).",
    attrs=_POOL_ATTRS, resolve=_pool_resolve, infer=_pool_infer("max"), window=window_of,
    label=_pool_label("max"), torch_module=_pool_module("MaxPool2d"), macs_kind="pool",
    torch_classes=("torch.nn.MaxPool2d",), from_torch=_pool_from_torch("max"),
    cost_note="no parameters, no MACs (comparisons only)",
))
register(OpDef(
    name="avgpool", family="pool", aliases=("avg_pool", "avgpool2d", "averagepooling2d"),
    doc="Average pooling; padding counts as zeros unless count_include_pad=false.",
    attrs=_POOL_ATTRS + (Attr("count_include_pad", "bool", True,
                              doc="average over the padded window, as PyTorch does"),),
    resolve=_pool_resolve, infer=_pool_infer("avg"), window=window_of,
    label=_pool_label("avg"), torch_module=_pool_module("AvgPool2d"), macs_kind="pool",
    torch_classes=("torch.nn.AvgPool2d",), from_torch=_pool_from_torch("avg"),
    cost_note="no parameters, no MACs (additions only)",
))


# ---------------------------------------------------------------- global and adaptive pooling
def _global_infer(a: Attrs, ins: Types) -> TensorType:
    need_map("global pooling", ins[0])
    return TensorType((ins[0].channels,))


register(OpDef(
    name="gap", family="pool", aliases=("globalavgpool", "global_avg_pool", "avgpool_global", "globalaveragepooling2d",
                                          "adaptiveavgpool1", "gavgpool"),
    doc="Global average pooling: CxHxW to a vector of C (GoogLeNet, ResNet).",
    infer=_global_infer, label=lambda a, o: "global avg pool", macs_kind="pool",
    macs=lambda a, ins, out: ins[0].numel,
    torch_module=lambda a, ins, out: Ctor("nn.Sequential", (Ctor("nn.AdaptiveAvgPool2d", (1,)),
                                                            Ctor("nn.Flatten"))),
    cost_note="no parameters; MACs = input elements (one accumulate each, fvcore's "
    "count for adaptive average pooling), kind `pool`, outside the conv+linear total",
))
def _one_by_one(m, ins: Types) -> Attrs:
    """``nn.AdaptiveMaxPool2d(1)``: global max pooling, its map of 1x1 read as the
    vector it is (the import drops the flatten that follows)."""
    if _adaptive_size(m.output_size, ins) != (1, 1):
        raise Unreadable(f"output_size={m.output_size}: adaptive max pooling is global "
                         "(1x1) only")
    return {}


register(OpDef(
    name="gmp", family="pool", aliases=("globalmaxpool", "global_max_pool", "globalmaxpooling2d"),
    doc="Global max pooling: CxHxW to a vector of C.",
    infer=_global_infer, label=lambda a, o: "global max pool", macs_kind="pool",
    cost_note="no parameters, no MACs (comparisons only)",
    torch_classes=("torch.nn.AdaptiveMaxPool2d",), from_torch=_one_by_one,
    torch_module=lambda a, ins, out: Ctor("nn.Sequential", (Ctor("nn.AdaptiveMaxPool2d", (1,)),
                                                            Ctor("nn.Flatten"))),
))


def _adaptive_size(size, ins: Types) -> tuple[int, int]:
    """PyTorch's output_size (an int, or HxW where None keeps the input's size)."""
    h, w = size if isinstance(size, (tuple, list)) else (size, size)
    dims = ins[0].dims if ins and ins[0].is_map else (None, None, None)
    return (dims[1] if h is None else int(h), dims[2] if w is None else int(w))


def _adaptive_infer(a: Attrs, ins: Types) -> TensorType:
    need_map("adaptive pooling", ins[0])
    h, w = a["size"]
    return TensorType((ins[0].channels, h, w))


register(OpDef(
    name="adaptiveavgpool", family="pool", aliases=("adaptive_avg_pool", "adaptivepool"),
    doc="Adaptive average pooling to a fixed HxW (torchvision's AlexNet and VGG heads).",
    attrs=(Attr("size", "pair", REQUIRED, min=1, doc="output HxW"),),
    infer=_adaptive_infer, label=lambda a, o: f"adaptive avg pool {a['size'][0]}x{a['size'][1]}",
    macs_kind="pool", macs=lambda a, ins, out: ins[0].numel,
    cost_note="no parameters; MACs = input elements (fvcore's count), kind `pool`, "
    "outside the conv+linear total",
    torch_module=lambda a, ins, out: Ctor("nn.AdaptiveAvgPool2d", (pair_value(a["size"]),)),
    torch_classes=("torch.nn.AdaptiveAvgPool2d",),
    from_torch=lambda m, ins: {"size": _adaptive_size(m.output_size, ins)},
))
