"""ONNX activations, arithmetic and linear layers, one node each (see :mod:`.onnx_ops`
for the convention): Relu and its kin, Clip as relu6, Add and Mul of two maps or of a
map and a constant (a position bias, a layer scale, a constant scale), Gemm and MatMul
as fully connected layers (or, on a channels-last map, as 1x1 convolutions).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .onnx_graph import attrs_of
from .onnx_lower import NotSupported, Reader, Ref, nice_float
from .onnx_ops import handles

TOL = 1e-6  # relative: float32 attributes of exactly PyTorch's constants (1/6, 0.5)


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= TOL * max(abs(b), 1e-30)


# ---------------------------------------------------------------- activations
@handles("Relu", "Sigmoid", "Tanh", "HardSwish")
def _simple(r: Reader, i: int, n: Any) -> None:
    x = r.ref(n.input[0])
    op = {"Relu": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh", "HardSwish": "hardswish"}
    r.emit(op[n.op_type], {}, [x], [i], layout=x.layout)


@handles("Elu", "LeakyRelu", "HardSigmoid", "Gelu")
def _parametric(r: Reader, i: int, n: Any) -> None:
    x = r.ref(n.input[0])
    at = attrs_of(n)
    if n.op_type == "Elu":
        if not _close(at.get("alpha", 1.0), 1.0):
            raise NotSupported(f"Elu with alpha={at['alpha']:g}")
        r.emit("elu", {}, [x], [i], layout=x.layout)
    elif n.op_type == "LeakyRelu":
        r.emit("leakyrelu", {"slope": nice_float(at.get("alpha", 0.01))}, [x], [i],
               layout=x.layout)
    elif n.op_type == "HardSigmoid":  # PyTorch's: relu6(x + 3) / 6
        alpha, beta = at.get("alpha", 0.2), at.get("beta", 0.5)
        if not (_close(alpha, 1 / 6) and _close(beta, 0.5)):
            raise NotSupported(f"HardSigmoid with alpha={alpha:g}, beta={beta:g}")
        r.emit("hardsigmoid", {}, [x], [i], layout=x.layout)
    else:
        if at.get("approximate", "none") != "none":
            raise NotSupported(f"Gelu ({at['approximate']} approximation)")
        r.emit("gelu", {}, [x], [i], layout=x.layout)


@handles("Clip")
def _clip(r: Reader, i: int, n: Any) -> None:
    """Clip(0, 6) is relu6 (MobileNet), Clip(0, inf) relu; any other range is not."""
    x = r.ref(n.input[0])
    at = attrs_of(n)
    lo, hi = at.get("min"), at.get("max")
    if len(n.input) > 1 and n.input[1]:
        lo = float(r.const(n.input[1]).reshape(-1)[0])
    if len(n.input) > 2 and n.input[2]:
        hi = float(r.const(n.input[2]).reshape(-1)[0])
    if lo == 0 and hi is not None and _close(hi, 6.0):
        r.emit("relu6", {}, [x], [i], layout=x.layout)
    elif lo == 0 and (hi is None or hi == np.inf or hi >= 3.4e38):
        r.emit("relu", {}, [x], [i], layout=x.layout)
    else:
        raise NotSupported(f"Clip to [{lo if lo is not None else '-inf'}, "
                           f"{hi if hi is not None else 'inf'}]")


@handles("PRelu")
def _prelu(r: Reader, i: int, n: Any) -> None:
    x = r.ref(n.input[0])
    slope = r.const(n.input[1], "PRelu with a computed slope").reshape(-1)
    c = r.channels(x)
    if x.layout != "nchw" or slope.size not in (1, c):
        raise NotSupported(f"PRelu with {slope.size} slopes on {c} channels")
    if slope.size == 1 and c > 1:
        r.notes.append(f"{n.name or 'PRelu'}: one slope shared by all channels, written as "
                       f"prelu with {c} equal slopes (the language's prelu has one per "
                       "channel; the same function, more parameters)")
        slope = np.repeat(slope, c)
    r.emit("prelu", {}, [x], [i], [slope])


# ---------------------------------------------------------------- arithmetic
def _merge_refs(r: Reader, values: list[str], op: str) -> list[Ref]:
    refs = [r.ref(v) for v in values]
    layouts = {x.layout for x in refs} - ({"vec11"} if op == "mul" else set())
    if len(layouts) > 1 or (op != "mul" and "vec11" in layouts):
        raise NotSupported(f"{op} of differently laid out tensors")
    return [Ref(x.op) for x in refs]


def merge(r: Reader, op: str, values: list[str], nodes: list[int], out: str) -> None:
    """``add``, ``mul`` or ``mean`` of the values (an n-ary chain, :mod:`.onnx_patterns`)."""
    refs = _merge_refs(r, values, op)
    layout = next((r.ref(v).layout for v in values if r.ref(v).layout != "vec11"), "nchw")
    r.emit(op, {}, refs, nodes, out=out, layout=layout)


def _constant_operand(r: Reader, n: Any) -> tuple[str, np.ndarray | None]:
    """The non-constant input of a binary node and the constant one (None: none)."""
    a, b = n.input[0], n.input[1]
    if r.g.is_const(a) and r.g.is_const(b):
        raise NotSupported(f"{n.op_type} of two constants")
    if r.g.is_const(b):
        return a, r.g.const(b)
    if r.g.is_const(a):
        return b, r.g.const(a)
    return a, None


def _per_channel(r: Reader, x: Ref, c: np.ndarray) -> np.ndarray | None:
    """``c`` as one value per channel of ``x`` (shaped as the module holds it), if it is."""
    dims = r.type_of(x).dims
    ch = dims[0]
    shapes = {"nchw": ((ch, 1, 1), (1, ch, 1, 1)) if len(dims) == 3 else ((ch,), (1, ch)),
              "nhwc": ((ch,), (1, ch), (1, 1, ch), (1, 1, 1, ch))}.get(x.layout, ())
    if tuple(c.shape) not in shapes:
        return None
    return c.reshape((ch, 1, 1) if len(dims) == 3 else (ch,))


@handles("Add", "Sum")
def _add(r: Reader, i: int, n: Any) -> None:
    if n.op_type == "Sum" or len(n.input) != 2:
        return merge(r, "add", list(n.input), [i], n.output[0])
    value, c = _constant_operand(r, n)
    if c is None:
        return merge(r, "add", list(n.input), [i], n.output[0])
    x = r.ref(value)
    dims = r.type_of(x).dims
    if x.layout == "nchw" and len(dims) == 3 and tuple(c.shape) in (dims, (1,) + dims):
        r.emit("posbias", {}, [x], [i], [c.reshape(dims)])  # a bias per position (AlphaGo)
        return None
    raise NotSupported(f"Add of a constant of shape {tuple(c.shape)}")


@handles("Mul")
def _mul(r: Reader, i: int, n: Any) -> None:
    value, c = _constant_operand(r, n)
    if c is None:
        return merge(r, "mul", list(n.input), [i], n.output[0])
    x = r.ref(value)
    if c.size == 1:
        r.emit("scale", {"factor": nice_float(float(c.reshape(-1)[0]))}, [x], [i],
               layout=x.layout)
        return None
    w = _per_channel(r, x, c)
    if w is None:
        raise NotSupported(f"Mul by a constant of shape {tuple(c.shape)}")
    r.emit("layerscale", {"init": layer_scale_init(r, n, w)}, [Ref(x.op)], [i], [w],
           layout=x.layout)
    return None


def layer_scale_init(r: Reader, n: Any, w: np.ndarray) -> float:
    """The language's ``init`` of a layer scale: its value where all are equal (a fresh
    model), else the usual 1e-6 (a trained one: the weights are copied anyway)."""
    flat = w.reshape(-1)
    if np.all(flat == flat[0]):
        return nice_float(float(flat[0]))
    return 1e-6


@handles("Div")
def _div(r: Reader, i: int, n: Any) -> None:
    c = r.g.const(n.input[1])
    if c is None or c.size != 1 or r.g.is_const(n.input[0]):
        raise NotSupported("Div")
    x = r.ref(n.input[0])
    r.emit("scale", {"factor": nice_float(1.0 / float(c.reshape(-1)[0]))}, [x], [i],
           layout=x.layout)


# ---------------------------------------------------------------- linear layers
@handles("Gemm")
def _gemm(r: Reader, i: int, n: Any) -> None:
    x = r.ref(n.input[0])
    at = attrs_of(n)
    b = r.const(n.input[1], "Gemm with a computed weight")
    c = r.opt_const(n, 2)
    if at.get("transA", 0) or x.layout != "nchw" or not r.type_of(x).is_vector:
        raise NotSupported("Gemm on a transposed or non-vector input")
    w = (b if at.get("transB", 0) else b.T) * at.get("alpha", 1.0)
    bias = None if c is None else np.broadcast_to(c * at.get("beta", 1.0), (w.shape[0],))
    linear(r, x, w, bias, [i], n.output[0])


@handles("MatMul")
def _matmul(r: Reader, i: int, n: Any) -> None:
    w = r.const(n.input[1], "MatMul of two computed tensors")
    linear(r, r.ref(n.input[0]), w.T, None, [i], n.output[0])


def linear(r: Reader, x: Ref, w: np.ndarray, bias: np.ndarray | None, nodes: list[int],
           out: str) -> None:
    """``w`` (out x in) on a vector: ``fc``; on a channels-last map: a 1x1 ``conv``
    (torchvision's ConvNeXt runs its pointwise layers as Linear after a Transpose)."""
    if w.ndim != 2 or w.shape[1] != r.channels(x) or x.layout == "vec11":
        raise NotSupported(f"MatMul with a weight of shape {tuple(w.T.shape)}")
    weights = [w] + ([bias] if bias is not None else [])
    if x.layout == "nhwc":
        weights[0] = w[:, :, None, None]
        r.emit("conv", {"out": int(w.shape[0]), "kernel": 1, "pad": 0,
                        "bias": bias is not None}, [Ref(x.op)], nodes, weights, out=out,
               layout="nhwc")
    elif r.type_of(x).is_vector:
        r.emit("fc", {"out": int(w.shape[0]), "bias": bias is not None}, [x], nodes, weights,
               out=out)
    else:
        raise NotSupported("MatMul on a feature map")
