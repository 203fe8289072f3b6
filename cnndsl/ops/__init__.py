"""Operators: one definition each (see schema.OpDef); importing this loads them all."""

# Each family module registers its operators on import.
from . import (  # noqa: F401
    activation,
    channels,
    convolution,
    linear,
    merge,
    normalization,
    pooling,
    reshape,
)
from .ctor import Ctor
from .registry import all_ops, did_you_mean, get, lookup, names
from .schema import REQUIRED, Attr, OpDef, Params, ShapeError, Window

__all__ = ["Attr", "Ctor", "OpDef", "Params", "REQUIRED", "ShapeError", "Window", "all_ops",
           "did_you_mean", "get", "lookup", "names"]
