"""The operator registry: name and alias lookup, duplicate checks, "did you mean".

NOTE: plugins. Operators of installed plugins (the ``cnndsl.ops`` entry-point group,
:mod:`cnndsl.plugins`) are loaded once, on the first question asked of the registry
(:func:`lookup`, :func:`get`, :func:`all_ops`, :func:`names`, ...), never while cnndsl
itself is still being imported (the elaborator lists the merge operators at import
time): so ``import cnndsl`` stays cheap and every pass, which asks the registry, sees
plugin operators exactly as it sees built-in ones. :func:`register` itself never loads
plugins: it is what they call.
"""

from __future__ import annotations

import sys
import threading

from ..suggest import closest
from .schema import OpDef

_OPS: dict[str, OpDef] = {}
_ALIASES: dict[str, str] = {}
_ORIGIN: dict[str, str] = {}  # canonical name -> who registered it ("cnndsl" or a plugin)
_PLUGINS = {"state": "unloaded"}  # unloaded, loading, loaded
_LOCK = threading.RLock()


def _ensure_plugins() -> None:
    """Load the installed plugins' operators, once (see the NOTE above)."""
    if _PLUGINS["state"] != "unloaded":
        return
    package = sys.modules.get("cnndsl")
    spec = getattr(package, "__spec__", None)
    if package is None or getattr(spec, "_initializing", False):
        return  # cnndsl is still being imported: too early to import a plugin
    with _LOCK:
        if _PLUGINS["state"] != "unloaded":
            return
        _PLUGINS["state"] = "loading"  # a plugin asking the registry does not recurse
        try:
            from ..plugins import load_entry_points
            load_entry_points()
        finally:
            _PLUGINS["state"] = "loaded"


def _key(name: str) -> str:
    return name.lower().replace("-", "_")


def register(op: OpDef, origin: str = "cnndsl") -> OpDef:
    """Add an operator; its name and aliases must be new (case-insensitive). Nothing is
    added when one of them is taken. ``origin`` says who registered it (a plugin's
    name), for messages."""
    taken = [(n, _ALIASES[_key(n)]) for n in (op.name, *op.aliases) if _key(n) in _ALIASES]
    keys = [_key(n) for n in (op.name, *op.aliases)]
    if not taken and len(set(keys)) < len(keys):
        taken = [(op.name, op.name)]
    if taken:
        n, owner = taken[0]
        by = _ORIGIN.get(owner, "cnndsl")
        who = "a built-in operator" if by == "cnndsl" else f"an operator of {by}"
        raise ValueError(f"operator name {n!r} is already taken by {owner!r} ({who})")
    for k in keys:
        _ALIASES[k] = op.name
    _OPS[op.name] = op
    _ORIGIN[op.name] = origin
    return op


def unregister(name: str) -> OpDef | None:
    """Remove the operator with canonical name ``name`` and its aliases (a plugin's
    tests register an operator and take it away again); returns it, or None."""
    op = _OPS.pop(name, None)
    if op is not None:
        for n in (op.name, *op.aliases):
            _ALIASES.pop(_key(n), None)
        _ORIGIN.pop(name, None)
    return op


def origin(name: str) -> str | None:
    """Who registered the operator with canonical name ``name``: "cnndsl" for a built-in
    one, else the plugin's name; None for an unknown operator."""
    return _ORIGIN.get(name) if name in _OPS else None


def lookup(name: str) -> OpDef | None:
    """The operator called ``name`` (any case, any alias), or None."""
    _ensure_plugins()
    canonical = _ALIASES.get(_key(name))
    return _OPS[canonical] if canonical else None


def get(name: str) -> OpDef:
    """The operator with canonical name ``name``; KeyError for an unknown one."""
    _ensure_plugins()
    return _OPS[name]


def all_ops() -> list[OpDef]:
    _ensure_plugins()
    return sorted(_OPS.values(), key=lambda o: o.name)


def names() -> list[str]:
    _ensure_plugins()
    return sorted(_ALIASES)


def declared_imports() -> set[tuple[str, str]]:
    """The (module, name) imports the registered operators' emissions declare
    (:attr:`OpDef.torch_imports`): what generated code may import besides torch."""
    _ensure_plugins()
    return {imp for op in _OPS.values() for imp in op.torch_imports}


def did_you_mean(name: str, extra: list[str] = ()) -> str | None:
    _ensure_plugins()
    return closest(_key(name), [*_ALIASES, *(x.lower() for x in extra)])
