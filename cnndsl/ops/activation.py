"""Activations: the element-wise nonlinearities, PReLU, and softmax over the channels.

None has MACs (element-wise, kind `elementwise`); PReLU alone has parameters.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .common import same
from .ctor import Ctor
from .readback import Unreadable, check_width
from .registry import register
from .schema import Attr, Attrs, OpDef, Params, Types


# ---------------------------------------------------------------- fixed nonlinearities
def _activation_module(callee: str, args: tuple[str, ...], a: Attrs) -> Ctor:
    """The constructor, with the attributes ``args`` as its arguments; ``inplace`` is set
    by the backend where the IR allows it (:mod:`cnndsl.backends.inplace`), never by a
    program."""
    ctor = Ctor(callee, tuple(a[k] for k in args))
    return ctor.with_kwarg("inplace", True) if a.get("inplace") else ctor


def _plain(m: Any, ins: Types) -> Attrs:
    """An activation without settings (``inplace`` is the backend's choice)."""
    return {}


def _activation(name: str, callee: str, aliases: tuple[str, ...] = (), doc: str = "",
                attrs: tuple[Attr, ...] = (), label: str | None = None,
                reads: tuple[str, ...] = (),
                from_torch: Callable[[Any, Types], Attrs] = _plain) -> None:
    args = tuple(x.name for x in attrs)
    register(OpDef(
        name=name, family="act", aliases=aliases, doc=doc or f"{name} activation.",
        attrs=attrs, infer=same, label=lambda a, o: label or name,
        macs_kind="elementwise",
        torch_module=lambda a, ins, out: _activation_module(callee, args, a),
        torch_classes=(f"torch.{callee}",) + reads, from_torch=from_torch,
        cost_note="no MACs (element-wise)",
    ))


def _relu6(m: Any, ins: Types) -> Attrs:
    """``nn.ReLU6``, or ``nn.Hardtanh(0, 6)``, which it is."""
    if (m.min_val, m.max_val) != (0.0, 6.0):
        raise Unreadable(f"hardtanh({m.min_val:g}, {m.max_val:g}): only (0, 6) is relu6")
    return {}


def _elu(m: Any, ins: Types) -> Attrs:
    if m.alpha != 1.0:
        raise Unreadable(f"alpha={m.alpha:g}: elu has alpha 1")
    return {}


def _gelu(m: Any, ins: Types) -> Attrs:
    if m.approximate != "none":
        raise Unreadable(f"approximate={m.approximate!r}: gelu is the exact (erf) form")
    return {}


_activation("relu", "nn.ReLU", doc="max(0, x).")
_activation("relu6", "nn.ReLU6", doc="min(max(0, x), 6) (MobileNet).",
            reads=("torch.nn.Hardtanh",), from_torch=_relu6)
_activation("leakyrelu", "nn.LeakyReLU", aliases=("leaky_relu", "lrelu"),
            attrs=(Attr("slope", "float", 0.01, min=0, doc="negative slope"),),
            doc="Leaky ReLU.", label="leaky relu",
            from_torch=lambda m, ins: {"slope": m.negative_slope})
_activation("elu", "nn.ELU", doc="ELU.", from_torch=_elu)
_activation("tanh", "nn.Tanh", doc="tanh.")
_activation("sigmoid", "nn.Sigmoid", doc="logistic sigmoid.")
_activation("gelu", "nn.GELU", doc="GELU.", from_torch=_gelu)
_activation("silu", "nn.SiLU", aliases=("swish",), doc="x * sigmoid(x).")
_activation("hardswish", "nn.Hardswish", aliases=("hswish", "hard_swish"), doc="MobileNetV3.")
_activation("hardsigmoid", "nn.Hardsigmoid", aliases=("hsigmoid",), doc="MobileNetV3.")


# ---------------------------------------------------------------- learned
def _prelu_from_torch(m: Any, ins: Types) -> Attrs:
    """One slope per channel (a single shared slope is another network once trained)."""
    check_width(m, "num_parameters", ins, "PReLU with slopes")
    return {}


register(OpDef(
    name="prelu", family="act", doc="PReLU with one learned slope per channel (He et al. 2015).",
    infer=same, label=lambda a, o: "prelu",
    params=lambda a, ins, out: Params(ins[0].channels, 0),
    torch_module=lambda a, ins, out: Ctor("nn.PReLU", (ins[0].channels,)),
    torch_classes=("torch.nn.PReLU",), from_torch=_prelu_from_torch,
    macs_kind="elementwise", cost_note="C slopes; no MACs",
))


# ---------------------------------------------------------------- softmax
def _softmax_from_torch(dim: Any, ins: Types) -> Attrs:
    """A softmax over the channels (axis 1, or the last of a vector); the module computes
    it, whatever the language makes of one at the network's end."""
    rank = 1 + (len(ins[0].dims) if ins else 1)
    if dim is None or dim % rank != 1:
        raise Unreadable(f"softmax over axis {dim}: only over the channels (axis 1)")
    return {"head": False}


register(OpDef(
    name="softmax", family="head", aliases=("soft_max", "softmax_classifier", "classifier"),
    doc="Softmax over the channels. At the end of the network (or of an auxiliary head) it "
    "is the classifier (`head`): where its input is not already the class scores it adds "
    "the class-score fc (with a note), and the emitted module returns the logits, softmax "
    "being applied by prediction helpers and ONNX export. Anywhere else (attention "
    "weights) the module computes it.",
    attrs=(Attr("head", "bool", False, positional=False,
                doc="the classifier at the network's end: the module returns logits"),),
    infer=same, label=lambda a, o: "softmax",
    macs_kind="elementwise",
    cost_note="no parameters, no MACs; as the classifier the module returns logits "
    "(softmax is applied outside)",
    torch_module=lambda a, ins, out: None,
    torch_call=lambda a, xs, m, ins, out: xs[0] if a["head"] else f"torch.softmax({xs[0]}, 1)",
    torch_classes=("torch.nn.Softmax",), from_torch=lambda m, ins: _softmax_from_torch(m.dim, ins),
))

