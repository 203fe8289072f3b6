"""What an operator is: an attribute schema plus its rules, declared together.

An :class:`OpDef` holds everything the compiler knows about one operator: attributes
with defaults and bounds, the shape rule, parameter and MAC counts, the sliding window
(for receptive fields and the "does it fit" check), the diagram label, the PyTorch
emission and its inverse (the module classes it reads back when a model is imported:
:mod:`cnndsl.importer.torch_trace`). Passes ask the registry (:mod:`cnndsl.ops`); they
never switch on op names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..ir.graph import TensorType
from .ctor import Ctor

REQUIRED = object()


class ShapeError(Exception):
    """An impossible shape; the elaborator turns it into a diagnostic at the node."""

    def __init__(self, code: str, message: str, help: str | None = None,
                 label: str | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.help = help
        self.label = label


@dataclass(frozen=True)
class Attr:
    """One attribute. ``kind``: int, float, bool, str, pair (int or HxW), pad.

    ``default`` is a value, :data:`REQUIRED`, or a callable of the network's defaults
    (``ctx``, a mapping such as ``{"channels": 32}``) for widths of bare layers.
    """

    name: str
    kind: str
    default: Any = REQUIRED
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] = ()
    doc: str = ""
    positional: bool = True


@dataclass(frozen=True)
class Params:
    """Parameter elements: weights and biases (trainable), buffers (BN statistics)."""

    weights: int = 0
    bias: int = 0
    buffers: int = 0

    @property
    def total(self) -> int:
        return self.weights + self.bias

    def __add__(self, other: Params) -> Params:
        return Params(self.weights + other.weights, self.bias + other.bias,
                      self.buffers + other.buffers)


@dataclass(frozen=True)
class Window:
    """A sliding window along H and W: kernel, stride, padding (before, after), dilation."""

    kernel: tuple[int, int]
    stride: tuple[int, int]
    pad: tuple[int, int, int, int]  # top, bottom, left, right
    dilation: tuple[int, int] = (1, 1)
    ceil_mode: bool = False


Attrs = dict[str, Any]
Types = list[TensorType]


def _no_params(a: Attrs, ins: Types, out: TensorType) -> Params:
    return Params()


def _no_macs(a: Attrs, ins: Types, out: TensorType) -> int:
    return 0


def _no_window(a: Attrs) -> Window | None:
    return None


def _same_attrs(a: Attrs, ins: Types) -> Attrs:
    return a


@dataclass(frozen=True)
class OpDef:
    name: str
    family: str  # conv, pool, fc, act, norm, reg, merge, reshape, head, io
    doc: str
    infer: Callable[[Attrs, Types], TensorType]
    attrs: tuple[Attr, ...] = ()
    aliases: tuple[str, ...] = ()
    arity: int = 1  # -1: any number of inputs (merges)
    resolve: Callable[[Attrs, Types], Attrs] = _same_attrs
    params: Callable[[Attrs, Types, TensorType], Params] = _no_params
    macs: Callable[[Attrs, Types, TensorType], int] = _no_macs
    macs_kind: str = "none"  # conv, linear, norm, pool, resize, elementwise, none (fvcore's split)
    window: Callable[[Attrs], Window | None] = _no_window
    # upsampling operators: the window of the transposed (scattering) convolution they are
    transposed: Callable[[Attrs], Window] | None = None
    label: Callable[[Attrs, TensorType], str] | None = None
    # PyTorch: the module's constructor as a value (cnndsl.ops.ctor.Ctor; None: a
    # functional operator; text is still read from plugins, deprecated), and the forward
    # expression's text given the input variable names and the module reference
    # (``self.conv1``).
    torch_module: Callable[[Attrs, Types, TensorType], Ctor | str | None] | None = None
    torch_call: Callable[[Attrs, list[str], str | None, Types, TensorType], str] | None = None
    torch_helper: str = ""  # source of a helper nn.Module class the emission uses
    # (module, name) pairs the emission imports (``("cnndsl_coordconv.torch",
    # "CoordConv")``): a plugin's own module classes, which the generated file imports
    # instead of holding their code (see cnndsl.plugins; codecheck allows exactly these).
    torch_imports: tuple[tuple[str, str], ...] = ()
    # The inverse of the emission, for importing a PyTorch model: the module classes
    # this operator reads back (qualified public names, "torch.nn.Conv2d", matched by
    # exact class, or a subclass that adds no method; a bare name, "LayerScale",
    # matches a class of that name outside torch that from_torch accepts when asked
    # with no input types and that computes what the emission computes: the
    # emission's own helper classes), and the attributes, as
    # the language writes them, of such a module instance given its input types. It
    # reads the module with getattr (no torch here) and raises ValueError
    # (cnndsl.ops.readback.Unreadable) for a setting the operator cannot express
    # (padding_mode="reflect", a batch norm without running statistics).
    torch_classes: tuple[str, ...] = ()
    from_torch: Callable[[Any, Types], Attrs] | None = None
    cost_note: str = ""

    def attr(self, name: str) -> Attr | None:
        for a in self.attrs:
            if a.name == name:
                return a
        return None

    def describe(self, attrs: Attrs, out: TensorType) -> str:
        return self.label(attrs, out) if self.label else self.name
