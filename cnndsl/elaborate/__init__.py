"""Elaboration: AST + bindings -> IR graph (see elaborator.py)."""

from .elaborator import DEFAULT_INPUT, Elaborator
from .env import BUILTIN_DEFAULTS

__all__ = ["BUILTIN_DEFAULTS", "DEFAULT_INPUT", "Elaborator"]
