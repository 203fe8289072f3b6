"""Normalization: batch norm, local response norm (AlexNet's), group norm.

Conventions (see docs/cost.md): batch norm counts 2 MACs per element (scale and shift,
as fvcore does at inference) and group norm 5, both reported apart as `norm`; the
running statistics are buffers, not parameters. Layer norm and layer scale, which work
over the channel axis, are in :mod:`cnndsl.ops.channels`.
"""

from __future__ import annotations

from ..ir.graph import TensorType
from .common import grouped_channels, need_map, same
from .ctor import Ctor, Value
from .readback import Unreadable, check_width, flag
from .registry import register
from .schema import Attr, Attrs, OpDef, Params, Types


# ---------------------------------------------------------------- batch norm
def _bn_module(a: Attrs, ins: Types, out: TensorType) -> Ctor:
    cls = "BatchNorm2d" if ins[0].is_map else "BatchNorm1d"
    kw: list[tuple[str, Value]] = []
    if a["eps"] != 1e-5:
        kw.append(("eps", a["eps"]))
    if a["momentum"] != 0.1:
        kw.append(("momentum", a["momentum"]))
    if not a["affine"]:
        kw.append(("affine", False))
    return Ctor(f"nn.{cls}", (ins[0].channels,), tuple(kw))


def _bn_from_torch(m, ins: Types) -> Attrs:
    """``nn.BatchNorm2d`` on a map, ``nn.BatchNorm1d`` on a vector, with running
    statistics (without them it normalizes by the batch's at inference too)."""
    if getattr(m, "running_mean", None) is None or not m.track_running_stats:
        raise Unreadable("track_running_stats=False: batch norm here keeps running "
                         "statistics for inference")
    if m.momentum is None:
        raise Unreadable("momentum=None (a cumulative average): batch norm here keeps an "
                         "exponential average")
    kind = type(m).__name__
    if ins and kind.endswith(("1d", "2d")) and (kind.endswith("2d") != ins[0].is_map):
        raise Unreadable(f"{kind} on a {ins[0]} input")
    check_width(m, "num_features", ins, "a batch norm")
    return {"eps": m.eps, "momentum": m.momentum, "affine": bool(m.affine)}


def _gn_from_torch(m, ins: Types) -> Attrs:
    flag(m, "affine", True, "group norm here has a learned scale and shift")
    check_width(m, "num_channels", ins, "a group norm")
    return {"groups": m.num_groups, "eps": m.eps}


register(OpDef(
    name="bn", family="norm", aliases=("batchnorm", "batch_norm", "batchnorm2d", "batchnormalization"),
    doc="Batch normalization over channels (or features of a vector).",
    attrs=(Attr("eps", "float", 1e-5, min=0), Attr("momentum", "float", 0.1, min=0),
           Attr("affine", "bool", True)),
    infer=same,
    params=lambda a, ins, out: Params(ins[0].channels if a["affine"] else 0,
                                      ins[0].channels if a["affine"] else 0,
                                      2 * ins[0].channels),
    macs=lambda a, ins, out: out.numel * (2 if a["affine"] else 1), macs_kind="norm",
    label=lambda a, o: "batch norm", torch_module=_bn_module,
    torch_classes=("torch.nn.BatchNorm2d", "torch.nn.BatchNorm1d", "torch.nn.SyncBatchNorm"),
    from_torch=_bn_from_torch,
    cost_note="params: gamma and beta (C each, trainable); running mean and variance are "
    "buffers (2C). MACs: reported apart as `norm`, 2 per element (fvcore's count)",
))

register(OpDef(
    name="lrn", family="norm", aliases=("norm", "localresponsenorm", "local_response_norm"),
    doc="Local response normalization (AlexNet's NORM; defaults from the AlexNet paper).",
    attrs=(Attr("size", "int", 5, min=1), Attr("alpha", "float", 1e-4, min=0),
           Attr("beta", "float", 0.75, min=0), Attr("k", "float", 2.0, min=0)),
    infer=lambda a, ins: (need_map("lrn", ins[0]), ins[0])[1],
    label=lambda a, o: "LRN",
    torch_module=lambda a, ins, out: Ctor("nn.LocalResponseNorm", (a["size"],), (
        ("alpha", a["alpha"]), ("beta", a["beta"]), ("k", a["k"]))),
    torch_classes=("torch.nn.LocalResponseNorm",),
    from_torch=lambda m, ins: {"size": m.size, "alpha": m.alpha, "beta": m.beta, "k": m.k},
    cost_note="no parameters; not counted in MACs (no multiply-accumulate with learned "
    "weights; fvcore skips it too)",
))


# ---------------------------------------------------------------- group norm
register(OpDef(
    name="groupnorm", family="norm", aliases=("gn", "group_norm"),
    doc="Group normalization (Wu & He 2018); groups=1 is layer norm over C, H, W and "
    "groups=C instance norm (with affine parameters).",
    attrs=(Attr("groups", "int", 32, min=1), Attr("eps", "float", 1e-5, min=0)),
    infer=grouped_channels("groupnorm"),
    params=lambda a, ins, out: Params(ins[0].channels, ins[0].channels),
    macs=lambda a, ins, out: 5 * out.numel, macs_kind="norm",
    label=lambda a, o: f"group norm /{a['groups']}",
    torch_module=lambda a, ins, out: Ctor("nn.GroupNorm", (a["groups"], ins[0].channels),
                                          (("eps", a["eps"]),) if a["eps"] != 1e-5 else ()),
    torch_classes=("torch.nn.GroupNorm",), from_torch=_gn_from_torch,
    cost_note="C gamma + C beta, no buffers; 5 per element (`norm`, fvcore's count: "
    "mean, variance, normalize, scale, shift)",
))
