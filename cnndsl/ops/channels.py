"""Operators over the channel axis: slices, layer norm, layer scale, softmax across groups.

ShuffleNetV2 splits its channels into two branches, ConvNeXt normalizes each position
over its channels and scales each residual branch by a learned vector, and split
attention (ResNeSt, SKNet) weighs its branches by a softmax across them. Each is one
definition here, with no parameters beyond what the reference implementations hold.
"""

from __future__ import annotations

from ..ir.graph import TensorType
from .common import same
from .ctor import Ctor
from .readback import Unreadable, same_value
from .registry import register
from .schema import REQUIRED, Attr, Attrs, OpDef, Params, ShapeError, Types


def _features(t: TensorType) -> int:
    return t.channels if t.is_map else t.dims[0]


# ---------------------------------------------------------------- channel slices
def _slice_resolve(a: Attrs, ins: Types) -> Attrs:
    c = _features(ins[0])
    stop = c if a["stop"] is None else a["stop"]
    return {**a, "stop": stop}


def _slice_infer(a: Attrs, ins: Types) -> TensorType:
    t, start, stop = ins[0], a["start"], a["stop"]
    c = _features(t)
    if not 0 <= start < stop <= c:
        raise ShapeError("E0105", f"channels {start}:{stop} are not a slice of the input's "
                         f"{c}", label=f"input is {t}",
                         help=f"0 <= start < stop <= {c}; in a block, in_c is the input's "
                         "channels (e.g. slice(0, in_c // 2))")
    return TensorType((stop - start,) + t.dims[1:])


register(OpDef(
    name="slice", family="reshape", aliases=("channels", "channel_slice"),
    doc="Channels start..stop-1 of the input (zero parameters): a branch of a channel "
    "split, as ShuffleNetV2's `x.chunk(2, 1)`; `chunk(i, n)` is the i-th of n equal parts.",
    attrs=(Attr("start", "int", REQUIRED, min=0, doc="first channel"),
           Attr("stop", "int", None, min=1, doc="one past the last channel (default: all)")),
    resolve=_slice_resolve, infer=_slice_infer,
    label=lambda a, o: f"channels {a['start']}:{a['stop']}",
    torch_module=lambda a, ins, out: None,
    torch_call=lambda a, xs, m, ins, out: f"{xs[0]}[:, {a['start']}:{a['stop']}]",
    cost_note="no parameters, no MACs (a view)",
))


# ---------------------------------------------------------------- layer norm over channels
_LAYER_NORM_2D = '''
class LayerNorm2d(nn.Module):
    """Layer norm over the channels of each position (ConvNeXt's LayerNorm2d)."""

    def __init__(self, channels: int, eps: float = 1e-5):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x):
        x = F.layer_norm(x.permute(0, 2, 3, 1), self.weight.shape, self.weight, self.bias,
                         self.eps)
        return x.permute(0, 3, 1, 2)
'''


def _layernorm_module(a: Attrs, ins: Types, out: TensorType) -> Ctor:
    cls = "LayerNorm2d" if ins[0].is_map else "nn.LayerNorm"
    return Ctor(cls, (_features(ins[0]),), (("eps", a["eps"]),) if a["eps"] != 1e-5 else ())


def _layernorm_from_torch(m, ins: Types) -> Attrs:
    """``nn.LayerNorm`` over a vector's features, or a LayerNorm2d (the emission's,
    torchvision's, timm's) over each position's channels, with scale and shift. On a
    map, ``nn.LayerNorm`` normalizes the last axis: the import reads it in channels-last
    code only (permute, LayerNorm, permute back)."""
    shape = tuple(getattr(m, "normalized_shape", ()) or (m.weight.shape[0],))
    if getattr(m, "weight", None) is None or getattr(m, "bias", None) is None:
        raise Unreadable("no learned scale or shift: layer norm here has both")
    two_d = type(m).__name__ == "LayerNorm2d"
    if ins and (two_d != ins[0].is_map):
        what = "a LayerNorm2d" if two_d else "nn.LayerNorm"
        raise Unreadable(f"{what} on a {ins[0]} input" + (
            "" if two_d else ": over the last axis (width), not the channels"))
    if ins and shape != (_features(ins[0]),):
        raise Unreadable(f"normalizes over {'x'.join(map(str, shape))}: layer norm here "
                         f"is over the {_features(ins[0])} channels")
    return {"eps": m.eps}


register(OpDef(
    name="layernorm", family="norm", aliases=("ln", "layer_norm", "layernorm2d"),
    doc="Layer normalization over the channels of each position (ConvNeXt's LayerNorm2d; "
    "over the features of a vector), with a learned scale and shift per channel. "
    "groupnorm(1) normalizes over C, H and W together instead.",
    attrs=(Attr("eps", "float", 1e-5, min=0, doc="added to the variance (ConvNeXt: 1e-6)"),),
    infer=same,
    params=lambda a, ins, out: Params(_features(ins[0]), _features(ins[0])),
    macs=lambda a, ins, out: 5 * out.numel, macs_kind="norm",
    label=lambda a, o: "layer norm",
    torch_module=_layernorm_module,
    torch_helper=_LAYER_NORM_2D,
    torch_classes=("LayerNorm2d", "torch.nn.LayerNorm", "torchvision.models.convnext.LayerNorm2d",
                   "timm.layers.LayerNorm2d"),
    from_torch=_layernorm_from_torch,
    cost_note="C gamma + C beta, no buffers; 5 per element (`norm`, fvcore's count)",
))


# ---------------------------------------------------------------- layer scale
_LAYER_SCALE = '''
class LayerScale(nn.Module):
    """A learned scale per channel (Touvron et al. 2021; ConvNeXt's layer_scale)."""

    def __init__(self, init: float, *shape: int):
        super().__init__()
        self.weight = nn.Parameter(init * torch.ones(shape))

    def forward(self, x):
        return x * self.weight
'''


def _layerscale_module(a: Attrs, ins: Types, out: TensorType) -> Ctor:
    c = _features(ins[0])
    return Ctor("LayerScale", (a["init"], c, 1, 1) if ins[0].is_map else (a["init"], c))


def _layerscale_from_torch(m, ins: Types) -> Attrs:
    """The emission's LayerScale (a ``weight`` of C, or Cx1x1 on a map); the initial
    value is read where every scale still holds it, else the default is kept."""
    w = getattr(m, "weight", None)
    if w is None:
        raise Unreadable("no weight: not the emission's LayerScale")
    if ins:
        c = _features(ins[0])
        if tuple(w.shape) != ((c, 1, 1) if ins[0].is_map else (c,)):
            raise Unreadable(f"a scale of {'x'.join(map(str, w.shape))} on a {ins[0]} input")
    return {"init": same_value(w, 1e-6)}


register(OpDef(
    name="layerscale", family="norm", aliases=("layer_scale", "ls"),
    doc="A learned scale per channel, initialized to `init` (CaiT's and ConvNeXt's layer "
    "scale on a residual branch); `scale` multiplies by a constant instead.",
    attrs=(Attr("init", "float", 1e-6, doc="the initial scale (ConvNeXt: 1e-6)"),),
    infer=same,
    params=lambda a, ins, out: Params(_features(ins[0]), 0),
    macs_kind="elementwise",
    label=lambda a, o: "layer scale",
    torch_module=_layerscale_module, torch_helper=_LAYER_SCALE,
    torch_classes=("LayerScale",), from_torch=_layerscale_from_torch,
    cost_note="C scales; no MACs (element-wise)",
))


# ---------------------------------------------------------------- softmax across groups
def _groups_infer(a: Attrs, ins: Types) -> TensorType:
    t = ins[0]
    if _features(t) % a["groups"]:
        raise ShapeError("E0303", f"{_features(t)} channels are not divisible by "
                         f"groups={a['groups']}", label=f"input is {t}")
    return t


register(OpDef(
    name="groupsoftmax", family="act", aliases=("rsoftmax", "radix_softmax", "branch_softmax"),
    doc="Softmax across `groups` equal channel groups, each channel against its "
    "counterparts in the other groups: the attention over branches of split-attention "
    "and selective-kernel blocks (the logits of n branches concatenated, then split "
    "back with slice or chunk). groups=1 is a sigmoid, as ResNeSt's rSoftMax.",
    attrs=(Attr("groups", "int", REQUIRED, min=1, doc="the number of branches"),),
    infer=_groups_infer, label=lambda a, o: f"softmax across {a['groups']}",
    macs_kind="elementwise",
    torch_module=lambda a, ins, out: None,
    torch_call=lambda a, xs, m, ins, out: (
        f"torch.sigmoid({xs[0]})" if a["groups"] == 1 else
        f"torch.softmax({xs[0]}.unflatten(1, ({a['groups']}, -1)), 1).flatten(1, 2)"),
    cost_note="no parameters, no MACs (element-wise)",
))
