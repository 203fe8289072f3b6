"""Operators: one definition each (see schema.OpDef); importing this loads them all."""

from . import channels, layers, merge  # noqa: F401  (registers the operators)
from .registry import all_ops, did_you_mean, get, lookup, names
from .schema import REQUIRED, Attr, OpDef, Params, ShapeError, Window

__all__ = ["Attr", "OpDef", "Params", "REQUIRED", "ShapeError", "Window", "all_ops",
           "did_you_mean", "get", "lookup", "names"]
