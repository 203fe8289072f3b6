"""The operators ONNX writes as several nodes, found before the walk (see
:mod:`.onnx_lower`): each match claims its nodes and makes one operator when the walk
reaches the last of them. A match needs every value inside it to be read by the next
node of the match alone, so that nothing else depends on what is folded away.

- GELU as ``0.5 * x * (1 + erf(x / sqrt(2)))`` (before opset 20), SiLU as
  ``x * sigmoid(x)``, hard swish as ``x * hardsigmoid(x)``;
- a global pool and the Flatten after it: ``gap`` (``gmp``), unless the two are modules
  of their own (the language's ``adaptiveavgpool(1) - flatten``);
- channel shuffle (Reshape to N x g x C/g x H x W, Transpose, Reshape back) and a
  softmax across groups (the same with a Softmax inside);
- group norm as the torch exporter writes it (Reshape to groups, InstanceNormalization,
  Reshape back, Mul, Add), and layer norm before opset 17 (ReduceMean, Sub, Pow,
  ReduceMean, Add, Sqrt, Div, Mul, Add);
- MatMul and the Add of its bias: one fully connected layer (or 1x1 convolution);
- ``x[:, :, ::2, ::2]`` and the zero channels padded to it: a ``shortcut_pad``;
- a chain of Adds (Muls) in one forward: one n-ary ``add`` (``mul``), and divided by
  its count: ``mean``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from .onnx_channels import pad_amounts, shortcut_pad, slice_params, subsample
from .onnx_elementwise import linear, merge
from .onnx_graph import attrs_of
from .onnx_lower import Fused, NotSupported, Reader, nice_float
from .onnx_paths import Tree, module_of

Finder = Callable[[Reader, int, Any], "Fused | None"]


def find_patterns(r: Reader) -> None:
    """Record every match in ``r.fused`` (each node in one match at most)."""
    g = r.g
    claimed = set(g.folded) | r.dropped
    tree = Tree({str(i): n.name for i, n in enumerate(g.nodes) if i not in claimed})
    for finder in (_gelu, _activation_product, _global_pool(tree), _groups, _groupnorm,
                   _layernorm, _matmul_bias, _shortcut, _mean, _chain):
        for i, n in enumerate(g.nodes):
            if i in claimed:
                continue
            f = finder(r, i, n)
            if f is not None and not set(f.nodes) & claimed:
                claimed.update(f.nodes)
                r.fused.update((k, f) for k in f.nodes)


# ---------------------------------------------------------------- helpers
def _node(r: Reader, value: str) -> tuple[int, Any] | tuple[None, None]:
    """The node computing ``value`` (None for the input, a constant or a folded value)."""
    k = r.g.producer.get(value)
    if k is None or k in r.g.folded:
        return None, None
    return k, r.g.nodes[k]


def _next(r: Reader, n: Any, op_types: tuple[str, ...]) -> tuple[int, Any] | tuple[None, None]:
    """The one node reading ``n``'s output, if it is one of ``op_types``."""
    k = r.g.sole_user(n.output[0])
    if k is None or r.g.nodes[k].op_type not in op_types:
        return None, None
    return k, r.g.nodes[k]


def _scalar(r: Reader, value: str) -> float | None:
    c = r.g.const(value) if value else None
    return float(c.reshape(-1)[0]) if c is not None and c.size == 1 else None


def _other(n: Any, value: str) -> str | None:
    """The other input of a binary node that reads ``value``."""
    if len(n.input) != 2 or value not in n.input:
        return None
    return n.input[1] if n.input[0] == value else n.input[0]


def _is(x: float | None, target: float) -> bool:
    return x is not None and abs(x - target) <= 1e-6 * abs(target)


def _computed(r: Reader, n: Any) -> bool:
    return all(v and not r.g.is_const(v) for v in n.input)


def _unary(op: str, x: str, nodes: list[int], out: str) -> Callable[[Reader], None]:
    def make(r: Reader) -> None:
        ref = r.ref(x)
        r.emit(op, {}, [ref], nodes, out=out, layout=ref.layout)
    return make


# ---------------------------------------------------------------- activations
def _gelu(r: Reader, i: int, n: Any) -> Fused | None:
    if n.op_type != "Erf":
        return None
    k0, src = _node(r, n.input[0])
    if src is None or r.g.sole_user(src.output[0]) != i:
        return None
    x = src.input[0]
    if not ((src.op_type == "Div" and _is(_scalar(r, src.input[1]), math.sqrt(2))) or
            (src.op_type == "Mul" and _is(_scalar(r, _other(src, x) or ""), 1 / math.sqrt(2)))):
        return None
    k1, add = _next(r, n, ("Add",))
    if add is None or not _is(_scalar(r, _other(add, n.output[0]) or ""), 1.0):
        return None
    k2, m1 = _next(r, add, ("Mul",))
    if m1 is None:
        return None
    factor = _other(m1, add.output[0])
    nodes = [i, k0, k1, k2]
    if factor == x or _is(_scalar(r, factor or ""), 0.5):  # (x * s) * 0.5, (s * 0.5) * x
        k3, m2 = _next(r, m1, ("Mul",))
        rest = _other(m2, m1.output[0]) if m2 is not None else None
        if m2 is None or (rest != x if factor != x else not _is(_scalar(r, rest or ""), 0.5)):
            return None
        return Fused(nodes + [k3], "GELU", _unary("gelu", x, nodes + [k3], m2.output[0]))
    k3, half = _node(r, factor or "")  # (x * 0.5) * s
    if half is None or half.op_type != "Mul" or r.g.sole_user(half.output[0]) != k2 or \
            not _is(_scalar(r, _other(half, x) or ""), 0.5):
        return None
    return Fused(nodes + [k3], "GELU", _unary("gelu", x, nodes + [k3], m1.output[0]))


def _activation_product(r: Reader, i: int, n: Any) -> Fused | None:
    """x * sigmoid(x): silu; x * hardsigmoid(x) (PyTorch's): hardswish."""
    if n.op_type not in ("Sigmoid", "HardSigmoid"):
        return None
    if n.op_type == "HardSigmoid":
        at = attrs_of(n)
        if not (_is(at.get("alpha", 0.2), 1 / 6) and _is(at.get("beta", 0.5), 0.5)):
            return None
    k, m = _next(r, n, ("Mul",))
    if m is None or _other(m, n.output[0]) != n.input[0]:
        return None
    op = "silu" if n.op_type == "Sigmoid" else "hardswish"
    return Fused([i, k], op, _unary(op, n.input[0], [i, k], m.output[0]))


# ---------------------------------------------------------------- pools and groups
def _global_pool(tree: Tree) -> Finder:
    def find(r: Reader, i: int, n: Any) -> Fused | None:
        shape = r.g.static_shape(n.input[0])
        kind = _global_kind(n, shape)
        if kind is None:
            return None
        k, f = _next(r, n, ("Flatten", "Reshape", "Squeeze"))
        if f is None or shape is None or r.g.static_shape(f.output[0]) != shape[:2]:
            return None
        pool, flat = module_of(n.name), module_of(f.name)
        if pool and flat and not pool.startswith(flat + ".") and pool != flat:
            parent = ".".join(flat.split(".")[:-1])  # two modules: one unless a parent
            if not (pool.startswith(parent + ".") and tree.count[parent] == 2):
                return None  # holds exactly them (the language's gap: pool, flatten)
        return Fused([i, k], kind, _unary(kind, n.input[0], [i, k], f.output[0]))
    return find


def _global_kind(n: Any, shape: tuple[int, ...] | None) -> str | None:
    """``gap`` or ``gmp`` for a pool over the whole map: a global pool, or a window as
    large as the map (how the exporter writes an adaptive max pool to 1x1)."""
    if n.op_type in ("GlobalAveragePool", "GlobalMaxPool"):
        return "gap" if n.op_type == "GlobalAveragePool" else "gmp"
    if n.op_type not in ("AveragePool", "MaxPool") or shape is None or len(shape) != 4:
        return None
    at = attrs_of(n)
    if tuple(at.get("kernel_shape", ())) != shape[2:] or any(at.get("pads", ())) or \
            at.get("ceil_mode", 0) or at.get("auto_pad", "NOTSET") not in ("NOTSET", "VALID"):
        return None
    return "gap" if n.op_type == "AveragePool" else "gmp"


def _groups(r: Reader, i: int, n: Any) -> Fused | None:
    """Reshape to (N, g, C/g, ...), Transpose 1 and 2 (or Softmax over 1), Reshape back."""
    if n.op_type != "Reshape":
        return None
    shape, out = r.g.static_shape(n.input[0]), r.g.static_shape(n.output[0])
    if shape is None or out is None or len(out) != len(shape) + 1 or len(shape) not in (2, 4) \
            or out[0] != shape[0] or out[1] * out[2] != shape[1] or out[3:] != shape[2:]:
        return None
    k1, mid = _next(r, n, ("Transpose", "Softmax"))
    if mid is None:
        return None
    at = attrs_of(mid)
    if mid.op_type == "Transpose":
        if tuple(at.get("perm", ())) != (0, 2, 1, 3, 4):
            return None
        op = "shuffle"
    elif at.get("axis", -1) % len(out) != 1 or r.g.opset.get("ai.onnx", 13) < 13:
        return None
    else:
        op = "groupsoftmax"
    k2, back = _next(r, mid, ("Reshape", "Flatten"))
    if back is None or r.g.static_shape(back.output[0]) != shape:
        return None
    nodes = [i, k1, k2]

    def make(r: Reader) -> None:
        r.emit(op, {"groups": int(out[1])}, [r.ref(n.input[0])], nodes, out=back.output[0])
    return Fused(nodes, op, make)


def _groupnorm(r: Reader, i: int, n: Any) -> Fused | None:
    """torch's group norm: Reshape to (N, g, -1), InstanceNormalization, Reshape back, and
    the affine Mul and Add of shape C x 1 x 1."""
    if n.op_type != "Reshape":
        return None
    shape, out = r.g.static_shape(n.input[0]), r.g.static_shape(n.output[0])
    if shape is None or out is None or len(shape) != 4 or len(out) != 3 or out[0] != shape[0]:
        return None
    k1, norm = _next(r, n, ("InstanceNormalization",))
    if norm is None:
        return None
    k2, back = _next(r, norm, ("Reshape",))
    if back is None or r.g.static_shape(back.output[0]) != shape:
        return None
    c, groups, nodes, last = shape[1], out[1], [k1, i, k2], back
    gamma, beta = np.ones(c, np.float32), np.zeros(c, np.float32)
    for op in ("Mul", "Add"):
        k, nxt = _next(r, last, (op,))
        const = r.g.const(_other(nxt, last.output[0]) or "") if nxt is not None else None
        if const is None or tuple(const.shape) not in ((c, 1, 1), (1, c, 1, 1)):
            continue
        if op == "Mul":
            gamma = gamma * const.reshape(-1)
        beta = beta * const.reshape(-1) if op == "Mul" else beta + const.reshape(-1)
        nodes.append(k)
        last = nxt

    def make(r: Reader) -> None:
        scale, bias = r.const(norm.input[1]).reshape(-1), r.const(norm.input[2]).reshape(-1)
        per = c // groups
        weights = [np.repeat(scale, per) * gamma, np.repeat(bias, per) * gamma + beta]
        eps = attrs_of(norm).get("epsilon", 1e-5)
        r.emit("groupnorm", {"groups": int(groups), "eps": nice_float(eps)},
               [r.map(n.input[0], "group norm")], nodes, weights, out=last.output[0])
    return Fused(nodes, "group norm", make)


def _last_axis_mean(r: Reader, n: Any) -> bool:
    """A ReduceMean over the last axis, keeping it."""
    if n is None or n.op_type != "ReduceMean" or not attrs_of(n).get("keepdims", 1):
        return False
    axes = attrs_of(n).get("axes")
    if axes is None and len(n.input) > 1:
        c = r.g.const(n.input[1])
        axes = None if c is None else [int(a) for a in c.reshape(-1)]
    rank = len(r.g.shape(n.input[0]) or ())
    return axes is not None and len(axes) == 1 and rank > 1 and axes[0] % rank == rank - 1


def _layernorm(r: Reader, i: int, n: Any) -> Fused | None:
    """(x - mean) / sqrt(var + eps) * gamma + beta over the last axis, written out."""
    if not _last_axis_mean(r, n):
        return None
    x = n.input[0]
    k1, sub = _next(r, n, ("Sub",))
    if sub is None or list(sub.input) != [x, n.output[0]]:
        return None
    d = sub.output[0]
    users = sorted(r.g.users(d))
    kinds = {r.g.nodes[k].op_type: k for k in users if k >= 0}
    if len(users) != 2 or set(kinds) != {"Pow", "Div"} or \
            not _is(_scalar(r, r.g.nodes[kinds["Pow"]].input[1]), 2.0):
        return None
    k2, k6 = kinds["Pow"], kinds["Div"]
    k3, var = _next(r, r.g.nodes[k2], ("ReduceMean",))
    k4, add = _next(r, var, ("Add",)) if _last_axis_mean(r, var) else (None, None)
    eps = _scalar(r, _other(add, var.output[0]) or "") if add is not None else None
    k5, sqrt = _next(r, add, ("Sqrt",)) if eps is not None else (None, None)
    if sqrt is None or list(r.g.nodes[k6].input) != [d, sqrt.output[0]]:
        return None
    nodes, last = [k6, i, k1, k2, k3, k4, k5], r.g.nodes[k6]
    c = (r.g.shape(x) or (0,))[-1]
    gamma, beta = np.ones(c, np.float32), np.zeros(c, np.float32)
    for op in ("Mul", "Add"):
        k, nxt = _next(r, last, (op,))
        const = r.g.const(_other(nxt, last.output[0]) or "") if nxt is not None else None
        if const is None or const.size != c:
            continue
        gamma, beta = (const.reshape(-1), beta) if op == "Mul" else (gamma, const.reshape(-1))
        nodes.append(k)
        last = nxt

    def make(r: Reader) -> None:
        ref = r.ref(x)
        if ref.layout == "vec11" or (ref.layout == "nchw" and not r.type_of(ref).is_vector):
            raise NotSupported("a layer norm over more than the channels")
        r.emit("layernorm", {"eps": nice_float(eps)}, [ref], nodes, [gamma, beta],
               out=last.output[0], layout=ref.layout)
    return Fused(nodes, "layer norm", make)


# ---------------------------------------------------------------- linear and shortcuts
def _matmul_bias(r: Reader, i: int, n: Any) -> Fused | None:
    if n.op_type != "MatMul" or not r.g.is_const(n.input[1]) or r.g.is_const(n.input[0]):
        return None
    w = r.g.const(n.input[1])
    k, add = _next(r, n, ("Add",))
    bias = r.g.const(_other(add, n.output[0]) or "") if add is not None else None
    if w.ndim != 2 or bias is None or bias.size != w.shape[1] or bias.shape[-1] != w.shape[1]:
        return None

    def make(r: Reader) -> None:
        linear(r, r.ref(n.input[0]), w.T, bias.reshape(-1), [i, k], add.output[0])
    return Fused([i, k], "linear", make)


def _shortcut(r: Reader, i: int, n: Any) -> Fused | None:
    """One or two Slices keeping every s-th row and column, then a Pad of channels."""
    if n.op_type != "Slice":
        return None
    stride, nodes, last = [1, 1], [i], n
    while last.op_type == "Slice":
        shape = r.g.static_shape(last.input[0])
        params = slice_params(r, last) if shape is not None else None
        s = subsample(shape[1:], params) if params else None
        if s is None:
            return None
        stride = [stride[0] * s[0], stride[1] * s[1]]
        k, nxt = _next(r, last, ("Slice", "Pad"))
        if nxt is None:
            break
        nodes.append(k)
        last = nxt
    amounts = pad_amounts(r, last) if last.op_type == "Pad" else (0, 0, 0, 0, 0, 0)
    if len(nodes) < 2 or amounts is None or any(amounts[2:]):
        return None

    def make(r: Reader) -> None:
        x = r.map(n.input[0], "Slice")
        shortcut_pad(r, x, amounts[0], amounts[1], (stride[0], stride[1]), nodes,
                     last.output[0])
    return Fused(nodes, "shortcut", make)


# ---------------------------------------------------------------- merges
def _absorbed(r: Reader, i: int, n: Any, value: str) -> tuple[int, Any] | tuple[None, None]:
    """The node of ``n``'s own chain that computes ``value``: the same operator, in the
    same module, read by ``n`` alone."""
    k, p = _node(r, value)
    if p is None or p.op_type != n.op_type or not _computed(r, p) or len(p.input) != 2 or \
            r.g.sole_user(p.output[0]) != i or module_of(p.name) != module_of(n.name):
        return None, None
    return k, p


def _leaves(r: Reader, i: int, n: Any) -> tuple[list[str], list[int]]:
    """The operands of the chain ending at ``n`` (left to right) and its nodes."""
    values, nodes = [], [i]
    for v in n.input:
        k, p = _absorbed(r, i, n, v)
        if p is None:
            values.append(v)
        else:
            more, inner = _leaves(r, k, p)
            values += more
            nodes += inner
    return values, nodes


def _mean(r: Reader, i: int, n: Any) -> Fused | None:
    count = _scalar(r, n.input[1]) if n.op_type == "Div" and len(n.input) == 2 else None
    k, add = _node(r, n.input[0])
    if count is None or add is None or add.op_type != "Add" or not _computed(r, add) or \
            r.g.sole_user(add.output[0]) != i:
        return None
    values, nodes = _leaves(r, k, add)
    if len(values) != count:
        return None
    return Fused([i] + nodes, "mean",
                 lambda r: merge(r, "mean", values, [i] + nodes, n.output[0]))


def _chain(r: Reader, i: int, n: Any) -> Fused | None:
    if n.op_type not in ("Add", "Mul") or len(n.input) != 2 or not _computed(r, n):
        return None
    k = r.g.sole_user(n.output[0])
    if k is not None and _absorbed(r, k, r.g.nodes[k], n.output[0])[0] == i:
        return None  # not the chain's end: the node after it takes it in
    values, nodes = _leaves(r, i, n)
    if len(nodes) < 2:
        return None
    op = n.op_type.lower()
    return Fused(nodes, op, lambda r: merge(r, op, values, nodes, n.output[0]))

