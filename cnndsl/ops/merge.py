"""Merges: the operators that join parallel branches (concat, add, mul)."""

from __future__ import annotations

from ..ir.graph import TensorType
from .registry import register
from .schema import Attrs, OpDef, ShapeError, Types


def _shapes(ins: Types) -> str:
    return ", ".join(str(t) for t in ins)


def _concat_infer(a: Attrs, ins: Types) -> TensorType:
    if all(t.is_vector for t in ins):
        return TensorType((sum(t.dims[0] for t in ins),))
    if not all(t.is_map for t in ins):
        raise ShapeError("E0306", f"cannot concatenate feature maps with vectors ({_shapes(ins)})")
    sizes = {t.dims[1:] for t in ins}
    if len(sizes) > 1:
        raise ShapeError("E0306", "concatenated branches differ in spatial size: "
                         + _shapes(ins), label="branch outputs " + _shapes(ins),
                         help="give every branch the same stride and padding (e.g. pad=1 "
                         "for a 3x3 conv, stride=1, pad=1 for a 3x3 pool)")
    return TensorType((sum(t.channels for t in ins),) + ins[0].dims[1:])


def _scales(t: TensorType, m: TensorType) -> bool:
    """Whether ``t`` holds one factor per channel of the map ``m``: a vector of C, or a
    Cx1x1 map (torchvision's SE blocks keep the pooled map)."""
    return m.is_map and t.dims in ((m.channels,), (m.channels, 1, 1)) and t != m


def _elementwise_infer(kind: str):
    def infer(a: Attrs, ins: Types) -> TensorType:
        first = ins[0]
        out = first
        for t in ins[1:]:
            if t == out:
                continue
            if kind == "mul" and _scales(t, out):
                continue  # per-channel scale (squeeze-and-excitation)
            if kind == "mul" and _scales(out, t):
                out = t
                continue
            raise ShapeError("E0307", f"{'added' if kind == 'add' else 'multiplied'} "
                             f"branches differ in shape: {_shapes(ins)}",
                             label="branch outputs " + _shapes(ins),
                             help="make the branches end with the same shape (a residual "
                             "block inserts a projection for this)" if kind == "add" else
                             "multiply equal shapes, or a map by a per-channel vector")
        return out
    return infer


register(OpDef(
    name="concat", family="merge", aliases=("cat", "concatenate"), arity=-1,
    doc="Concatenate branches along channels (feature maps of equal HxW, or vectors).",
    infer=_concat_infer, label=lambda a, o: "concat",
    cost_note="no parameters, no MACs (a copy)",
    torch_call=lambda a, xs, m, ins, out: f"torch.cat([{', '.join(xs)}], 1)",
))
register(OpDef(
    name="add", family="merge", aliases=("sum", "plus"), arity=-1,
    doc="Add branches element-wise (equal shapes).",
    infer=_elementwise_infer("add"), label=lambda a, o: "+", macs_kind="elementwise",
    cost_note="no parameters, no MACs (one addition per element, no multiply)",
    torch_call=lambda a, xs, m, ins, out: " + ".join(xs),
))
register(OpDef(
    name="mul", family="merge", aliases=("multiply", "prod"), arity=-1,
    doc="Multiply branches element-wise; a vector of C (or a Cx1x1 map) scales the "
    "channels of a CxHxW map.",
    infer=_elementwise_infer("mul"), label=lambda a, o: "x", macs_kind="elementwise",
    cost_note="no parameters, no MACs (one multiplication per element, no accumulate)",
    torch_call=lambda a, xs, m, ins, out: " * ".join(
        f"{x}[:, :, None, None]" if t.is_vector and out.is_map else x for x, t in zip(xs, ins)),
))

register(OpDef(
    name="mean", family="merge", aliases=("avg", "average", "join"), arity=-1,
    doc="Average branches element-wise (equal shapes): FractalNet's join.",
    infer=_elementwise_infer("add"), label=lambda a, o: "mean", macs_kind="elementwise",
    cost_note="no parameters, no MACs (additions and one scaling per element)",
    torch_call=lambda a, xs, m, ins, out: f"({' + '.join(xs)}) / {len(xs)}",
))
