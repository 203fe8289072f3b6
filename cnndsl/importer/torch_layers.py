"""Layers made of a module's own tensors, read from their functional calls:
``F.conv2d(x, self.weight, self.bias, ...)`` (timm's Conv2dSame), ``F.batch_norm`` on
the module's running statistics (timm's BatchNormAct2d), ``F.layer_norm`` over the
channels of channels-last code, ``F.linear``, ``F.group_norm``; and ``F.pad``, which
a convolution it alone feeds takes in (:func:`~.torch_patterns.fold`). Module calls
are read here too (:func:`read_module`), by the operator that claims the class.

The tensors must be the module's parameters as they are: a layer made of them learns
them again, so a weight computed in the forward (weight standardization) or a fixed
filter (a blur) is reported, never read as a learned one.
"""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any

from .. import ops
from ..ir.graph import TensorType
from . import torch_patterns as pat
from .torch_calls import handles
from .torch_check import behaves_as
from .torch_convert import BAD, POINTWISE, Act, Const, Converter, Pending, call_name


def _learned(v: Any) -> bool:
    """A module's own parameter, as it is (a layer made of it learns it again)."""
    return isinstance(v, Const) and v.param and v.attr is not None


@handles("F.conv2d", "torch.conv2d", params="x weight bias stride padding dilation groups",
         bias=None, stride=1, padding=0, dilation=1, groups=1)
def _conv2d(cv: Converter, n: Any, kw: dict[str, Any]) -> Any:
    w, b = kw["weight"], kw["bias"]
    if not _learned(w) or not (b is None or _learned(b)):
        return cv.unsupported(f"{call_name(n)} with computed or fixed weights",
                              cv.module_path(n))
    out, per_group, kh, kw_ = w.value.shape
    fake = SimpleNamespace(padding_mode="zeros", in_channels=per_group * kw["groups"],
                           out_channels=out, kernel_size=(kh, kw_), stride=kw["stride"],
                           padding=kw["padding"], dilation=kw["dilation"],
                           groups=kw["groups"], bias=None if b is None else b.value)
    return layer(cv, n, kw["x"], "conv", fake, [w, b])


@handles("F.linear", "torch.linear", params="x weight bias", bias=None)
def _linear(cv: Converter, n: Any, kw: dict[str, Any]) -> Any:
    w, b = kw["weight"], kw["bias"]
    if not _learned(w) or not (b is None or _learned(b)):
        return cv.unsupported(f"{call_name(n)} with computed or fixed weights",
                              cv.module_path(n))
    fake = SimpleNamespace(in_features=w.value.shape[1], out_features=w.value.shape[0],
                           weight=w.value, bias=None if b is None else b.value)
    return layer(cv, n, kw["x"], "fc", fake, [w, b])


@handles("F.batch_norm", "torch.batch_norm",
         params="x running_mean running_var weight bias training momentum eps",
         weight=None, bias=None, training=False, momentum=0.1, eps=1e-5)
def _batch_norm(cv: Converter, n: Any, kw: dict[str, Any]) -> Any:
    """On a module's own running statistics (timm's BatchNormAct2d): a batch norm."""
    stats = [kw["running_mean"], kw["running_var"]]
    affine = [kw["weight"], kw["bias"]]
    if kw["training"] or not all(isinstance(s, Const) and s.attr for s in stats):
        return cv.unsupported(f"{call_name(n)} on the batch's statistics", cv.module_path(n))
    if (affine[0] is None) != (affine[1] is None) or \
            not all(a is None or _learned(a) for a in affine):
        return cv.unsupported(f"{call_name(n)} without a learned scale and shift",
                              cv.module_path(n))
    fake = SimpleNamespace(running_mean=stats[0].value, track_running_stats=True,
                           momentum=kw["momentum"], eps=kw["eps"],
                           affine=affine[0] is not None, num_features=stats[0].value.shape[0])
    return layer(cv, n, kw["x"], "bn", fake, [*affine, *stats])


@handles("F.layer_norm", "torch.layer_norm", params="x normalized_shape weight bias eps",
         weight=None, bias=None, eps=1e-5)
def _layer_norm(cv: Converter, n: Any, kw: dict[str, Any]) -> Any:
    w, b = kw["weight"], kw["bias"]
    if not (_learned(w) and _learned(b)):
        return cv.unsupported(f"{call_name(n)} without a learned scale and shift",
                              cv.module_path(n))
    fake = SimpleNamespace(normalized_shape=tuple(kw["normalized_shape"]), weight=w.value,
                           bias=b.value, eps=kw["eps"])
    return layer(cv, n, kw["x"], "layernorm", fake, [w, b])


@handles("F.group_norm", "torch.group_norm", params="x num_groups weight bias eps",
         weight=None, bias=None, eps=1e-5)
def _group_norm(cv: Converter, n: Any, kw: dict[str, Any]) -> Any:
    w, b = kw["weight"], kw["bias"]
    if not (_learned(w) and _learned(b)):
        return cv.unsupported(f"{call_name(n)} without a learned scale and shift",
                              cv.module_path(n))
    fake = SimpleNamespace(affine=True, num_channels=w.value.shape[0],
                           num_groups=kw["num_groups"], eps=kw["eps"])
    return layer(cv, n, kw["x"], "groupnorm", fake, [w, b])


@handles("F.pad", "torch.constant_pad_nd", params="x pad mode value", mode="constant",
         value=None, pending=True)
def _pad(cv: Converter, n: Any, kw: dict[str, Any]) -> Any:
    value = kw["value"] or 0.0
    if kw["mode"] != "constant" or (isinstance(value, float) and math.isinf(value)):
        what = f"mode={kw['mode']!r}" if kw["mode"] != "constant" else f"value={value}"
        return cv.unsupported(f"{call_name(n)} with {what}", cv.module_path(n))
    if value != 0:
        return cv.unsupported(f"{call_name(n)} with value={value}", cv.module_path(n))
    return pat.pad(cv, n, kw["x"], tuple(int(p) for p in kw["pad"]))


def layer(cv: Converter, n: Any, x: Any, op: str, source: Any, tensors: list[Any],
          path: str | None = None, what: str | None = None) -> Any:
    """A layer read by operator ``op`` from ``source`` (a module, or a functional call's
    arguments as one) with the original's ``tensors``; channels-last, a Linear is a 1x1
    conv and a layer norm is over the channels."""
    what = what or call_name(n)
    if isinstance(x, Pending):
        x = pat.settle(cv, x, n)
    if not isinstance(x, Act):
        return BAD if x is BAD else cv.unsupported(f"{what} on a constant tensor",
                                                   cv.module_path(n))
    weights = [t.value if isinstance(t, Const) else t for t in tensors if t is not None]
    if path is None:
        owners = {t.attr.rsplit(".", 1)[0] for t in tensors
                  if isinstance(t, Const) and t.attr and "." in t.attr}
        path = owners.pop() if len(owners) == 1 else cv.path(n, op)
    t = cv.type_of(x)
    layout = x.layout
    if layout == "nhwc":
        if op == "fc":
            w = weights[0]
            attrs = {"out": w.shape[0], "kernel": 1, "pad": 0, "bias": len(weights) > 1}
            weights[0] = w.reshape(w.shape[0], w.shape[1], 1, 1)
            return cv.node("conv", attrs, [x], n, path, weights, layout="nhwc")
        if op == "layernorm":
            t = TensorType((t.dims[0],))
        elif op not in POINTWISE:
            return cv.unsupported(f"{what} on a channels-last tensor", cv.module_path(n))
    try:
        attrs = ops.get(op).from_torch(source, [t])
    except Exception as e:  # an operator's reader (a plugin's too): its message
        return cv.unsupported(f"{what}: {e}", path)
    return cv.node(op, attrs, [x], n, path, weights, layout=layout)


def read_module(cv: Converter, n: Any, m: Any, opdef: Any, x: Any,
                by_name: bool = False) -> Any:
    """A call of module ``m`` that operator ``opdef`` reads; ``by_name``: its class is
    claimed by its bare name only, so it must also compute what the operator does."""
    cls = type(m).__name__
    if isinstance(x, Pending):
        x = pat.settle(cv, x, n)
    if not isinstance(x, Act):
        return x if x is BAD else cv.unsupported(f"{cls} on a constant", n.target)
    if opdef.name == "identity":
        return cv.same_as(x, n)
    if opdef.name == "flatten":
        try:
            opdef.from_torch(m, [cv.type_of(x)])
        except ValueError as e:
            return cv.unsupported(f"{cls}: {e}", n.target)
        out = pat.reshape(cv, n, x)
        if isinstance(out, Act) and out.node == x.node:
            cv.drafts[x.node].absorbed.append(n.target)
        return out
    tensors = [t.detach() for k, t in m.state_dict(keep_vars=True).items()
               if not k.endswith("num_batches_tracked")]
    if by_name and x.layout == "nchw" and not x.unsq:
        try:
            attrs = opdef.from_torch(m, [cv.type_of(x)])
        except Exception:
            attrs = None  # reported by layer() below
        if attrs is not None and not behaves_as(m, opdef.name, attrs,
                                                cv.type_of(x).dims, tensors):
            return cv.unsupported(f"{cls}: named as the emission's {opdef.name} but "
                                  "computes otherwise", n.target)
    return layer(cv, n, x, opdef.name, m, tensors, path=n.target, what=cls)
