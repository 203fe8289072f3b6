"""Fully connected layers and the flatten before them.

MACs = in x out, bias adds excluded (fvcore's and the slides' convention).
"""

from __future__ import annotations

from ..ir.graph import TensorType
from .ctor import Ctor
from .registry import register
from .schema import Attr, Attrs, OpDef, Params, ShapeError, Types


# ---------------------------------------------------------------- fully connected
def _fc_infer(a: Attrs, ins: Types) -> TensorType:
    if not ins[0].is_vector:  # the elaborator inserts a flatten; this is a safety net
        raise ShapeError("E0304", "fc needs a vector input", help="insert `flatten`")
    return TensorType((a["out"],))


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
))
