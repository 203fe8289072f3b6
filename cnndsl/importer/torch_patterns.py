"""Idioms of PyTorch code that the language writes as one operator.

Read as they come, node by node (:mod:`.torch_functions` and :mod:`.torch_layers` call
these):

- ``x.view(n, g, c // g, h, w)`` - ``transpose(1, 2)`` - ``view(n, c, h, w)`` is a
  channel shuffle; with a softmax over the groups instead of the transpose, a group
  softmax (each half-matched step is a :class:`~.torch_convert.Pending` value);
  ``torch.stack(branches, 1)`` is their concatenation split in groups, and a sum over
  the groups an add of the channel slices (selective kernels, split attention);
- ``x.permute(0, 2, 3, 1)`` puts a map channels-last, where ``nn.LayerNorm`` and
  ``F.layer_norm`` normalize the channels (layernorm), ``nn.Linear`` is a 1x1 conv and
  element-wise operations are themselves, until ``permute(0, 3, 1, 2)`` comes back
  (:func:`~.torch_layers.layer`);
- a learned per-channel tensor times a map is a layer scale, a learned CxHxW tensor
  added a position bias; ``x[:, a:b]`` a channel slice, ``x[:, :, None, None]`` a
  vector seen as a map, ``F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, p, p))`` the zero-padded
  shortcut; ``x.view(n, -1)`` a flatten.

Folded once the draft is complete (:func:`fold`), where a node's users are known:
``F.pad`` into the convolution it alone feeds, an average pool to 1x1 then a flatten
into ``gap``, chains of ``+`` (and ``*``) into one merge, and ``(a + b + c) / 3`` into
``mean``.
"""

from __future__ import annotations

from typing import Any

from ..ir.graph import TensorType
from ..ops.readback import same_value
from .torch_convert import (
    BAD,
    Act,
    Const,
    Converter,
    Draft,
    Pending,
    call_name,
    reaching,
)

_name = call_name


# ---------------------------------------------------------------- pending idioms
def settle(cv: Converter, p: Pending, n: Any) -> Any:
    """A half-matched idiom read by something that is not its next step: a strided
    subsample is a 1x1 max pool; anything else is reported."""
    if p.kind == "subsample":
        return cv.node("maxpool", {"kernel": 1, "stride": p.groups}, [p.base], p.at,
                       cv.path(p.at, "subsample"))
    return cv.partial(p, _name(n), n)


def unexpand(cv: Converter, v: Any, n: Any) -> Any:
    """A product's operand: an ``expand_as`` is its base (the product broadcasts)."""
    if isinstance(v, Pending):
        return v.base if v.kind == "expand" else settle(cv, v, n)
    return v


def held(cv: Converter, x: Act) -> tuple[int, ...]:
    """How PyTorch holds ``x`` (batch aside)."""
    t = cv.type_of(x)
    if x.unsq:
        return (t.dims[0], 1, 1)
    return (t.dims[1], t.dims[2], t.dims[0]) if x.layout == "nhwc" else t.dims


def grouped(cv: Converter, p: Pending, n: Any) -> Any:
    """The tensor a split or a softmax across its groups stands for (the groups laid
    end to end along the channels); BAD (reported) for other idioms."""
    if p.kind in ("split", "split1"):
        return p.base
    if p.kind == "soft":
        return cv.node("groupsoftmax", {"groups": p.groups}, [p.base], n,
                       cv.path(n, "groupsoftmax"), shape=held(cv, p.base))
    return cv.partial(p, _name(n), n)


def reshape(cv: Converter, n: Any, x: Any) -> Any:
    """A view, reshape, flatten or unflatten, read from the shapes before and after."""
    out = cv.torch_shape(n)
    if isinstance(x, Pending):
        base = held(cv, x.base)
        flat = out == (cv.type_of(x.base).numel,) and out != base
        if out != base and not flat:
            return cv.partial(x, _name(n), n)
        op = {"swapped": "shuffle", "soft": "groupsoftmax"}.get(x.kind)
        if op is None and x.kind not in ("split", "split1"):
            return cv.partial(x, _name(n), n)
        y = x.base if op is None else cv.node(op, {"groups": x.groups}, [x.base], n,
                                              cv.path(n, op), shape=base)
        if not flat or not isinstance(y, Act):
            return y
        return cv.node("flatten", {}, [y], n, cv.path(n, "flatten"))
    if not isinstance(x, Act):
        return cv.unsupported(f"{_name(n)} of a constant tensor", cv.module_path(n))
    t, now = cv.type_of(x), held(cv, x)
    if out == now:
        return x
    c = t.dims[0]
    if x.layout == "nchw" and x.unsq and out == (c,):
        return Act(x.node)
    if x.layout == "nchw" and t.is_vector and out == (c, 1, 1):
        return Act(x.node, unsq=True)
    if x.layout == "nchw" and t.is_map and out == (t.numel,):
        return cv.node("flatten", {}, [x], n, cv.path(n, "flatten"))
    if x.layout == "nchw" and len(out) == len(now) + 1 and out[0] * out[1] == c \
            and out[2:] == now[1:] and out[0] > 1:
        return Pending("split", x, out[0], "a channel shuffle or group softmax", n)
    if x.layout == "nchw" and now in ((c,), (c, 1, 1)) and len(out) == 3 and out[0] == 1 \
            and out[1] > 1 and out[1] * out[2] == c:
        return Pending("split1", x, out[1], "a radix softmax", n)
    shown = "x".join(map(str, now)), "x".join(map(str, out))
    return cv.unsupported(f"{_name(n)} from {shown[0]} to {shown[1]}", cv.module_path(n))


def sum_groups(cv: Converter, n: Any, p: Pending) -> Any:
    """The sum over a split's groups (selective kernels, split attention): an add of
    the channel slices."""
    base, g = p.base, p.groups
    now = held(cv, base)
    c = now[0] // g
    parts = [cv.node("slice", {"start": i * c, "stop": (i + 1) * c}, [base], n,
                     cv.path(n, "slice"), shape=(c, *now[1:])) for i in range(g)]
    if any(not isinstance(x, Act) for x in parts):
        return BAD
    return cv.node("add", {}, parts, n, cv.path(n, "add"))


def stack(cv: Converter, n: Any, xs: list[Act]) -> Any:
    """``torch.stack(branches, 1)``: their concatenation, seen as split in groups."""
    first = held(cv, xs[0])
    joined = cv.node("concat", {}, xs, n, cv.path(n, "concat"),
                     shape=(first[0] * len(xs), *first[1:]))
    return Pending("split", joined, len(xs), "a stack of branches", n) \
        if isinstance(joined, Act) else joined


def mul_groups(cv: Converter, n: Any, a: Pending, b: Pending) -> Any:
    """Two tensors split alike, multiplied: their product, split alike."""
    if a.groups != b.groups:
        return cv.partial(a, _name(n), n)
    x, y = grouped(cv, a, n), grouped(cv, b, n)
    if not (isinstance(x, Act) and isinstance(y, Act)):
        return BAD
    out = cv.node("mul", {}, [x, y], n, cv.path(n, "mul"), shape=held(cv, x))
    return Pending("split", out, a.groups, a.what, n) if isinstance(out, Act) else out


def permute(cv: Converter, n: Any, x: Any, dims: tuple[int, ...]) -> Any:
    """Channels-last and back (between them, see the module docstring)."""
    if isinstance(x, Pending):
        return cv.partial(x, _name(n), n)
    if not isinstance(x, Act):
        return cv.unsupported(f"{_name(n)} of a constant tensor", cv.module_path(n))
    if dims == (0, 1, 2, 3):
        return cv.same_as(x, n)
    if x.layout == "nchw" and not x.unsq and dims == (0, 2, 3, 1):
        return cv.same_as(Act(x.node, "nhwc"), n)
    if x.layout == "nhwc" and dims == (0, 3, 1, 2):
        return cv.same_as(Act(x.node), n)
    return cv.unsupported(f"{_name(n)} to {dims}", cv.module_path(n))


def index_form(cv: Converter, n: Any, key: Any) -> tuple[str, Any] | None:
    """What ``x[key]`` is: ("same", None), ("slice", (start, stop)) over the channels,
    ("unsqueeze", None) for ``[:, :, None, None]``, ("subsample", step) for
    ``[:, :, ::s, ::s]``; None (reported) for any other indexing."""
    key = key if isinstance(key, tuple) else (key,)
    rest = list(key[1:])
    while rest and (rest[-1] is Ellipsis or (rest[-1] == slice(None) and len(rest) > 1)):
        rest.pop()
    form: tuple[str, Any] | None = None
    if not key or key[0] != slice(None):
        form = None
    elif not rest:
        form = ("same", None)
    elif len(rest) == 1 and isinstance(rest[0], slice) and rest[0].step in (None, 1):
        form = ("slice", rest[0])
    elif rest == [slice(None), None, None]:
        form = ("unsqueeze", None)
    elif len(rest) == 3 and rest[0] == slice(None) and rest[1] == rest[2] and \
            isinstance(rest[1], slice) and rest[1].start is None and rest[1].stop is None \
            and (rest[1].step or 1) > 1:
        form = ("subsample", rest[1].step)
    if form is None:
        cv.unsupported(f"indexing [{_index_text(key)}]", cv.module_path(n))
    return form


def index(cv: Converter, n: Any, x: Any, key: Any) -> Any:
    """``x[:, a:b]`` (channels), ``x[:, :, None, None]`` (a vector as a map),
    ``x[:, :, ::s, ::s]`` (a strided subsample); any other indexing is reported."""
    if isinstance(x, Pending):
        return cv.partial(x, "indexing", n)
    form = index_form(cv, n, key)
    if form is None:
        return BAD
    if not isinstance(x, Act) or x.layout != "nchw":
        return cv.unsupported("indexing a channels-last or constant tensor",
                              cv.module_path(n))
    kind, arg = form
    t = cv.type_of(x)
    if kind == "same":
        return cv.same_as(x, n)
    if kind == "slice":
        start, stop, _ = arg.indices(t.dims[0])
        if start < stop:
            return cv.node("slice", {"start": start, "stop": stop}, [x], n, cv.path(n, "slice"))
    if kind == "unsqueeze" and t.is_vector and not x.unsq:
        return cv.same_as(Act(x.node, unsq=True), n)
    if kind == "subsample" and t.is_map:
        return Pending("subsample", x, arg, "a strided subsample", n)
    return cv.unsupported(f"indexing a {t} tensor as [{_index_text(key)}]",
                          cv.module_path(n))


def _index_text(k: Any) -> str:
    if isinstance(k, tuple):
        return ", ".join(_index_text(x) for x in k)
    if isinstance(k, slice):
        parts = ["" if v is None else str(v) for v in (k.start, k.stop)]
        return ":".join(parts) + (f":{k.step}" if k.step is not None else "")
    return "..." if k is Ellipsis else str(k)


def pad(cv: Converter, n: Any, x: Any, pads: tuple[int, ...]) -> Any:
    """``F.pad`` of height and width (zeropad, folded into a conv it feeds), or of the
    channels of a (subsampled) map: the zero-padded shortcut."""
    stride, base = 1, x
    if isinstance(x, Pending) and x.kind == "subsample" and len(pads) == 6:
        stride, base = x.groups, x.base
    elif isinstance(x, Pending):
        x = base = settle(cv, x, n)
    if not isinstance(base, Act) or base.layout != "nchw" or base.unsq or \
            not cv.type_of(base).is_map or min(pads) < 0:
        return BAD if base is BAD else cv.unsupported(f"{_name(n)} by {pads}",
                                                      cv.module_path(n))
    if len(pads) == 4:
        left, right, top, bottom = pads
        out = cv.node("zeropad", {"pad": (top, bottom, left, right)}, [base], n,
                      cv.path(n, "pad"))
        if isinstance(out, Act):
            cv.drafts[out.node].meta["foldable"] = True
        return out
    if len(pads) == 6 and pads[:4] == (0, 0, 0, 0):
        before, after = pads[4:]
        extra = before + after
        if before == extra // 2:
            c = cv.type_of(base).dims[0]
            return cv.node("shortcut_pad", {"out": c + extra, "stride": stride}, [base], n,
                           cv.path(n, "shortcut_pad"))
    return cv.unsupported(f"{_name(n)} by {pads}", cv.module_path(n))


# ---------------------------------------------------------------- constants
def _per_channel(x: Act, t: TensorType, shape: tuple[int, ...]) -> bool:
    c = t.dims[0]
    if x.layout == "nhwc":
        return shape in ((c,), (1, c), (1, 1, c), (1, 1, 1, c))
    if t.is_map or x.unsq:
        return shape in ((c, 1, 1), (1, c, 1, 1))
    return shape in ((c,), (1, c))


def _owner(c: Const, cv: Converter, n: Any, local: str) -> str:
    """A path for a node made from a module's own tensor: the tensor's name."""
    return c.attr if c.attr else cv.path(n, local)


def scale_by_constant(cv: Converter, n: Any, x: Act, c: Const) -> Any:
    """A learned per-channel tensor times a map: a layer scale (ConvNeXt's)."""
    t, shape = cv.type_of(x), tuple(c.value.shape)
    if not c.param or not _per_channel(x, t, shape):
        what = "a learned" if c.param else "a constant"
        size = f"tensor of {'x'.join(map(str, shape))}" if shape else "scalar"
        return cv.unsupported(f"{_name(n)} by {what} {size}", cv.module_path(n))
    ch = t.dims[0]
    weight = c.value.reshape((ch, 1, 1) if t.is_map else (ch,))
    return cv.node("layerscale", {"init": same_value(c.value, 1e-6)}, [x], n,
                   _owner(c, cv, n, "layerscale"), [weight], layout=x.layout)


def add_constant(cv: Converter, n: Any, x: Any, c: Const) -> Any:
    """A learned CxHxW tensor added to a map: a position bias."""
    if isinstance(x, Act) and x.layout == "nchw" and not x.unsq and c.param:
        t = cv.type_of(x)
        if t.is_map and tuple(c.value.shape) in (t.dims, (1, *t.dims)):
            return cv.node("posbias", {}, [x], n, _owner(c, cv, n, "posbias"),
                           [c.value.reshape(t.dims)])
    return cv.unsupported(f"{_name(n)} of a {'learned' if c.param else 'constant'} tensor",
                          cv.module_path(n))


# ---------------------------------------------------------------- folds
def fold(drafts: list[Draft], root: int) -> None:
    """Rewrite the finished draft in place (see the module docstring); a fold keeps the
    consumer's index, so ``root`` stays the output."""
    users = _users(drafts, root)
    for d in drafts:
        if d.op == "conv" and d.inputs:
            z = drafts[d.inputs[0]]
            if z.op == "zeropad" and z.meta.get("foldable") and users[d.inputs[0]] == 1:
                d.resolved["pad"] = tuple(a + b for a, b in zip(z.resolved["pad"],
                                                                d.resolved["pad"]))
                d.attrs["pad"] = d.resolved["pad"]
                d.inputs = list(z.inputs)
        elif d.op == "flatten":
            p = drafts[d.inputs[0]]
            if p.op == "adaptiveavgpool" and p.resolved["size"] == (1, 1) and \
                    users[d.inputs[0]] == 1:
                d.op, d.attrs, d.inputs = "gap", {}, list(p.inputs)
                d.absorbed, d.path = [d.path], p.path
        elif d.op in ("add", "mul"):
            merged: list[int] = []
            for j in d.inputs:
                inner = drafts[j]
                single = users[j] == 1 and j != root
                merged += inner.inputs if inner.op == d.op and single else [j]
            d.inputs = merged
        elif d.op == "scale" and d.meta.get("divisor"):
            a = drafts[d.inputs[0]]
            if a.op == "add" and len(a.inputs) == d.meta["divisor"] and \
                    users[d.inputs[0]] == 1:
                d.op, d.attrs, d.inputs = "mean", {}, list(a.inputs)
        _merge_path(d)


def _users(drafts: list[Draft], root: int) -> list[int]:
    """How many nodes that reach the output read each node (the output counts one)."""
    users = [0] * len(drafts)
    for i in reaching(drafts, root):
        for j in drafts[i].inputs:
            users[j] += 1
    users[root] += 1  # the output reads it
    return users


def _merge_path(d: Draft) -> None:
    """``gap1.0`` with ``gap1.1`` folded in is ``gap1`` (the two steps of a Sequential)."""
    if len(d.absorbed) == 1 and d.path.endswith(".0") and \
            d.absorbed[0] == d.path[:-2] + ".1":
        d.path = d.path[:-2]
