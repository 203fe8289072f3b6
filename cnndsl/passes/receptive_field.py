"""Receptive fields: how much of the input one output pixel of each node sees.

Per axis (H, W), an :class:`RF` holds the ``size`` (in input pixels), the ``jump``
(the distance in input pixels between neighbouring outputs: the effective stride) and
the ``start`` (the centre of the first output pixel's field, in input coordinates where
input pixel ``i`` is centred at ``i``). A sliding window of kernel ``k``, dilation ``d``,
stride ``s`` and leading padding ``p`` maps them as::

    k' = d (k - 1) + 1
    size' = size + (k' - 1) jump      jump' = jump s      start' = start + ((k' - 1)/2 - p) jump

The slides' claim, three stacked 3x3 stride-1 convolutions see 7x7:

>>> from cnndsl import compile
>>> rf = receptive_field(compile("input 3x32x32\\nconv(8, 3) - conv(8, 3) - conv(8, 3)").graph)
>>> rf["conv3"].size, str(rf["conv3"])
((7, 7), '7')

NOTE: rules beyond the window formula.
- Operators without a window that shrink the map are read from the shapes: a pool
  family operator (adaptive pooling) covers PyTorch's adaptive windows (the widest one
  gives the size); anything else (a strided shortcut) subsamples with a 1x1 window.
- Going from a map to a vector (global pooling, flatten before a fully connected layer)
  sees the whole map: the field grows by (H - 1) jumps; vectors then keep it.
- Merges take the union of their map inputs' fields (the maximum over paths when the
  centres agree). A vector input of a merge (squeeze-and-excitation's channel scale), or
  a Cx1x1 map broadcast over a larger one, widens the size but leaves the geometry to
  the map inputs. Map inputs whose centres or jumps differ are misaligned:
  :func:`alignment_warnings` reports W0601 there.
- Sizes are not clipped to the input: a field larger than the image is reported as is,
  up to 2^52 pixels; a field beyond that (thousands of strided layers on a one-pixel
  map) has no meaning left and is reported as none, like a vector's.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import ops
from ..diagnostics import Diagnostic
from ..ir.graph import Graph, Node, TensorType
from ..ops.schema import Window

Pair = tuple[int, int]


@dataclass(frozen=True)
class RF:
    """A receptive field along (H, W): size, jump (effective stride) and start (centre)."""

    size: Pair
    jump: Pair
    start: tuple[float, float]

    @property
    def square(self) -> int | None:
        """The size when both axes agree, else None."""
        return self.size[0] if self.size[0] == self.size[1] else None

    def __str__(self) -> str:
        return str(self.size[0]) if self.square else f"{self.size[0]}x{self.size[1]}"

    def to_json(self) -> dict:
        return {"size": list(self.size), "jump": list(self.jump), "start": list(self.start)}


INPUT_RF = RF((1, 1), (1, 1), (0.0, 0.0))
_HUGE = 2**52  # beyond this, float centres lose whole pixels


def _bounded(rf: RF) -> RF | None:
    return rf if max(*rf.size, *rf.jump, *map(abs, rf.start)) <= _HUGE else None


def through_window(rf: RF, w: Window) -> RF:
    """The field after a sliding window (conv, pool)."""
    size, jump, start = [], [], []
    for ax in (0, 1):
        extent = w.dilation[ax] * (w.kernel[ax] - 1) + 1
        j = rf.jump[ax]
        size.append(rf.size[ax] + (extent - 1) * j)
        start.append(rf.start[ax] + ((extent - 1) / 2 - w.pad[2 * ax]) * j)
        jump.append(j * w.stride[ax])
    return RF((size[0], size[1]), (jump[0], jump[1]), (start[0], start[1]))


def through_transposed(rf: RF, w: Window) -> RF:
    """The field after a transposed window (deconv, upsampling): output pixel o gathers
    the input pixels whose kernel copy covers it, centred on (o + p - (k-1)/2) / s."""
    size, jump, start = [], [], []
    for ax in (0, 1):
        extent = w.dilation[ax] * (w.kernel[ax] - 1) + 1
        s, j = w.stride[ax], rf.jump[ax]
        taps = -(-extent // s)  # input pixels one output pixel depends on
        size.append(rf.size[ax] + (taps - 1) * j)
        start.append(rf.start[ax] + (w.pad[2 * ax] - (extent - 1) / 2) / s * j)
        jump.append(j / s)
    return RF((size[0], size[1]), (jump[0], jump[1]), (start[0], start[1]))


def adaptive_window(n_in: int, n_out: int) -> tuple[int, int]:
    """(widest window, stride) of PyTorch's adaptive pooling from ``n_in`` to ``n_out``.

    >>> adaptive_window(7, 7), adaptive_window(14, 7), adaptive_window(13, 6)
    ((1, 1), (2, 2), (3, 2))
    """
    widest = max(-(-(i + 1) * n_in // n_out) - (i * n_in // n_out) for i in range(n_out))
    return widest, max(1, n_in // n_out)


def implied_window(op_family: str, t_in: TensorType, t_out: TensorType) -> Window | None:
    """The window of an operator that declares none, read from its shapes (or None)."""
    if not t_in.is_map:
        return None
    if t_out.is_vector:  # global pooling or flatten: one window over the whole map
        return Window((t_in.dims[1], t_in.dims[2]), (1, 1), (0, 0, 0, 0))
    if t_out.dims[1:] == t_in.dims[1:]:
        return None
    if op_family == "pool":
        (kh, sh), (kw, sw) = (adaptive_window(t_in.dims[1], t_out.dims[1]),
                              adaptive_window(t_in.dims[2], t_out.dims[2]))
        return Window((kh, kw), (sh, sw), (0, 0, 0, 0))
    stride = (-(-t_in.dims[1] // t_out.dims[1]), -(-t_in.dims[2] // t_out.dims[2]))
    return Window((1, 1), stride, (0, 0, 0, 0))


def union(fields: list[RF]) -> RF:
    """The smallest field covering every one of ``fields`` (the max over paths)."""
    size, start = [], []
    for ax in (0, 1):
        lo = min(f.start[ax] - (f.size[ax] - 1) / 2 for f in fields)
        hi = max(f.start[ax] + (f.size[ax] - 1) / 2 for f in fields)
        size.append(round(hi - lo) + 1)
        start.append((lo + hi) / 2)
    jump = (max(f.jump[0] for f in fields), max(f.jump[1] for f in fields))
    return RF((size[0], size[1]), jump, (start[0], start[1]))


def _merge(maps: list[RF], vectors: list[RF]) -> RF:
    if not maps:
        return union(vectors)
    u = union(maps)
    if not vectors:
        return u
    widest = (max(f.size[0] for f in vectors), max(f.size[1] for f in vectors))
    return RF((max(u.size[0], widest[0]), max(u.size[1], widest[1])), u.jump, u.start)


def node_rf(node: Node, graph: Graph, fields: dict[str, RF | None]) -> RF | None:
    """The field of one node given its inputs' fields (None: no spatial meaning)."""
    if not node.inputs:
        return INPUT_RF if node.type.is_map else None
    ins = [(graph[i].type, fields[i]) for i in node.inputs]
    if any(f is None for _, f in ins):
        return None
    if len(ins) > 1:
        maps = [f for t, f in ins if _spatial(t, node.type) and f is not None]
        vectors = [f for t, f in ins if not _spatial(t, node.type) and f is not None]
        return _bounded(_merge(maps, vectors))
    t_in, rf = ins[0]
    assert rf is not None
    op = ops.get(node.op)
    if op.transposed is not None and t_in.is_map:
        return _bounded(through_transposed(rf, op.transposed(node.attr_map)))
    w = op.window(node.attr_map) if t_in.is_map else None
    if w is None:
        w = implied_window(op.family, t_in, node.type)
    return _bounded(through_window(rf, w)) if w is not None else rf


def receptive_field(graph: Graph) -> dict[str, RF | None]:
    """The receptive field of every node, by name (None where the input is a vector).

    >>> from cnndsl import compile
    >>> rf = receptive_field(compile("input 3x32x32\\nconv(8, 3, stride=2) - pool").graph)
    >>> rf["conv1"], rf["pool1"].size
    (RF(size=(3, 3), jump=(2, 2), start=(0.0, 0.0)), (5, 5))
    """
    fields: dict[str, RF | None] = {}
    for node in graph.nodes:
        fields[node.name] = node_rf(node, graph, fields)
    return fields


def alignment_warnings(graph: Graph, fields: dict[str, RF | None] | None = None
                       ) -> list[Diagnostic]:
    """W0601 at every merge whose map branches are not centred on the same input pixel."""
    fields = receptive_field(graph) if fields is None else fields
    out = []
    for node in graph.nodes:
        maps = [(i, fields[i]) for i in node.inputs if _spatial(graph[i].type, node.type)]
        geo = {(f.start, f.jump) for _, f in maps if f is not None}
        if len(maps) < 2 or len(geo) < 2 or _deliberate(graph, [i for i, _ in maps]):
            continue
        desc = ", ".join(f"{i}: centre {_xy(f.start)}, jump {_xy(f.jump)}"
                         for i, f in maps if f is not None)
        out.append(Diagnostic(
            "W0601", f"the branches merged by this {node.op} are misaligned: their "
            "receptive fields are not centred on the same input pixels",
            node.span, label=desc, help="give every branch padding (k-1)/2 for its kernel "
            "(symmetric), and put the stride in the same place"))
    return out


def _spatial(t: TensorType, out: TensorType) -> bool:
    """Whether a merge input is laid over the output pixel by pixel; a vector, or a
    Cx1x1 map scaling a larger one (squeeze-and-excitation), is broadcast instead."""
    return t.is_map and (t.dims[1:] != (1, 1) or out.dims[1:] == (1, 1))


def _deliberate(graph: Graph, inputs: list[str]) -> bool:
    """Whether a branch resamples on purpose: an even pooling window (a 2x2 average pool
    against a strided conv, ResNet-D) or an upsampling (a U-Net's or HRNet's fusion)
    shifts centres by half a pixel of the coarser grid, and no padding can realign it."""
    sets = [graph.ancestors([i]) for i in inputs]
    common = set.intersection(*sets)
    for name in set.union(*sets) - common:
        node = graph[name]
        op = ops.get(node.op)
        if op.transposed is not None:
            return True
        w = op.window(node.attr_map) if op.family == "pool" else None
        if w is not None and (w.kernel[0] % 2 == 0 or w.kernel[1] % 2 == 0):
            return True
    return False


def _xy(v: tuple) -> str:
    fmt = [f"{x:g}" for x in v]
    return fmt[0] if fmt[0] == fmt[1] else f"({fmt[0]}, {fmt[1]})"
