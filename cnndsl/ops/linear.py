"""Fully connected layers and the flatten before them.

MACs = in x out, bias adds excluded (fvcore's and the slides' convention).
"""

from __future__ import annotations

from ..ir.graph import TensorType
from .ctor import Ctor
from .readback import Unreadable, check_width
from .registry import register
from .schema import Attr, Attrs, OpDef, Params, ShapeError, Types


# ---------------------------------------------------------------- fully connected
def _fc_infer(a: Attrs, ins: Types) -> TensorType:
    if not ins[0].is_vector:  # the elaborator inserts a flatten; this is a safety net
        raise ShapeError("E0304", "fc needs a vector input", help="insert `flatten`")
    return TensorType((a["out"],))


def _fc_from_torch(m, ins: Types) -> Attrs:
    """``nn.Linear`` on a vector (on a map it acts on the last axis: the import reads
    it in channels-last code as a 1x1 conv)."""
    if ins and not ins[0].is_vector:
        raise Unreadable(f"nn.Linear on a {ins[0]} map acts on its last axis (width), not "
                         "on its channels")
    check_width(m, "in_features", ins, "a linear layer")
    return {"out": m.out_features, "bias": m.bias is not None}


def _flatten_from_torch(m, ins: Types) -> Attrs:
    if (m.start_dim, m.end_dim) not in ((1, -1), (1, 3)):
        raise Unreadable(f"flatten from axis {m.start_dim} to {m.end_dim}: the language "
                         "flattens a whole sample")
    return {}


register(OpDef(
    name="fc", family="fc", aliases=("linear", "fullyconnected", "fully_connected"),
    doc="Fully connected layer. After a feature map it flattens it first (an explicit "
    "`flatten` node appears in the IR). A bare `fc` has `hidden` units.",
    attrs=(Attr("out", "int", lambda ctx: ctx["hidden"], min=1, doc="number of units"),
           Attr("bias", "bool", True, doc="add a learned bias per unit")),
    infer=_fc_infer,
    params=lambda a, ins, out: Params(ins[0].dims[0] * a["out"], a["out"] if a["bias"] else 0),
    macs=lambda a, ins, out: ins[0].dims[0] * a["out"], macs_kind="linear",
    label=lambda a, o: f"FC {a['out']}",
    torch_module=lambda a, ins, out: Ctor("nn.Linear", (ins[0].dims[0], a["out"]),
                                          () if a["bias"] else (("bias", False),)),
    torch_classes=("torch.nn.Linear",), from_torch=_fc_from_torch,
    cost_note="MACs = in x out; params = in x out + out",
))


# ---------------------------------------------------------------- flatten
def _flatten_infer(a: Attrs, ins: Types) -> TensorType:
    return TensorType((ins[0].numel,))


register(OpDef(
    name="flatten", family="reshape", doc="CxHxW to a vector of C*H*W (the slides' Flatten).",
    infer=_flatten_infer, label=lambda a, o: "flatten",
    cost_note="no parameters, no MACs; a view of its input (no new activation memory)",
    torch_module=lambda a, ins, out: Ctor("nn.Flatten"),
    torch_classes=("torch.nn.Flatten",), from_torch=_flatten_from_torch,
))
