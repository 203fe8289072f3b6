"""Lowering an ONNX graph to the language's operators: the reader's state and its loop.

The reader walks the nodes in their (topological) order. Each value computed from the
input is a :class:`Ref`: a node of the language (made through a draft
:class:`~cnndsl.importer.common.GraphMaker`, so every node passes the compiler's own
attribute checks and shape rules as it is made) and the layout the ONNX value has it
in. Single nodes are read by :mod:`.onnx_ops`; the operators ONNX writes as several
nodes (a GELU, a channel shuffle, a group norm) are found first by
:mod:`.onnx_patterns` and made when their last node is reached.

A node with no counterpart is recorded (:class:`NotSupported`) and the walk goes on;
what reads its output is skipped (its inputs are missing, :class:`Skip`), so one
unsupported operator is reported once, with the others found beside it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from ..ir.graph import TensorType
from .common import GraphMaker, ImportFailure
from .onnx_graph import OnnxGraph

LAYOUTS = {"nchw": "a vector", "nhwc": "a channels-last map", "vec11": "a vector as Cx1x1"}


class NotSupported(Exception):
    """A node the language cannot express; ``what`` says what (``Where``,
    ``Clip(min=-1, max=1)``)."""

    def __init__(self, what: str):
        super().__init__(what)
        self.what = what


class Skip(Exception):
    """A node whose input was not read (it comes from an unsupported node)."""


@dataclass(frozen=True)
class Ref:
    """A value computed from the input: the node of the language that holds it (index
    into :attr:`Reader.ops`) and how ONNX lays it out. ``nhwc``: a map with its channels
    last (after a Transpose 0,2,3,1); ``vec11``: a vector seen as C x 1 x 1 (after an
    Unsqueeze), which only a per-channel ``mul`` reads; ``pad``: zero padding (top, bottom, left, right)
    that the one convolution reading it takes into its own."""

    op: int
    layout: str = "nchw"
    pad: tuple[int, int, int, int] | None = None
    pad_node: int = -1  # the Pad node that made ``pad``


@dataclass
class Op:
    """A node of the language: operator, attributes as the language writes them, inputs
    (op indices), the ONNX nodes it is made of (main first) and its weights."""

    op: str
    attrs: dict[str, Any]
    inputs: list[int]
    nodes: list[int]
    weights: list[np.ndarray] = field(default_factory=list)
    name: str = ""  # in the draft graph


@dataclass
class Fused:
    """Several ONNX nodes that make one operator (:mod:`.onnx_patterns`): made by
    ``make(reader)`` when the walk reaches the last of ``nodes``."""

    nodes: list[int]
    what: str
    make: Callable[[Reader], None]


class Reader:
    """The lowering's state; see the module's doc."""

    def __init__(self, g: OnnxGraph, input_value: str, input_shape: Sequence[int], name: str):
        self.g = g
        self.maker = GraphMaker(name, input_shape)
        self.ops = [Op("input", {}, [], [], name=self.maker.input)]
        self.env: dict[str, Ref] = {input_value: Ref(0)}
        self.unsupported: list[tuple[str, int]] = []  # (what, ONNX node)
        self.notes: list[str] = []
        self.fused: dict[int, Fused] = {}
        self.dropped: set[int] = set()  # nodes that make nothing (a trailing softmax)

    # ------------------------------------------------------------ values
    def ref(self, value: str, padded: bool = False) -> Ref:
        """The value as a node of the language; :class:`Skip` where it was not read,
        :class:`NotSupported` where it is a constant (no operator takes one). Only a
        reader that takes padding in (``padded``) sees a Ref with ``pad``."""
        r = self.env.get(value)
        if r is not None:
            if r.pad is not None and not padded:
                raise NotSupported("Pad before an operator that cannot take it")
            return r
        if self.g.is_const(value):
            raise NotSupported("a constant used as a feature map")
        raise Skip(value)

    def const(self, value: str, what: str = "a computed tensor") -> np.ndarray:
        """A constant input (a weight, a shape); NotSupported where it is computed."""
        arr = self.g.const(value) if value else None
        if arr is None:
            raise NotSupported(what)
        return arr

    def opt_const(self, node: Any, index: int) -> np.ndarray | None:
        """Input ``index`` of ``node`` as a constant, None where it is absent."""
        if len(node.input) <= index or not node.input[index]:
            return None
        return self.const(node.input[index])

    def type_of(self, ref: Ref) -> TensorType:
        return self.maker.type_of(self.ops[ref.op].name)

    def channels(self, ref: Ref) -> int:
        return self.type_of(ref).dims[0]

    def map(self, value: str, op: str) -> Ref:
        """A value that must be a plain feature map (N, C, H, W)."""
        r = self.ref(value)
        if r.layout != "nchw" or not self.type_of(r).is_map:
            raise NotSupported(f"{op} on {LAYOUTS[r.layout]}")
        return r

    # ------------------------------------------------------------ making nodes
    def emit(self, op: str, attrs: dict[str, Any], inputs: Sequence[Ref], nodes: Sequence[int],
             weights: Sequence[np.ndarray] = (), out: str | None = None,
             layout: str = "nchw") -> Ref:
        """A node of ``op``; its value is ``out`` (default: the main node's output)."""
        names = [self.ops[r.op].name for r in inputs]
        try:
            name = self.maker.add(op, attrs, names, f"op{len(self.ops)}")
        except ImportFailure as e:
            raise NotSupported(f"{self.g.nodes[nodes[0]].op_type} ({_reason(e)})") from None
        self.ops.append(Op(op, dict(attrs), [r.op for r in inputs], list(nodes),
                           [np.asarray(w, dtype=np.float32) for w in weights], name))
        ref = Ref(len(self.ops) - 1, layout)
        self.env[out if out is not None else self.g.nodes[nodes[0]].output[0]] = ref
        return ref

    def alias(self, value: str, ref: Ref) -> None:
        """``value`` is ``ref`` (an Identity, a view that changes nothing)."""
        self.env[value] = ref

    # ------------------------------------------------------------ the walk
    def run(self, handlers: dict[str, Callable[[Reader, int, Any], None]]) -> None:
        for i, n in enumerate(self.g.nodes):
            if i in self.g.folded or i in self.dropped:
                continue
            f = self.fused.get(i)
            if f is not None and i != max(f.nodes):
                continue
            try:
                if f is not None:
                    f.make(self)
                else:
                    key = n.op_type if n.domain in ("", "ai.onnx") else f"{n.domain}.{n.op_type}"
                    handler = handlers.get(key)
                    if handler is None:
                        raise NotSupported(key if n.domain in ("", "ai.onnx") else
                                           f"{n.op_type} (domain {n.domain})")
                    handler(self, i, n)
            except Skip:
                continue  # its input comes from an unsupported node, reported there
            except NotSupported as e:
                self.unsupported.append((e.what, i))


def _reason(e: ImportFailure) -> str:
    """The rule a node broke, without the draft path GraphMaker puts first."""
    text = str(e)
    return text.split(": ", 1)[1] if e.path and text.startswith(e.path + ": ") else text


# ---------------------------------------------------------------- numbers
def nice_float(x: float) -> float:
    """A float32 attribute as the number it was written as: its shortest decimal
    (``1e-05``, not 9.99999974e-06), or a small fraction where that is shorter
    (``1/9``).

    >>> nice_float(np.float32(1e-5)), nice_float(np.float32(0.1)), nice_float(np.float32(1/9))
    (1e-05, 0.1, 0.1111111111111111)
    """
    f32 = np.float32(x)
    if not math.isfinite(float(f32)):
        return float(f32)
    text = np.format_float_positional(f32, unique=True, trim="-") if abs(f32) >= 1e-4 \
        else np.format_float_scientific(f32, unique=True, trim="-")
    digits = len(text.lstrip("-0.").split("e")[0].replace(".", "").rstrip("0"))
    if digits >= 6 and f32 != 0:  # a float32 of 1/9 or 3/34 prints 6 to 9 digits
        frac = Fraction(float(f32)).limit_denominator(1000)
        if np.float32(float(frac)) == f32:
            return float(frac)
    return float(text)


def pads4(onnx_pads: Sequence[int]) -> tuple[int, int, int, int]:
    """ONNX's 2-D pads (top, left, bottom, right) in the language's order (top, bottom,
    left, right).

    >>> pads4([1, 2, 3, 4])
    (1, 3, 2, 4)
    """
    t, lft, b, r = (int(p) for p in onnx_pads)
    return (t, b, lft, r)


def auto_pads(mode: str, size: Sequence[int], kernel: Sequence[int], stride: Sequence[int],
              dilation: Sequence[int]) -> tuple[int, int, int, int]:
    """The pads ``auto_pad`` stands for: SAME_UPPER (the odd pixel after, TensorFlow's and
    the language's 'same'), SAME_LOWER (before) or VALID.

    >>> auto_pads("SAME_UPPER", (7, 8), (2, 3), (1, 2), (1, 1)), auto_pads("VALID", (7, 7), (3, 3), (1, 1), (1, 1))
    ((0, 1, 0, 1), (0, 0, 0, 0))
    """
    if mode == "VALID":
        return (0, 0, 0, 0)
    out = []
    for n, k, s, d in zip(size, kernel, stride, dilation):
        total = max((-(-n // s) - 1) * s + d * (k - 1) + 1 - n, 0)
        small, big = total // 2, total - total // 2
        out.append((small, big) if mode == "SAME_UPPER" else (big, small))
    return (out[0][0], out[0][1], out[1][0], out[1][1])
