"""Presets and domains: the named members of a family file (``preset
efficientnet_b3(width=1.2, ...)``) and the values its parameters range over
(``N=2 in 1..5``).

A preset binds network parameters as the network's defaults would, under the user's own
bindings; one that names no parameter of the network is an error whether chosen or not.
A domain is the family's design space: a default outside it is an error (E0205), a
binding outside it a warning (W0202: the user may step outside on purpose).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Mapping
from typing import Any

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


def check_domains(program: ast.Program, bindings: Mapping[str, Any], preset: str | None,
                  report: Callable[[Diagnostic], None]) -> None:
    """Each ranged parameter's default and bound value against its domain; ranges on a
    block's parameters (which no one enumerates) are errors."""
    for b in program.blocks:
        for p in b.params:
            if p.domain is not None:
                report(Diagnostic("E0205", f"block parameter `{p.name}` has a range; only "
                                  "the network's parameters range over values",
                                  p.domain.span, help="move the range to a network "
                                  "parameter and pass it to the block"))
    net = program.network
    chosen_preset = chosen(program, preset)
    by_preset = {a.name: a.value for a in chosen_preset.args} if chosen_preset else {}
    for p in net.params if net else ():
        d = p.domain
        if d is None:
            continue
        if not d.size:
            report(Diagnostic("E0205", f"the range {d} of `{p.name}` is empty", d.span,
                              help="write the smaller end first: `1..5`"))
            continue
        if isinstance(p.default, (ast.Num, ast.Str)) and p.default.value not in d:
            report(Diagnostic("E0205", f"the default {p.default.text} of `{p.name}` lies "
                              f"outside its values {d}", p.default.span,
                              help=f"choose a default in {d}, or widen the range"))
        if p.name in bindings:
            _outside(p, bindings[p.name], "the binding", None, report)
        elif isinstance(by_preset.get(p.name), (ast.Num, ast.Str)):
            value = by_preset[p.name]
            _outside(p, value.value, f"preset `{chosen_preset.name}`", value.span, report)


def _outside(p: ast.Param, value: Any, who: str, span, report) -> None:
    d = p.domain
    if value in d or (isinstance(value, str) and d.choices is None and _numeric_in(value, d)):
        return
    shown = str(value).lower() if isinstance(value, bool) else str(value)
    report(Diagnostic("W0202", f"{who} {p.name}={shown} lies outside the family's values "
                      f"{d}", span or p.domain.span,
                      label="the family's values" if span is None else None,
                      help=f"a member of the family has {p.name} in {d}"))


def _numeric_in(text: str, d: ast.Domain) -> bool:
    try:
        return int(text) in d
    except ValueError:
        return False
