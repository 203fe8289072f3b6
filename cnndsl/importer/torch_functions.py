"""Functional calls and tensor methods read as the language's operators: activations
(``F.relu(x, inplace=True)``, ``x.sigmoid()``), merges (``out += identity``, ``x * se``,
``torch.cat(xs, 1)``, ``(a + b) / 2``), shapes and layouts (``torch.flatten(x, 1)``,
``x.view(n, -1)``, ``permute``, ``x.chunk(2, 1)``, ``torch.stack``), pools
(``F.adaptive_avg_pool2d``, ``x.mean((2, 3))``) and the rest of the handlers below; the
layers made of a module's own tensors are :mod:`.torch_layers`.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from .. import ops
from . import torch_patterns as pat
from .torch_calls import act, handles, unary
from .torch_convert import BAD, Act, Const, Converter, Pending, call_name

# ---------------------------------------------------------------- activations, dropout
for _op, _names in {
    "relu": ("torch.relu", "torch.relu_", "F.relu", "F.relu_", "Tensor.relu", "Tensor.relu_"),
    "sigmoid": ("torch.sigmoid", "torch.sigmoid_", "F.sigmoid", "Tensor.sigmoid",
                "Tensor.sigmoid_"),
    "tanh": ("torch.tanh", "torch.tanh_", "F.tanh", "Tensor.tanh", "Tensor.tanh_"),
    "relu6": ("F.relu6",), "silu": ("F.silu",), "hardswish": ("F.hardswish",),
    "hardsigmoid": ("F.hardsigmoid",),
}.items():
    handles(*_names, params="x")(unary(_op))

handles("F.gelu", params="x approximate", approximate="none")(unary(
    "gelu", lambda kw: {} if kw["approximate"] == "none" else f"approximate={kw['approximate']!r}"))
handles("F.elu", "F.elu_", params="x alpha", alpha=1.0)(unary(
    "elu", lambda kw: {} if kw["alpha"] == 1.0 else f"alpha={kw['alpha']}"))
handles("F.leaky_relu", "F.leaky_relu_", params="x negative_slope", negative_slope=0.01)(
    unary("leakyrelu", lambda kw: {"slope": kw["negative_slope"]}))
handles("F.hardtanh", "F.hardtanh_", params="x min_val max_val", min_val=-1.0, max_val=1.0)(
    unary("relu6", lambda kw: {} if (kw["min_val"], kw["max_val"]) == (0, 6)
           else f"bounds ({kw['min_val']}, {kw['max_val']}): only (0, 6) is relu6"))
handles("torch.clamp", "Tensor.clamp", "Tensor.clamp_", "torch.clip", "Tensor.clip",
        params="x min max", min=None, max=None)(unary(
            "relu", lambda kw: {} if (kw["min"], kw["max"]) == (0, None)
            else f"bounds ({kw['min']}, {kw['max']}): only a clamp at 0 is relu"))
handles("torch.dropout", "F.dropout", "Tensor.dropout", params="x p", p=0.5)(
    unary("dropout", lambda kw: {"p": kw["p"]}))


@handles("F.softmax", "torch.softmax", "Tensor.softmax", params="x dim", dim=None,
         pending=True)
def _softmax(cv: Converter, n: Any, kw: dict[str, Any]) -> Any:
    """Over the channels: softmax; over the groups of a split: a group softmax."""
    x, dim = kw["x"], kw["dim"]
    if isinstance(x, Pending):
        if x.kind == "split" and dim == 1:
            return Pending("soft", x.base, x.groups, "a softmax across channel groups", n)
        return cv.partial(x, call_name(n), n)
    x = act(cv, n, x)
    if x is None:
        return BAD
    rank = 1 + len(cv.torch_shape(n))
    channel = 3 if x.layout == "nhwc" else 1
    if dim is None or dim % rank != channel:
        return cv.unsupported(f"{call_name(n)} over axis {dim}", cv.module_path(n))
    return cv.node("softmax", {"head": False}, [x], n, cv.path(n, "softmax"),
                   layout=x.layout)

# ---------------------------------------------------------------- merges
@handles("operator.add", "operator.iadd", "torch.add", "Tensor.add", "Tensor.add_",
         params="x y", alpha=1)
def _add(cv: Converter, n: Any, kw: dict[str, Any]) -> Any:
    x, y = kw["x"], kw["y"]
    if kw["alpha"] != 1:
        return cv.unsupported(f"{call_name(n)} with alpha={kw['alpha']}", cv.module_path(n))
    if isinstance(x, Const) or isinstance(y, Const):
        return pat.add_constant(cv, n, y if isinstance(x, Const) else x,
                                x if isinstance(x, Const) else y)
    if not (isinstance(x, Act) and isinstance(y, Act)):
        return cv.unsupported(f"{call_name(n)} of a number", cv.module_path(n))
    if x.layout != y.layout or x.unsq != y.unsq or cv.type_of(x) != cv.type_of(y):
        return cv.unsupported(f"{call_name(n)} of differing shapes (broadcast)",
                              cv.module_path(n))
    return cv.node("add", {}, [x, y], n, cv.path(n, "add"), layout=x.layout)


@handles("operator.mul", "operator.imul", "torch.mul", "Tensor.mul", "Tensor.mul_",
         params="x y", pending=True)
def _mul(cv: Converter, n: Any, kw: dict[str, Any]) -> Any:
    """A product of branches (squeeze-and-excitation's ``x * se``), a constant factor
    (scale), or a learned per-channel scale (layer scale)."""
    x, y = kw["x"], kw["y"]
    if isinstance(x, Pending) and isinstance(y, Pending) and "expand" not in (x.kind, y.kind):
        return pat.mul_groups(cv, n, x, y)
    x, y = (pat.unexpand(cv, v, n) for v in (x, y))
    if x is BAD or y is BAD:
        return BAD
    if not isinstance(x, Act):
        x, y = y, x
    if not isinstance(x, Act):
        return cv.unsupported(f"{call_name(n)} of constants", cv.module_path(n))
    if type(y) in (int, float):
        return cv.node("scale", {"factor": float(y)}, [x], n, cv.path(n, "scale"))
    if isinstance(y, Const):
        return pat.scale_by_constant(cv, n, x, y)
    if not isinstance(y, Act):
        return cv.unsupported(f"{call_name(n)} by {type(y).__name__}", cv.module_path(n))
    if x.layout != y.layout:
        return cv.unsupported(f"{call_name(n)} of channels-first and -last tensors",
                              cv.module_path(n))
    return cv.node("mul", {}, [x, y], n, cv.path(n, "mul"), layout=x.layout)


@handles("operator.truediv", "operator.itruediv", "torch.div", "Tensor.div", "Tensor.div_",
         params="x y", rounding_mode=None)
def _div(cv: Converter, n: Any, kw: dict[str, Any]) -> Any:
    """By a number: a scale (``(a + b) / 2``, an average, becomes mean when drafted)."""
    x, y = kw["x"], kw["y"]
    if not isinstance(x, Act) or type(y) not in (int, float) or y == 0 or kw["rounding_mode"]:
        return cv.unsupported(f"{call_name(n)} by a tensor", cv.module_path(n))
    out = cv.node("scale", {"factor": 1.0 / y}, [x], n, cv.path(n, "scale"))
    if isinstance(out, Act) and float(y).is_integer():
        cv.drafts[out.node].meta["divisor"] = int(y)
    return out


@handles("torch.cat", "torch.concat", "torch.concatenate", params="xs dim", dim=0)
def _cat(cv: Converter, n: Any, kw: dict[str, Any]) -> Any:
    xs, dim = list(kw["xs"]), kw["dim"]
    if not xs or not all(isinstance(x, Act) for x in xs):
        return cv.unsupported(f"{call_name(n)} of constant tensors", cv.module_path(n))
    layout = xs[0].layout
    rank = 1 + len(cv.torch_shape(n))
    if any(x.layout != layout or x.unsq for x in xs) or \
            dim % rank != (3 if layout == "nhwc" else 1):
        return cv.unsupported(f"{call_name(n)} on axis {dim}", cv.module_path(n))
    if len(xs) == 1:
        return cv.same_as(xs[0], n)
    return cv.node("concat", {}, xs, n, cv.path(n, "concat"), layout=layout)


# ---------------------------------------------------------------- shape and layout
@handles("torch.flatten", "Tensor.flatten", params="x start_dim end_dim", start_dim=0,
         end_dim=-1, pending=True)
def _flatten(cv: Converter, n: Any, kw: dict[str, Any]) -> Any:
    """From axis 1: read from the shapes as any reshape (a whole sample, or the
    groups of a split back into the channels)."""
    if kw["start_dim"] != 1:
        return cv.unsupported(f"{call_name(n)} from axis {kw['start_dim']}",
                              cv.module_path(n))
    return pat.reshape(cv, n, kw["x"])


@handles("Tensor.view", "Tensor.reshape", "torch.reshape", "Tensor.unflatten",
         "torch.unflatten", "Tensor.view_as", "Tensor.reshape_as", params="x", pending=True)
def _reshape(cv: Converter, n: Any, kw: dict[str, Any]) -> Any:
    sizes = n.args[1:]
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = sizes[0]
    first = sizes[0] if sizes and call_name(n).endswith(("view", "reshape")) else None
    if type(first) is int and first != -1:  # written as a number, not x.size(0)
        return cv.unsupported(f"{call_name(n)} to a fixed batch of {first}",
                              cv.module_path(n))
    return pat.reshape(cv, n, kw["x"])


@handles("Tensor.contiguous", "Tensor.clone", params="x", pending=True)
def _same(cv: Converter, n: Any, kw: dict[str, Any]) -> Any:
    x = kw["x"]
    return x if isinstance(x, Pending) else cv.same_as(x, n) if isinstance(x, Act) else BAD


@handles("Tensor.expand_as", "Tensor.expand", params="x")
def _expand(cv: Converter, n: Any, kw: dict[str, Any]) -> Any:
    """A broadcast made explicit: read by the product that follows."""
    x = act(cv, n, kw["x"])
    return BAD if x is None else Pending("expand", x, 1, "an expand_as")


@handles("torch.permute", "Tensor.permute", params="x", pending=True)
def _permute(cv: Converter, n: Any, kw: dict[str, Any]) -> Any:
    dims = kw.get("*") or kw.get("dims") or ()
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = dims[0]
    return pat.permute(cv, n, kw["x"], tuple(d % 4 for d in dims))


@handles("torch.transpose", "Tensor.transpose", "Tensor.swapaxes", params="x a b",
         pending=True)
def _transpose(cv: Converter, n: Any, kw: dict[str, Any]) -> Any:
    x = kw["x"]
    if isinstance(x, Pending) and x.kind == "split" and {kw["a"], kw["b"]} == {1, 2}:
        return Pending("swapped", x.base, x.groups, "a channel shuffle", n)
    if isinstance(x, Pending) and x.kind == "split1" and {kw["a"], kw["b"]} == {1, 2}:
        return Pending("split", x.base, x.groups, x.what, n)  # moves an axis of one
    if isinstance(x, Pending):
        return cv.partial(x, call_name(n), n)
    return cv.unsupported(f"{call_name(n)} of axes {kw['a']} and {kw['b']}",
                          cv.module_path(n))


@handles("torch.chunk", "Tensor.chunk", params="x chunks dim", dim=0)
@handles("torch.split", "Tensor.split", params="x chunks dim", dim=0)
def _split(cv: Converter, n: Any, kw: dict[str, Any]) -> Any:
    """Along the channels: one slice per part, cut where PyTorch cut them."""
    x = act(cv, n, kw["x"])
    if x is None:
        return BAD
    if kw["dim"] % (1 + len(pat.held(cv, x))) != 1 or x.layout != "nchw" or x.unsq:
        return cv.unsupported(f"{call_name(n)} along axis {kw['dim']}", cv.module_path(n))
    parts, start = [], 0
    for shape in cv.shapes[n]:
        stop = start + shape.dims[1]
        parts.append(cv.node("slice", {"start": start, "stop": stop}, [x], n,
                             cv.path(n, "slice"), shape=shape.dims[1:]))
        start = stop
    return tuple(parts)


@handles("torch.stack", params="xs dim", dim=0)
def _stack(cv: Converter, n: Any, kw: dict[str, Any]) -> Any:
    xs = list(kw["xs"])
    if kw["dim"] != 1 or len(xs) < 2 or not all(isinstance(x, Act) and x.layout == "nchw"
                                                 and not x.unsq for x in xs):
        return cv.unsupported(f"{call_name(n)} on axis {kw['dim']}", cv.module_path(n))
    return pat.stack(cv, n, xs)


@handles("torch.sum", "Tensor.sum", params="x dim", dim=None, keepdim=False, pending=True)
def _sum(cv: Converter, n: Any, kw: dict[str, Any]) -> Any:
    """Over the groups of a split (1): the sum of its channel slices."""
    x = kw["x"]
    if isinstance(x, Pending) and x.kind == "split" and kw["dim"] == 1 and not kw["keepdim"]:
        return pat.sum_groups(cv, n, x)
    if isinstance(x, Pending):
        return cv.partial(x, call_name(n), n)
    return cv.unsupported(f"{call_name(n)} over axes {kw['dim']}", cv.module_path(n))


@handles("operator.getitem", params="x index", pending=True)
def _getitem(cv: Converter, n: Any, kw: dict[str, Any]) -> Any:
    x, index = kw["x"], kw["index"]
    if isinstance(x, (tuple, list)):
        return x[index]
    return pat.index(cv, n, x, index)

# ---------------------------------------------------------------- pools
def _window(op: str, names: str):
    """A pool call read by the pool's own ``from_torch``, its arguments as a module's."""
    def handle(cv: Converter, n: Any, kw: dict[str, Any]) -> Any:
        x = act(cv, n, kw["x"])
        if x is None:
            return BAD
        fake = SimpleNamespace(**{k: kw.get(k) for k in names.split()})
        try:
            attrs = ops.get(op).from_torch(fake, [cv.type_of(x)])
        except ValueError as e:
            return cv.unsupported(f"{call_name(n)}: {e}", cv.module_path(n))
        return cv.node(op, attrs, [x], n, cv.path(n, op))
    return handle


_MAX = "x kernel_size stride padding dilation ceil_mode return_indices"
_AVG = "x kernel_size stride padding ceil_mode count_include_pad divisor_override"
handles("F.max_pool2d", "torch.max_pool2d", "F._max_pool2d", params=_MAX, stride=None,
        padding=0, dilation=1, ceil_mode=False, return_indices=False)(
    _window("maxpool", _MAX))
handles("F.avg_pool2d", "torch.avg_pool2d", params=_AVG, stride=None, padding=0,
        ceil_mode=False, count_include_pad=True, divisor_override=None)(
    _window("avgpool", _AVG))
handles("F.adaptive_avg_pool2d", "torch.adaptive_avg_pool2d", params="x output_size")(
    _window("adaptiveavgpool", "output_size"))
handles("F.adaptive_max_pool2d", "torch.adaptive_max_pool2d", "F.adaptive_max_pool2d_with_indices",
        params="x output_size return_indices", return_indices=False)(
    _window("gmp", "output_size"))


@handles("Tensor.mean", "torch.mean", "Tensor.amax", "torch.amax", params="x dim keepdim",
         keepdim=False)
def _reduce(cv: Converter, n: Any, kw: dict[str, Any]) -> Any:
    """Over height and width: global pooling (a Cx1x1 map kept: adaptive pooling)."""
    x = act(cv, n, kw["x"])
    if x is None:
        return BAD
    dim = kw["dim"]
    dims = {d % 4 for d in (dim if isinstance(dim, (tuple, list)) else (dim,))} \
        if dim is not None else set()
    spatial = {1, 2} if x.layout == "nhwc" else {2, 3}
    if dims != spatial or x.unsq:
        return cv.unsupported(f"{call_name(n)} over axes {dim}", cv.module_path(n))
    mean = call_name(n).endswith("mean")
    if kw["keepdim"] and mean and x.layout == "nchw":
        return cv.node("adaptiveavgpool", {"size": 1}, [x], n, cv.path(n, "adaptiveavgpool"))
    if kw["keepdim"] and x.layout == "nhwc":
        return cv.unsupported(f"{call_name(n)} keeping the axes of a channels-last tensor",
                              cv.module_path(n))
    op = "gap" if mean else "gmp"
    return cv.node(op, {}, [x], n, cv.path(n, op))


@handles("F.interpolate", "F.upsample", params="x size scale_factor mode align_corners",
         size=None, scale_factor=None, mode="nearest", align_corners=None)
def _interpolate(cv: Converter, n: Any, kw: dict[str, Any]) -> Any:
    return _window("upsample", "size scale_factor mode align_corners")(cv, n, kw)
