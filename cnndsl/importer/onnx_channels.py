"""ONNX copies along the channels and over space, one node each (see :mod:`.onnx_ops`
for the convention): Concat, Split and Slice of channels, Pad (a zero pad, the padding
of the convolution it feeds, or the zero channels of a shortcut), Resize as upsampling,
and a Softmax over the channels.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .onnx_graph import INT_MAX, attrs_of
from .onnx_lower import NotSupported, Reader, Ref
from .onnx_ops import handles
from .onnx_paths import module_of


def _axis(axis: int, rank: int) -> int:
    return axis + rank if axis < 0 else axis


def _rank(r: Reader, x: Ref) -> int:
    return len(r.type_of(x).dims) + 1


# ---------------------------------------------------------------- channels
@handles("Concat")
def _concat(r: Reader, i: int, n: Any) -> None:
    refs = [r.ref(v) for v in n.input if v]
    layouts = {x.layout for x in refs}
    axis = _axis(attrs_of(n)["axis"], _rank(r, refs[0]))
    channel_axis = 3 if layouts == {"nhwc"} else 1
    if len(layouts) != 1 or "vec11" in layouts or axis != channel_axis:
        raise NotSupported(f"Concat on axis {axis}")
    r.emit("concat", {}, [Ref(x.op) for x in refs], [i], layout=refs[0].layout)


def _channel_slice(r: Reader, x: Ref, start: int, stop: int, nodes: list[int], out: str) -> None:
    c = r.channels(x)
    start, stop = (start + c if start < 0 else start), (stop + c if stop < 0 else stop)
    start, stop = max(0, min(start, c)), max(0, min(stop, c))
    if (start, stop) == (0, c):
        r.alias(out, x)
    else:
        r.emit("slice", {"start": start, "stop": stop}, [x], nodes, out=out)


@handles("Split")
def _split(r: Reader, i: int, n: Any) -> None:
    x = r.ref(n.input[0])
    at = attrs_of(n)
    if x.layout != "nchw" or _axis(at.get("axis", 0), _rank(r, x)) != 1:
        raise NotSupported("Split of anything but channels")
    c, parts = r.channels(x), len(n.output)
    sizes = at.get("split")
    if sizes is None and len(n.input) > 1 and n.input[1]:
        sizes = [int(s) for s in r.const(n.input[1]).reshape(-1)]
    if sizes is None:  # equal parts, the last smaller (opset 18's num_outputs)
        step = -(-c // parts)
        sizes = [min(step, c - k * step) for k in range(parts)]
    start = 0
    for size, out in zip(sizes, n.output):
        if out and r.g.users(out):
            _channel_slice(r, x, start, start + int(size), [i], out)
        start += int(size)


def slice_params(r: Reader, n: Any) -> list[tuple[int, int, int, int]] | None:
    """(axis, start, end, step) of a Slice with constant bounds, axes made positive."""
    at = attrs_of(n)
    try:
        if "starts" in at:  # opset < 10
            starts, ends, axes, steps = at["starts"], at["ends"], at.get("axes"), None
        else:
            starts, ends = r.const(n.input[1]).reshape(-1), r.const(n.input[2]).reshape(-1)
            axes = r.opt_const(n, 3)
            steps = r.opt_const(n, 4)
    except NotSupported:
        return None
    rank = len(r.g.shape(n.input[0]) or ()) or 4
    axes = range(len(starts)) if axes is None else [_axis(int(a), rank) for a in np.ravel(axes)]
    steps = [1] * len(starts) if steps is None else np.ravel(steps)
    return [(int(a), int(s), int(e), int(st)) for a, s, e, st in zip(axes, starts, ends, steps)]


def subsample(dims: tuple[int, ...], params: list[tuple[int, int, int, int]]
              ) -> tuple[int, int] | None:
    """The stride (H, W) of a Slice of a C x H x W map that keeps every s-th row or
    column from the first (``x[:, :, ::2, ::2]``), or None for another slice."""
    if len(dims) != 3:
        return None
    stride = [1, 1]
    for axis, start, end, step in params:
        if axis not in (2, 3) or start != 0 or step < 1 or end < min(dims[axis - 1], INT_MAX):
            return None
        stride[axis - 2] = step
    return (stride[0], stride[1])


@handles("Slice")
def _slice(r: Reader, i: int, n: Any) -> None:
    x = r.ref(n.input[0])
    params = slice_params(r, n)
    if params is None or x.layout != "nchw":
        raise NotSupported("Slice with computed bounds")
    if len(params) == 1 and params[0][0] == 1 and params[0][3] == 1:
        _, start, end, _ = params[0]
        return _channel_slice(r, x, start, end, [i], n.output[0])
    stride = subsample(r.type_of(x).dims, params)
    if stride is None:
        raise NotSupported("Slice of anything but channels or every s-th row and column")
    r.emit("shortcut_pad", {"out": r.channels(x), "stride": stride}, [x], [i])
    return None


# ---------------------------------------------------------------- padding
def pad_amounts(r: Reader, n: Any) -> tuple[int, int, int, int, int, int] | None:
    """A constant zero Pad of a map as (channels before, after, top, bottom, left,
    right); None for another mode, value, or a pad of the batch."""
    at = attrs_of(n)
    if at.get("mode", "constant") != "constant":
        return None
    pads = at.get("pads")
    try:
        if pads is None:
            pads = [int(p) for p in r.const(n.input[1]).reshape(-1)]
        value = r.opt_const(n, 2)
        axes = r.opt_const(n, 3)
    except NotSupported:
        return None
    if (value is not None and value.size and float(value.reshape(-1)[0]) != 0) or \
            at.get("value", 0.0) != 0.0:
        return None
    full = [0] * 8
    axes = [int(a) % 4 for a in axes.reshape(-1)] if axes is not None else list(range(4))
    if len(pads) != 2 * len(axes):
        return None
    for k, a in enumerate(axes):
        full[a], full[a + 4] = int(pads[k]), int(pads[k + len(axes)])
    if full[0] or full[4] or min(full) < 0:
        return None
    return (full[1], full[5], full[2], full[6], full[3], full[7])


def shortcut_pad(r: Reader, x: Ref, before: int, after: int, stride: tuple[int, int],
                 nodes: list[int], out: str) -> None:
    """Zero channels around a (subsampled) map: He et al.'s option A shortcut, whose
    zeros go half before and half after."""
    extra = before + after
    if (before, after) != (extra // 2, extra - extra // 2):
        raise NotSupported("Pad of channels unevenly")
    r.emit("shortcut_pad", {"out": r.channels(x) + extra, "stride": stride}, [x], nodes,
           out=out)


def _takes_pad(r: Reader, pad_node: Any, user: int | None, pad: tuple[int, ...]) -> bool:
    """Whether the one node reading a zero pad takes it into its own padding: a Conv, or
    an AveragePool that counts padding; and only a pad written in the forward that
    runs them (``F.pad``), never a module of its own (``nn.ZeroPad2d``)."""
    if user is None:
        return False
    u = r.g.nodes[user]
    if u.op_type == "AveragePool":
        at = attrs_of(u)
        own = at.get("pads", (0, 0, 0, 0))
        t, lft, b, rt = (int(p) for p in own)
        k = at.get("kernel_shape", (1, 1))
        total = (pad[0] + t, pad[1] + b, pad[2] + lft, pad[3] + rt)
        if (any(own) and not at.get("count_include_pad", 0)) or total[0] != total[1] or \
                total[2] != total[3] or 2 * total[0] > k[0] or 2 * total[2] > k[1]:
            return False
    elif u.op_type != "Conv" or u.input[0] != pad_node.output[0]:
        return False
    where, reader = module_of(pad_node.name), module_of(u.name)
    return where is None or reader is None or not where or reader == where or \
        reader.startswith(where + ".")


@handles("Pad")
def _pad(r: Reader, i: int, n: Any) -> None:
    x = r.map(n.input[0], "Pad")
    amounts = pad_amounts(r, n)
    if amounts is None:
        raise NotSupported("Pad other than with zeros (or of the batch)")
    before, after, *space = amounts
    if before or after:
        if any(space):
            raise NotSupported("Pad of channels and space at once")
        return shortcut_pad(r, x, before, after, (1, 1), [i], n.output[0])
    pad = tuple(space)
    if _takes_pad(r, n, r.g.sole_user(n.output[0]), pad):
        return r.alias(n.output[0], Ref(x.op, pad=pad, pad_node=i))  # type: ignore[arg-type]
    r.emit("zeropad", {"pad": pad}, [x], [i])
    return None


# ---------------------------------------------------------------- resize and softmax
_NEAREST = {("asymmetric", "floor"), ("half_pixel", "round_prefer_floor"),
            ("half_pixel", "round_prefer_ceil"), ("pytorch_half_pixel", "round_prefer_floor"),
            ("pytorch_half_pixel", "round_prefer_ceil")}


@handles("Resize", "Upsample")
def _resize(r: Reader, i: int, n: Any) -> None:
    """An integer upsampling of H and W alike: nearest (in any of the coordinate modes
    that agree for it) or bilinear without align_corners, as nn.Upsample writes them."""
    x = r.map(n.input[0], n.op_type)
    at = attrs_of(n)
    scales = at.get("scales")
    index = 2 if n.op_type == "Resize" and r.g.opset.get("ai.onnx", 11) >= 11 else 1
    if scales is None and len(n.input) > index and n.input[index]:
        scales = r.const(n.input[index]).reshape(-1)
    if (scales is None or not len(scales)) and len(n.input) > 3 and n.input[3]:
        sizes = r.const(n.input[3]).reshape(-1)
        dims = (1,) + r.type_of(x).dims
        scales = [int(s) / d for s, d in zip(sizes, dims)]
    if scales is None or len(scales) != 4:
        raise NotSupported(f"{n.op_type} without constant scales")
    s = float(scales[2])
    if list(map(float, scales)) != [1.0, 1.0, s, s] or not s.is_integer() or s < 1:
        raise NotSupported(f"{n.op_type} by {'x'.join(f'{v:g}' for v in scales[2:])}")
    mode = at.get("mode", "nearest")
    coords = at.get("coordinate_transformation_mode", "half_pixel")
    rounding = at.get("nearest_mode", "round_prefer_floor")
    if n.op_type == "Upsample":  # opset 9's: asymmetric coordinates, rounded down
        coords, rounding = "asymmetric", "floor"
    if mode == "nearest" and ((coords, rounding) in _NEAREST or s == 1):
        r.emit("upsample", {"scale": int(s), "mode": "nearest"}, [x], [i])
    elif mode in ("linear", "bilinear") and (coords in ("half_pixel", "pytorch_half_pixel")
                                             or s == 1):
        r.emit("upsample", {"scale": int(s), "mode": "bilinear"}, [x], [i])
    else:
        raise NotSupported(f"{n.op_type} ({mode}, {coords})")


@handles("Softmax")
def _softmax(r: Reader, i: int, n: Any) -> None:
    """A softmax over the channels (not a network's trailing one: see onnx_read)."""
    x = r.ref(n.input[0])
    rank = _rank(r, x)
    new = r.g.opset.get("ai.onnx", 13) >= 13
    axis = _axis(attrs_of(n).get("axis", -1 if new else 1), rank)
    over_channels = (rank == 2 and axis == 1 and x.layout == "nchw") or \
        (new and ((x.layout == "nchw" and axis == 1) or (x.layout == "nhwc" and axis == 3)))
    if not over_channels:
        raise NotSupported("Softmax over anything but the channels")
    r.emit("softmax", {}, [x], [i], layout=x.layout)
