"""The ONNX operators one node each: convolutions, pools, norms, activations, linear
layers, merges, views. Each handler reads its node into the language's operators
(:meth:`~cnndsl.importer.onnx_lower.Reader.emit`) or says why it cannot
(:class:`~cnndsl.importer.onnx_lower.NotSupported`); operators ONNX writes as several
nodes are :mod:`.onnx_patterns`. Attributes follow the ONNX spec for opsets 11 to 21
(and the older forms the torch exporters still write: Clip's and Dropout's attributes,
Split's and Squeeze's axes as attributes).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .onnx_graph import attrs_of
from .onnx_lower import NotSupported, Reader, Ref, auto_pads, nice_float, pads4

Handler = Callable[[Reader, int, Any], None]
HANDLERS: dict[str, Handler] = {}


def handles(*op_types: str) -> Callable[[Handler], Handler]:
    def register(f: Handler) -> Handler:
        for t in op_types:
            HANDLERS[t] = f
        return f
    return register


def _pair(v: Any, default: int) -> tuple[int, int]:
    v = tuple(int(x) for x in v) if v is not None else (default, default)
    if len(v) != 2:
        raise NotSupported(f"a {len(v)}-D window")
    return v  # type: ignore[return-value]


def _used(r: Reader, n: Any, index: int) -> bool:
    return len(n.output) > index and bool(n.output[index]) and bool(r.g.users(n.output[index]))


# ---------------------------------------------------------------- views and no-ops
@handles("Identity", "Cast")
def _identity(r: Reader, i: int, n: Any) -> None:
    if n.op_type == "Cast" and attrs_of(n).get("to") not in (1, 10, 11, 16):  # floats
        raise NotSupported("Cast to a non-float type")
    r.alias(n.output[0], r.ref(n.input[0]))


@handles("Flatten", "Reshape", "Squeeze", "Unsqueeze")
def _view(r: Reader, i: int, n: Any) -> None:
    """A change of shape that keeps every element in place: nothing, or ``flatten`` of a
    map; a vector seen as C x 1 x 1 for a per-channel ``mul``."""
    x = r.ref(n.input[0])
    dims = r.type_of(x).dims
    out = r.g.static_shape(n.output[0])
    if out is None and n.op_type == "Flatten" and attrs_of(n).get("axis", 1) == 1:
        out = (r.g.batch, int(np.prod(dims)))
    if out is None or out[0] != r.g.batch:
        raise NotSupported(f"{n.op_type} across the batch" if out else n.op_type)
    sample = tuple(out[1:])
    if x.layout == "nhwc":
        if sample == dims[1:] + dims[:1]:
            return r.alias(n.output[0], x)
        raise NotSupported(f"{n.op_type} of a channels-last map")
    if sample == dims:
        return r.alias(n.output[0], Ref(x.op))
    if len(dims) == 3 and sample == (int(np.prod(dims)),):
        r.emit("flatten", {}, [Ref(x.op)], [i])
        return None
    if len(dims) == 1 and sample in ((dims[0], 1, 1), (dims[0], 1)):
        return r.alias(n.output[0], Ref(x.op, "vec11"))
    shown = "x".join(str(d) for d in sample)
    raise NotSupported(f"{n.op_type} of {'x'.join(map(str, dims))} to {shown}")


@handles("Transpose")
def _transpose(r: Reader, i: int, n: Any) -> None:
    x = r.ref(n.input[0])
    perm = tuple(attrs_of(n).get("perm", ()))
    rank = len(r.type_of(x).dims) + 1
    if perm == tuple(range(rank)):
        return r.alias(n.output[0], x)
    if x.layout == "nchw" and perm == (0, 2, 3, 1) and rank == 4:
        return r.alias(n.output[0], Ref(x.op, "nhwc"))
    if x.layout == "nhwc" and perm == (0, 3, 1, 2):
        return r.alias(n.output[0], Ref(x.op))
    raise NotSupported(f"Transpose {list(perm)}")


@handles("Dropout")
def _dropout(r: Reader, i: int, n: Any) -> None:
    at = attrs_of(n)
    ratio = r.opt_const(n, 1)
    p = float(ratio.reshape(-1)[0]) if ratio is not None else at.get("ratio", 0.5)
    training = r.opt_const(n, 2)
    if (training is not None and bool(training.reshape(-1)[0])) or _used(r, n, 1):
        raise NotSupported("Dropout in training mode")
    r.emit("dropout", {"p": nice_float(p)}, [r.ref(n.input[0])], [i])


@handles("cnndsl.DropPath")
def _droppath(r: Reader, i: int, n: Any) -> None:
    r.emit("droppath", {"p": nice_float(attrs_of(n).get("p", 0.0))}, [r.ref(n.input[0])], [i])


# ---------------------------------------------------------------- convolutions
@handles("Conv")
def _conv(r: Reader, i: int, n: Any) -> None:
    x = r.ref(n.input[0], padded=True)
    if x.layout != "nchw" or not r.type_of(x).is_map:
        raise NotSupported("Conv on a channels-last map or a vector")
    w = r.const(n.input[1], "Conv with a computed weight")
    if w.ndim != 4:
        raise NotSupported(f"Conv over {w.ndim - 2} dimensions")
    b = r.opt_const(n, 2)
    at = attrs_of(n)
    kernel = _pair(at.get("kernel_shape", w.shape[2:]), 1)
    stride, dilation = _pair(at.get("strides"), 1), _pair(at.get("dilations"), 1)
    groups = int(at.get("group", 1))
    t = r.type_of(x)
    if w.shape[1] * groups != t.channels:
        raise NotSupported(f"Conv with a weight of {w.shape} on {t.channels} channels")
    mode = at.get("auto_pad", "NOTSET")
    pad = pads4(at.get("pads", (0, 0, 0, 0))) if mode in ("NOTSET", "") else \
        auto_pads(mode, t.dims[1:], kernel, stride, dilation)
    nodes = [i]
    if x.pad is not None:  # a functional zero pad before it (TensorFlow's 'same')
        pad = tuple(a + c for a, c in zip(pad, x.pad))  # type: ignore[assignment]
        nodes.append(x.pad_node)
    r.emit("conv", {"out": int(w.shape[0]), "kernel": kernel, "stride": stride, "pad": pad,
                    "dilation": dilation, "groups": groups, "bias": b is not None},
           [Ref(x.op)], nodes, [w] + ([b] if b is not None else []))


@handles("ConvTranspose")
def _deconv(r: Reader, i: int, n: Any) -> None:
    x = r.map(n.input[0], "ConvTranspose")
    w = r.const(n.input[1], "ConvTranspose with a computed weight")
    if w.ndim != 4:
        raise NotSupported(f"ConvTranspose over {w.ndim - 2} dimensions")
    b = r.opt_const(n, 2)
    at = attrs_of(n)
    if at.get("auto_pad", "NOTSET") not in ("NOTSET", "") or "output_shape" in at:
        raise NotSupported("ConvTranspose with auto_pad or output_shape")
    t, lft, bottom, right = (int(p) for p in at.get("pads", (0, 0, 0, 0)))
    if (t, lft) != (bottom, right):
        raise NotSupported("ConvTranspose with uneven padding")
    groups = int(at.get("group", 1))
    r.emit("deconv", {"out": int(w.shape[1]) * groups,
                      "kernel": _pair(at.get("kernel_shape", w.shape[2:]), 1),
                      "stride": _pair(at.get("strides"), 1), "pad": (t, lft),
                      "output_pad": _pair(at.get("output_padding"), 0),
                      "dilation": _pair(at.get("dilations"), 1), "groups": groups,
                      "bias": b is not None},
           [x], [i], [w] + ([b] if b is not None else []))


# ---------------------------------------------------------------- pools
def _window(r: Reader, n: Any, x: Ref) -> dict[str, Any]:
    at = attrs_of(n)
    kernel = _pair(at.get("kernel_shape"), 1)
    stride = _pair(at.get("strides"), 1)
    if _pair(at.get("dilations"), 1) != (1, 1):
        raise NotSupported(f"{n.op_type} with dilation")
    mode = at.get("auto_pad", "NOTSET")
    pad = pads4(at.get("pads", (0, 0, 0, 0))) if mode in ("NOTSET", "") else \
        auto_pads(mode, r.type_of(x).dims[1:], kernel, stride, (1, 1))
    return {"kernel": kernel, "stride": stride, "pad": pad,
            "ceil_mode": bool(at.get("ceil_mode", 0))}


@handles("MaxPool")
def _maxpool(r: Reader, i: int, n: Any) -> None:
    x = r.map(n.input[0], "MaxPool")
    if _used(r, n, 1):
        raise NotSupported("MaxPool with indices")
    r.emit("maxpool", _window(r, n, x), [x], [i])


@handles("AveragePool")
def _avgpool(r: Reader, i: int, n: Any) -> None:
    x = r.ref(n.input[0], padded=True)
    if x.layout != "nchw" or not r.type_of(x).is_map:
        raise NotSupported("AveragePool on a channels-last map or a vector")
    a = _window(r, n, x)
    include = bool(attrs_of(n).get("count_include_pad", 0))
    nodes = [i]
    if x.pad is not None:  # zeros padded before: counted, as count_include_pad counts them
        a["pad"] = tuple(p + q for p, q in zip(a["pad"], x.pad))
        include, nodes = True, [i, x.pad_node]
    if a["kernel"] == a["stride"] == (1, 1) and not any(a["pad"]) and not a["ceil_mode"]:
        # what the exporters write for an adaptive pool to the size it is given
        r.emit("adaptiveavgpool", {"size": r.type_of(x).dims[1:]}, [Ref(x.op)], nodes)
        return
    # without padding the flag changes nothing: the language's default then
    a["count_include_pad"] = include or not any(a["pad"])
    r.emit("avgpool", a, [Ref(x.op)], nodes)


@handles("GlobalAveragePool")
def _global_avg(r: Reader, i: int, n: Any) -> None:
    r.emit("adaptiveavgpool", {"size": 1}, [r.map(n.input[0], n.op_type)], [i])


@handles("ReduceMean", "ReduceMax")
def _reduce(r: Reader, i: int, n: Any) -> None:
    """A mean (max) over H and W: ``gap`` (``gmp``), or a 1x1 adaptive pool where the
    dims are kept."""
    x = r.ref(n.input[0])
    at = attrs_of(n)
    axes = at.get("axes")
    if axes is None and len(n.input) > 1 and n.input[1]:
        axes = [int(a) for a in r.const(n.input[1]).reshape(-1)]
    spatial = {1, 2} if x.layout == "nhwc" else {2, 3}
    if axes is None or {a % 4 for a in axes} != spatial or not r.type_of(x).is_map:
        raise NotSupported(f"{n.op_type} over axes {axes}")
    keep = bool(at.get("keepdims", 1))
    if not keep:
        r.emit("gap" if n.op_type == "ReduceMean" else "gmp", {}, [Ref(x.op)], [i])
    elif n.op_type == "ReduceMean" and x.layout == "nchw":
        r.emit("adaptiveavgpool", {"size": 1}, [x], [i])
    else:
        raise NotSupported(f"{n.op_type} keeping its dims")


# ---------------------------------------------------------------- norms
@handles("BatchNormalization")
def _bn(r: Reader, i: int, n: Any) -> None:
    x = r.ref(n.input[0])
    if x.layout != "nchw":
        raise NotSupported("BatchNormalization of a channels-last map")
    at = attrs_of(n)
    if at.get("training_mode", 0) or any(_used(r, n, k) for k in range(1, 5)):
        raise NotSupported("BatchNormalization in training mode")
    weights = [r.const(v, "BatchNormalization with computed statistics") for v in n.input[1:5]]
    r.emit("bn", {"eps": nice_float(at.get("epsilon", 1e-5)),
                  "momentum": round(1 - nice_float(at.get("momentum", 0.9)), 12)},
           [x], [i], weights)


@handles("InstanceNormalization")
def _instancenorm(r: Reader, i: int, n: Any) -> None:
    x = r.map(n.input[0], "InstanceNormalization")
    scale, bias = r.const(n.input[1]), r.const(n.input[2])
    r.emit("groupnorm", {"groups": r.channels(x),
                         "eps": nice_float(attrs_of(n).get("epsilon", 1e-5))},
           [x], [i], [scale, bias])


@handles("GroupNormalization")
def _groupnorm(r: Reader, i: int, n: Any) -> None:
    x = r.map(n.input[0], "GroupNormalization")
    at = attrs_of(n)
    g, c = int(at["num_groups"]), r.channels(x)
    scale, bias = r.const(n.input[1]).reshape(-1), r.const(n.input[2]).reshape(-1)
    if scale.size == g and g != c and c % g == 0:  # opset 18: one scale per group
        scale, bias = np.repeat(scale, c // g), np.repeat(bias, c // g)
    r.emit("groupnorm", {"groups": g, "eps": nice_float(at.get("epsilon", 1e-5))},
           [x], [i], [scale, bias])


@handles("LayerNormalization")
def _layernorm(r: Reader, i: int, n: Any) -> None:
    """Over the channels only: of a channels-last map (after a Transpose, as ConvNeXt's
    LayerNorm2d and torchvision's CNBlock write it), or of a vector."""
    x = r.ref(n.input[0])
    at = attrs_of(n)
    rank = 4 if x.layout == "nhwc" else len(r.type_of(x).dims) + 1
    if at.get("axis", -1) % rank != rank - 1 or x.layout == "vec11" or \
            (x.layout == "nchw" and rank != 2) or _used(r, n, 1) or _used(r, n, 2):
        raise NotSupported("LayerNormalization over more than the channels")
    scale = r.const(n.input[1]).reshape(-1)
    bias = r.opt_const(n, 2)
    bias = np.zeros_like(scale) if bias is None else bias.reshape(-1)
    r.emit("layernorm", {"eps": nice_float(at.get("epsilon", 1e-5))}, [x], [i],
           [scale, bias], layout=x.layout)


@handles("LRN")
def _lrn(r: Reader, i: int, n: Any) -> None:
    at = attrs_of(n)
    size = int(at["size"])
    if size % 2 == 0:  # ONNX centres an even window one channel later than PyTorch
        raise NotSupported("LRN of an even size")
    r.emit("lrn", {"size": size, "alpha": nice_float(at.get("alpha", 1e-4)),
                   "beta": nice_float(at.get("beta", 0.75)),
                   "k": nice_float(at.get("bias", 1.0))},
           [r.map(n.input[0], "LRN")], [i])
