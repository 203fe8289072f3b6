"""Presets: the named members of a family file (``preset efficientnet_b3(width=1.2, ...)``).

A preset binds network parameters as the network's defaults would, under the user's own
bindings; one that names no parameter of the network is an error whether chosen or not.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

from ..diagnostics import Diagnostic
from ..syntax import ast
from .env import BUILTIN_DEFAULTS


def chosen(program: ast.Program, name: str | None) -> ast.Preset | None:
    """The preset called ``name`` (any case, read as Python reads names, as the parser
    reads the preset lines: a full-width ``ｅ`` is ``e``), if the program has it."""
    if name is None:
        return None
    key = unicodedata.normalize("NFKC", name).lower()
    return next((p for p in program.presets if p.name.lower() == key), None)


def bound_names(program: ast.Program, name: str | None) -> set[str]:
    """The parameters the chosen preset binds (they need no default)."""
    p = chosen(program, name)
    return {a.name for a in p.args} if p else set()


def bindable(net: ast.NetworkDef) -> set[str]:
    """What a preset may bind: the network's parameters and the built-in defaults
    (``classes``, ``channels``, ``hidden``)."""
    return {p.name for p in net.params} | set(BUILTIN_DEFAULTS)


def check(program: ast.Program, net: ast.NetworkDef, name: str | None,
          report: Callable[[Diagnostic], None]) -> ast.Preset | None:
    """Every preset's names against the network's parameters; the chosen preset, or
    None (with E0204 when ``name`` is not one)."""
    params = bindable(net)
    for p in program.presets:
        for a in p.args:
            if a.name is not None and a.name not in params:
                report(Diagnostic("E0204", f"preset `{p.name}` binds `{a.name}`, which is "
                                  "not a parameter of the network", a.span,
                                  help="parameters: " + (", ".join(sorted(params)) or "none")))
    found = chosen(program, name)
    if name is not None and found is None:
        names = ", ".join(p.name for p in program.presets) or "none"
        report(Diagnostic("E0204", f"no preset named `{name}`", None,
                          help=f"this file's presets: {names}"))
    return found
