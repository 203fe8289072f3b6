"""An independent reference interpreter of the IR: one function per operator, written
from the operator's documented meaning (plain tensor math, or a torch.nn.functional
call spelled out from the node's attributes), never through the emitted module's
forward. Learned parameters and BN statistics are read from the built model through
``net.module_paths()``. An operator without a function here fails loudly.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from cnndsl import Network

torch = pytest.importorskip("torch")  # also when --doctest-modules imports this file
from torch import Tensor, nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402


@dataclass(frozen=True)
class Ctx:
    training: bool
    result: bool  # the node is the network's output or an auxiliary output


A, Xs, M = dict[str, Any], list[Tensor], nn.Module | None  # attributes, inputs, module
Ref = Callable[[A, Xs, M, Ctx], Tensor | None]
REFS: dict[str, Ref] = {}


class MissingReference(NotImplementedError):
    """An operator the reference interpreter does not know: add it here."""


def ref(*names: str) -> Callable[[Ref], Ref]:
    def register(fn: Ref) -> Ref:
        for n in names:
            REFS[n] = fn
        return fn
    return register


@torch.no_grad()
def run_reference(net: Network, model: nn.Module, x: Tensor, training: bool = False
                  ) -> dict[str, Tensor | None]:
    """Every node's value on input ``x``. In training mode a node downstream of a random
    operator (dropout or drop path with 0 < p < 1) has the value None."""
    graph = net.graph
    paths = net.module_paths()
    results = {graph.output, *graph.aux}
    values: dict[str, Tensor | None] = {}
    for node in graph.nodes:
        fn = REFS.get(node.op)
        if fn is None:
            raise MissingReference(f"no reference for operator {node.op!r} (node {node.name})")
        if node.op == "input":
            values[node.name] = x
            continue
        ins = [values[i] for i in node.inputs]
        module = model.get_submodule(paths[node.name]) if node.name in paths else None
        ctx = Ctx(training, node.name in results)
        values[node.name] = None if any(i is None for i in ins) else fn(node.attr_map, ins, module, ctx)
    return values


def _per_channel(v: Tensor, like: Tensor) -> Tensor:
    """A per-channel vector shaped to broadcast over dim 1 of ``like``."""
    return v.reshape((1, -1) + (1,) * (like.dim() - 2))


# ---------------------------------------------------------------- structure
@ref("input", "identity")
def _identity(a: A, xs: Xs, m: M, ctx: Ctx) -> Tensor:
    return xs[0]


@ref("concat")
def _concat(a: A, xs: Xs, m: M, ctx: Ctx) -> Tensor:
    return torch.cat(xs, dim=1)


@ref("add")
def _add(a: A, xs: Xs, m: M, ctx: Ctx) -> Tensor:
    out = xs[0]
    for x in xs[1:]:
        out = out + x
    return out


@ref("mean")
def _mean(a: A, xs: Xs, m: M, ctx: Ctx) -> Tensor:
    return _add(a, xs, m, ctx) / len(xs)


@ref("mul")
def _mul(a: A, xs: Xs, m: M, ctx: Ctx) -> Tensor:
    rank = max(x.dim() for x in xs)  # a vector of C scales the channels of a map
    out = None
    for x in xs:
        x = x.reshape(x.shape + (1,) * (rank - x.dim()))
        out = x if out is None else out * x
    return out


@ref("flatten")
def _flatten(a: A, xs: Xs, m: M, ctx: Ctx) -> Tensor:
    return xs[0].reshape(xs[0].shape[0], -1)


@ref("shortcut_pad")
def _shortcut_pad(a: A, xs: Xs, m: M, ctx: Ctx) -> Tensor:
    sh, sw = a["stride"]
    x = xs[0][:, :, ::sh, ::sw]
    extra = a["out"] - x.shape[1]
    out = x.new_zeros((x.shape[0], a["out"]) + x.shape[2:])
    out[:, extra // 2: extra // 2 + x.shape[1]] = x  # half the new channels before
    return out


@ref("zeropad")
def _zeropad(a: A, xs: Xs, m: M, ctx: Ctx) -> Tensor:
    t, b, lft, r = a["pad"]
    n, c, h, w = xs[0].shape
    out = xs[0].new_zeros((n, c, h + t + b, w + lft + r))
    out[:, :, t: t + h, lft: lft + w] = xs[0]
    return out


@ref("shuffle")
def _shuffle(a: A, xs: Xs, m: M, ctx: Ctx) -> Tensor:
    x, g = xs[0], a["groups"]
    n, c, h, w = x.shape
    return x.reshape(n, g, c // g, h, w).transpose(1, 2).reshape(n, c, h, w)


@ref("upsample")
def _upsample(a: A, xs: Xs, m: M, ctx: Ctx) -> Tensor:
    x, f = xs[0], a["scale"]
    if a["mode"] == "nearest":
        return x.repeat_interleave(f, dim=2).repeat_interleave(f, dim=3)
    for dim in (2, 3):  # bilinear, half-pixel centres (align_corners=False), edges clamped
        n = x.shape[dim]
        src = ((torch.arange(n * f, dtype=x.dtype) + 0.5) / f - 0.5).clamp(min=0)
        lo = src.floor().long().clamp(max=n - 1)
        hi = (lo + 1).clamp(max=n - 1)
        shape = [1] * x.dim()
        shape[dim] = -1
        frac = (src - lo).reshape(shape)
        x = x.index_select(dim, lo) * (1 - frac) + x.index_select(dim, hi) * frac
    return x


# ---------------------------------------------------------------- learned layers
@ref("conv")
def _conv(a: A, xs: Xs, m: M, ctx: Ctx) -> Tensor:
    t, b, lft, r = a["pad"]
    return F.conv2d(F.pad(xs[0], (lft, r, t, b)), m.weight, m.bias if a["bias"] else None,
                    stride=a["stride"], dilation=a["dilation"], groups=a["groups"])


@ref("deconv")
def _deconv(a: A, xs: Xs, m: M, ctx: Ctx) -> Tensor:
    return F.conv_transpose2d(xs[0], m.weight, m.bias if a["bias"] else None,
                              stride=a["stride"], padding=a["pad"],
                              output_padding=a["output_pad"], groups=a["groups"],
                              dilation=a["dilation"])


@ref("fc")
def _fc(a: A, xs: Xs, m: M, ctx: Ctx) -> Tensor:
    y = xs[0] @ m.weight.T
    return y + m.bias if a["bias"] else y


@ref("bn")
def _bn(a: A, xs: Xs, m: M, ctx: Ctx) -> Tensor:
    x = xs[0]
    if ctx.training:  # batch statistics, biased variance
        dims = [0] + list(range(2, x.dim()))
        mean, var = x.mean(dims), x.var(dims, unbiased=False)
    else:
        mean, var = m.running_mean, m.running_var
    y = (x - _per_channel(mean, x)) / torch.sqrt(_per_channel(var, x) + a["eps"])
    if a["affine"]:
        y = y * _per_channel(m.weight, x) + _per_channel(m.bias, x)
    return y


@ref("groupnorm")
def _groupnorm(a: A, xs: Xs, m: M, ctx: Ctx) -> Tensor:
    x = xs[0]
    n, c = x.shape[:2]
    g = x.reshape(n, a["groups"], -1)
    g = (g - g.mean(-1, keepdim=True)) / torch.sqrt(g.var(-1, unbiased=False, keepdim=True)
                                                    + a["eps"])
    return g.reshape(x.shape) * _per_channel(m.weight, x) + _per_channel(m.bias, x)


@ref("layernorm")
def _layernorm(a: A, xs: Xs, m: M, ctx: Ctx) -> Tensor:
    """Each position normalized over its channels, then scaled and shifted per channel."""
    x = xs[0]
    mu = x.mean(1, keepdim=True)
    var = ((x - mu) ** 2).mean(1, keepdim=True)
    return (x - mu) / torch.sqrt(var + a["eps"]) * _per_channel(m.weight, x) \
        + _per_channel(m.bias, x)


@ref("layerscale")
def _layerscale(a: A, xs: Xs, m: M, ctx: Ctx) -> Tensor:
    return xs[0] * _per_channel(m.weight, xs[0])


@ref("slice")
def _slice(a: A, xs: Xs, m: M, ctx: Ctx) -> Tensor:
    return xs[0][:, a["start"]:a["stop"]]


@ref("groupsoftmax")
def _groupsoftmax(a: A, xs: Xs, m: M, ctx: Ctx) -> Tensor:
    """exp(x_c) over the sum of exp at the same offset in each of the groups."""
    x, g = xs[0], a["groups"]
    if g == 1:
        return torch.sigmoid(x)
    parts = list(x.chunk(g, 1))
    top = torch.stack(parts).amax(0)
    exps = [torch.exp(p - top) for p in parts]
    total = sum(exps)
    return torch.cat([e / total for e in exps], 1)


@ref("lrn")
def _lrn(a: A, xs: Xs, m: M, ctx: Ctx) -> Tensor:
    """b_c = a_c / (k + alpha/n * sum of a^2 over channels c - n//2 .. c + (n-1)//2)^beta
    (PyTorch's and Caffe's convention: alpha is divided by the window size n)."""
    x, n = xs[0], a["size"]
    sq = F.pad(x * x, (0, 0, 0, 0, n // 2, (n - 1) // 2))
    total = sum(sq[:, i: i + x.shape[1]] for i in range(n))
    return x / (a["k"] + a["alpha"] / n * total) ** a["beta"]


@ref("posbias")
def _posbias(a: A, xs: Xs, m: M, ctx: Ctx) -> Tensor:
    return xs[0] + m.bias


@ref("prelu")
def _prelu(a: A, xs: Xs, m: M, ctx: Ctx) -> Tensor:
    x = xs[0]
    return torch.where(x >= 0, x, _per_channel(m.weight, x) * x)


# ---------------------------------------------------------------- pooling
@ref("maxpool")
def _maxpool(a: A, xs: Xs, m: M, ctx: Ctx) -> Tensor:
    t, b, lft, r = a["pad"]
    assert (t, lft) == (b, r), "pools pad symmetrically"
    return F.max_pool2d(xs[0], a["kernel"], a["stride"], (t, lft), a["dilation"],
                        ceil_mode=a["ceil_mode"])


@ref("avgpool")
def _avgpool(a: A, xs: Xs, m: M, ctx: Ctx) -> Tensor:
    t, b, lft, r = a["pad"]
    assert (t, lft) == (b, r), "pools pad symmetrically"
    return F.avg_pool2d(xs[0], a["kernel"], a["stride"], (t, lft), ceil_mode=a["ceil_mode"],
                        count_include_pad=a["count_include_pad"])


@ref("gap")
def _gap(a: A, xs: Xs, m: M, ctx: Ctx) -> Tensor:
    return xs[0].mean((2, 3))


@ref("gmp")
def _gmp(a: A, xs: Xs, m: M, ctx: Ctx) -> Tensor:
    return xs[0].amax((2, 3))


@ref("adaptiveavgpool")
def _adaptive(a: A, xs: Xs, m: M, ctx: Ctx) -> Tensor:
    """Cell i of n over a length L averages [floor(i*L/n), ceil((i+1)*L/n))."""
    x = xs[0]
    (oh, ow), (h, w) = a["size"], x.shape[2:]
    rows = []
    for i in range(oh):
        r0, r1 = i * h // oh, -(-(i + 1) * h // oh)
        rows.append(torch.stack([x[:, :, r0:r1, j * w // ow: -(-(j + 1) * w // ow)].mean((2, 3))
                                 for j in range(ow)], -1))
    return torch.stack(rows, -2)


# ---------------------------------------------------------------- element-wise
def _act(name: str, fn: Callable[[Tensor, A], Tensor]) -> None:
    REFS[name] = lambda a, xs, m, ctx: fn(xs[0], a)


_act("relu", lambda x, a: x.clamp(min=0))
_act("relu6", lambda x, a: x.clamp(0, 6))
_act("leakyrelu", lambda x, a: torch.where(x >= 0, x, a["slope"] * x))
_act("elu", lambda x, a: torch.where(x > 0, x, torch.expm1(x)))
_act("tanh", lambda x, a: torch.tanh(x))
_act("sigmoid", lambda x, a: 1 / (1 + torch.exp(-x)))
_act("gelu", lambda x, a: 0.5 * x * (1 + torch.erf(x / math.sqrt(2))))
_act("silu", lambda x, a: x / (1 + torch.exp(-x)))
_act("hardswish", lambda x, a: x * (x + 3).clamp(0, 6) / 6)
_act("hardsigmoid", lambda x, a: (x + 3).clamp(0, 6) / 6)
_act("scale", lambda x, a: x * a["factor"])


@ref("dropout", "droppath")
def _dropout(a: A, xs: Xs, m: M, ctx: Ctx) -> Tensor | None:
    if not ctx.training or a["p"] == 0:
        return xs[0]
    return torch.zeros_like(xs[0]) if a["p"] == 1 else None  # else random while training


@ref("softmax")
def _softmax(a: A, xs: Xs, m: M, ctx: Ctx) -> Tensor:
    """The classifier (the network's or an aux head's end) leaves the logits to the
    module's caller; anywhere else it is a softmax over the channels (dim 1)."""
    head = a.get("head")
    if head is None:  # older IR without the attribute: decide by position
        head = ctx.result
    if head:
        return xs[0]
    e = torch.exp(xs[0] - xs[0].amax(1, keepdim=True))
    return e / e.sum(1, keepdim=True)
