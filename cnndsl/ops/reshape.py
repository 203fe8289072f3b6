"""Reshaping and regularization: the input, identity, channel shuffle, zero padding,
upsampling, the zero-padded residual shortcut; dropout, drop path, a constant scale
and a learned position bias. None has MACs except upsampling (fvcore's count, `resize`).
"""

from __future__ import annotations

from ..ir.graph import TensorType
from .common import four_sides, grouped_channels, need_map, same
from .ctor import Ctor
from .readback import Unreadable, flag
from .registry import register
from .schema import REQUIRED, Attr, Attrs, OpDef, Params, ShapeError, Types, Window

# ---------------------------------------------------------------- input and identity
register(OpDef(
    name="identity", family="reshape", aliases=("id", "skip", "noop"),
    doc="Passes its input through (a branch of a merge, or a placeholder).",
    infer=same, label=lambda a, o: "identity",
    cost_note="no parameters, no MACs; returns its input",
    torch_module=lambda a, ins, out: None, torch_call=lambda a, xs, m, ins, out: xs[0],
    torch_classes=("torch.nn.Identity",), from_torch=lambda m, ins: {},
))

register(OpDef(
    name="input", family="io", doc="The network's input.",
    attrs=(Attr("shape", "str", REQUIRED),),
    infer=lambda a, ins: TensorType.parse(a["shape"]), label=lambda a, o: f"input {o}",
    cost_note="no parameters, no MACs; its elements count in the activation total",
))


# ---------------------------------------------------------------- channels and space
register(OpDef(
    name="shuffle", family="reshape", aliases=("channel_shuffle", "channelshuffle"),
    doc="ShuffleNet's channel shuffle: interleave the channels of `groups` groups.",
    attrs=(Attr("groups", "int", 2, min=1),),
    infer=grouped_channels("shuffle"), label=lambda a, o: f"channel shuffle /{a['groups']}",
    torch_module=lambda a, ins, out: Ctor("nn.ChannelShuffle", (a["groups"],)),
    torch_classes=("torch.nn.ChannelShuffle",), from_torch=lambda m, ins: {"groups": m.groups},
    cost_note="no parameters, no MACs (a permutation)",
))


def _zeropad_infer(a: Attrs, ins: Types) -> TensorType:
    t = ins[0]
    need_map("zeropad", t)
    top, bottom, left, right = a["pad"]
    return TensorType((t.channels, t.dims[1] + top + bottom, t.dims[2] + left + right))


def _zeropad_resolve(a: Attrs, ins: Types) -> Attrs:
    if isinstance(a["pad"], str):  # the pad kind's modes belong to windows
        raise ShapeError("E0105", f"zeropad pads by a number of pixels, not `{a['pad']}`",
                         help="zeropad(1), zeropad(1x2) (rows x columns) or zeropad(1x1x0x2) "
                         "(top x bottom x left x right)")
    return {**a, "pad": four_sides(a["pad"])}


def _zeropad_from_torch(m, ins: Types) -> Attrs:
    """``nn.ZeroPad2d`` (or a constant pad of zeros): PyTorch's (left, right, top,
    bottom) as the language's top x bottom x left x right."""
    if getattr(m, "value", 0.0) != 0.0:
        raise Unreadable(f"pads with {m.value:g}: zeropad pads with zeros")
    left, right, top, bottom = m.padding
    return {"pad": (top, bottom, left, right)}


register(OpDef(
    name="zeropad", family="resize", aliases=("zero_pad", "pad2d", "zeropadding2d"),
    doc="Zero padding around the map: P, PhxPw, or top x bottom x left x right.",
    attrs=(Attr("pad", "pad", 1, min=0),),
    resolve=_zeropad_resolve, infer=_zeropad_infer, label=lambda a, o: "zero pad",
    window=lambda a: Window((1, 1), (1, 1), a["pad"]),
    torch_module=lambda a, ins, out: Ctor("nn.ZeroPad2d", ((a["pad"][2], a["pad"][3],
                                                            a["pad"][0], a["pad"][1]),)),
    torch_classes=("torch.nn.ZeroPad2d", "torch.nn.ConstantPad2d"),
    from_torch=_zeropad_from_torch,
    cost_note="no parameters, no MACs (a copy)",
))


def _upsample_infer(a: Attrs, ins: Types) -> TensorType:
    t = ins[0]
    need_map("upsample", t)
    s = a["scale"]
    return TensorType((t.channels, t.dims[1] * s, t.dims[2] * s))


def _upsample_from_torch(m, ins: Types) -> Attrs:
    """``nn.Upsample`` by one integer factor, nearest or bilinear without aligned corners."""
    mode = m.mode
    if mode not in ("nearest", "bilinear"):
        raise Unreadable(f"mode={mode!r}: upsample is nearest or bilinear")
    if mode == "bilinear" and m.align_corners:
        raise Unreadable("align_corners=True: bilinear upsampling here aligns pixel centres")
    if m.size is not None:
        size = m.size if isinstance(m.size, (tuple, list)) else (m.size, m.size)
        h, w = ins[0].dims[1:] if ins and ins[0].is_map else (0, 0)
        factors = {size[0] / h, size[1] / w} if h and w else {None}
    else:
        f = m.scale_factor
        factors = set(f) if isinstance(f, (tuple, list)) else {f}
    factor = factors.pop() if len(factors) == 1 else None
    if factor is None or float(factor) != int(factor) or factor < 1:
        raise Unreadable("upsample scales both axes by one whole factor")
    return {"scale": int(factor), "mode": mode}


register(OpDef(
    name="upsample", family="resize", aliases=("upsampling", "interpolate", "unpool", "upsampling2d"),
    doc="Upsampling by an integer factor, nearest or bilinear (no parameters).",
    attrs=(Attr("scale", "int", 2, min=1, doc="the factor on height and width"),
           Attr("mode", "str", "nearest", choices=("nearest", "bilinear"))),
    infer=_upsample_infer, label=lambda a, o: f"upsample x{a['scale']}",
    # fvcore's count: 1 per output element (nearest), 4 (bilinear: four taps)
    macs=lambda a, ins, out: out.numel * (1 if a["mode"] == "nearest" else 4),
    macs_kind="resize",
    # nearest: each input pixel scattered over f x f; bilinear: over 2f x 2f, centred
    transposed=lambda a: (Window((a["scale"],) * 2, (a["scale"],) * 2, (0, 0, 0, 0))
                          if a["mode"] == "nearest" else
                          Window((2 * a["scale"],) * 2, (a["scale"],) * 2,
                                 (a["scale"] / 2,) * 4)),
    torch_module=lambda a, ins, out: Ctor("nn.Upsample", kwargs=(
        ("scale_factor", a["scale"]), ("mode", a["mode"]))
        + ((("align_corners", False),) if a["mode"] == "bilinear" else ())),
    torch_classes=("torch.nn.Upsample", "torch.nn.UpsamplingNearest2d",
                   "torch.nn.UpsamplingBilinear2d"),
    from_torch=_upsample_from_torch,
    cost_note="no parameters; MACs apart as `resize`, fvcore's count: 1 per output element "
    "(nearest) or 4 (bilinear)",
))


def _shortcut_pad_infer(a: Attrs, ins: Types) -> TensorType:
    t = ins[0]
    need_map("shortcut_pad", t)
    sh, sw = a["stride"]
    return TensorType((a["out"], -(-t.dims[1] // sh), -(-t.dims[2] // sw)))


def _shortcut_pad_call(a: Attrs, xs: list[str], m, ins: Types, out: TensorType) -> str:
    sh, sw = a["stride"]
    extra = a["out"] - ins[0].channels
    before, after = extra // 2, extra - extra // 2
    sub = xs[0] if (sh, sw) == (1, 1) else f"{xs[0]}[:, :, ::{sh}, ::{sw}]"
    return f"F.pad({sub}, (0, 0, 0, 0, {before}, {after}))"


register(OpDef(
    name="shortcut_pad", family="reshape",
    doc="He et al.'s option A shortcut: subsample by the stride, zero-pad the new channels "
    "(half before, half after). No parameters.",
    attrs=(Attr("out", "int", REQUIRED, min=1), Attr("stride", "pair", 1, min=1)),
    infer=_shortcut_pad_infer, label=lambda a, o: "zero-pad shortcut",
    window=lambda a: Window((1, 1), a["stride"], (0, 0, 0, 0)),  # a strided 1x1 subsample
    cost_note="no parameters, no MACs (a strided copy with zero channels)",
    torch_module=lambda a, ins, out: None, torch_call=_shortcut_pad_call,
))


# ---------------------------------------------------------------- regularization and scaling
register(OpDef(
    name="dropout", family="reg", aliases=("drop",),
    doc="Dropout with probability p (identity at evaluation).",
    attrs=(Attr("p", "float", 0.5, min=0, max=1),),
    infer=same, label=lambda a, o: f"dropout {a['p']}",
    cost_note="no parameters, no MACs; identity at inference (no new activation memory)",
    torch_module=lambda a, ins, out: Ctor("nn.Dropout", kwargs=(("p", a["p"]),)),
    torch_classes=("torch.nn.Dropout",), from_torch=lambda m, ins: {"p": m.p},
))

_DROP_PATH = '''
class DropPath(nn.Module):
    """Stochastic depth: drop a sample's branch with probability p while training."""

    def __init__(self, p: float):
        super().__init__()
        self.p = p
        self.keep = 1.0 - p

    def forward(self, x):
        if not self.training or self.p == 0.0:
            return x
        if self.keep == 0.0:
            return torch.zeros_like(x)
        mask = x.new_empty([x.shape[0]] + [1] * (x.dim() - 1)).bernoulli_(self.keep)
        return x * mask / self.keep

    def extra_repr(self) -> str:
        return f"p={self.p}"
'''


def _droppath_from_torch(m, ins: Types) -> Attrs:
    """The emission's DropPath, torchvision's StochasticDepth (per sample: mode 'row'),
    timm's DropPath (scaling the survivors)."""
    flag(m, "mode", "row", "drop path here drops each sample's branch on its own")
    flag(m, "scale_by_keep", True, "drop path here scales the kept branches by 1/(1-p)")
    p = getattr(m, "p", getattr(m, "drop_prob", None))
    if not isinstance(p, (int, float)):
        raise Unreadable("no drop probability (p or drop_prob)")
    return {"p": p}


register(OpDef(
    name="droppath", family="reg", aliases=("drop_path", "stochasticdepth", "stochastic_depth"),
    doc="Stochastic depth: drops the whole residual branch of a sample with probability p "
    "during training (scaling survivors by 1/(1-p)); identity at evaluation.",
    attrs=(Attr("p", "float", 0.1, min=0, max=1, doc="drop probability"),),
    infer=same, label=lambda a, o: f"drop path {a['p']}",
    cost_note="no parameters, no MACs; identity at inference",
    torch_module=lambda a, ins, out: Ctor("DropPath", (a["p"],)), torch_helper=_DROP_PATH,
    torch_classes=("DropPath", "StochasticDepth", "torchvision.ops.StochasticDepth",
                   "timm.layers.DropPath"),
    from_torch=_droppath_from_torch,
))

register(OpDef(
    name="scale", family="act", aliases=("constant_scale",),
    doc="Multiplies by a constant: Inception-ResNet's residual scaling (0.1 to 0.3).",
    attrs=(Attr("factor", "float", REQUIRED, doc="the constant"),),
    infer=same, label=lambda a, o: f"x {a['factor']:g}", macs_kind="elementwise",
    torch_module=lambda a, ins, out: None,
    torch_call=lambda a, xs, m, ins, out: f"{xs[0]} * {a['factor']!r}",
    cost_note="no parameters, no MACs (element-wise)",
))


_POSITION_BIAS = '''
class PositionBias(nn.Module):
    """A learned bias for every position of a feature map (AlphaGo's policy head)."""

    def __init__(self, *shape: int):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(shape))

    def forward(self, x):
        return x + self.bias
'''

def _posbias_from_torch(m, ins: Types) -> Attrs:
    shape = tuple(m.bias.shape)
    if ins and shape != ins[0].dims:
        raise Unreadable(f"a bias of {'x'.join(map(str, shape))} on a {ins[0]} input")
    return {}


register(OpDef(
    name="posbias", family="norm", aliases=("position_bias", "positionbias"),
    doc="A learned bias per position (and channel) of a feature map, as AlphaGo's policy "
    "network adds after its last 1x1 convolution.",
    infer=lambda a, ins: (need_map("posbias", ins[0]), ins[0])[1],
    params=lambda a, ins, out: Params(0, ins[0].numel),
    label=lambda a, o: "position bias",
    torch_module=lambda a, ins, out: Ctor("PositionBias", tuple(ins[0].dims)),
    torch_helper=_POSITION_BIAS,
    torch_classes=("PositionBias",), from_torch=_posbias_from_torch,
    cost_note="C*H*W bias parameters; no MACs",
))
