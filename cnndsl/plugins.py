"""Operators from outside cnndsl: register one from Python, or install a plugin package.

An operator is one :class:`~cnndsl.ops.OpDef` (its schema, shape rule, costs, window,
label and PyTorch emission; docs/plugins.md). :func:`register_op` adds one to the
registry every pass asks, so the language, shapes, costs, receptive fields, diagrams,
emitted code and training all see it with no change to cnndsl. An installed package
declares its operators in the ``cnndsl.ops`` entry-point group; they are loaded once,
on the first lookup (see :mod:`cnndsl.ops.registry`).

>>> from cnndsl import compile, ops, plugins
>>> halve = ops.OpDef(
...     name="halve", family="act", doc="x / 2", infer=lambda a, ins: ins[0],
...     torch_module=lambda a, ins, out: None,
...     torch_call=lambda a, xs, m, ins, out: f"{xs[0]} / 2")
>>> with plugins.registered(halve):
...     compile("input 3x8x8\\nconv(4, 3) - halve").graph.nodes[-1].op
'halve'
>>> ops.lookup("halve") is None
True

NOTE: what a plugin may put into generated code. A generated file must pass the
allow-list (:mod:`cnndsl.backends.codecheck`) before it runs. A plugin's emission is
made from the attribute values the backend has already checked to be plain numbers and
short words: ``torch_module`` returns a :class:`~cnndsl.ops.ctor.Ctor`, a constructor
call that can hold nothing else (text is still read into one, deprecated; see
docs/plugins.md), and ``torch_call`` the forward expression's text, so "nothing from
the input but escaped names and numbers" still holds. Code of its own reaches the file in
one of two ways: ``torch_helper``, an ``nn.Module`` class copied into the file (it must
pass the allow-list itself: checked here, at registration), or ``torch_imports``,
``(module, name)`` pairs the file imports (``from cnndsl_coordconv.torch import
CoordConv``); the allow-list admits exactly the imports registered operators declare.
The file then runs standalone wherever the plugin package is installed.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.metadata
import os
import re
import types
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from .ops import registry
from .ops.schema import OpDef

GROUP = "cnndsl.ops"
DISABLE = "CNNDSL_NO_PLUGINS"  # set (to anything but "" or "0") to load no plugin
FAMILIES = ("conv", "pool", "fc", "act", "norm", "reg", "reshape", "head")
_NAME = re.compile(r"[a-z][a-z0-9_]*\Z")
_MODULE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*\Z")
# Words the language gives a meaning of its own: headers, expression words, constants.
_LANGUAGE_WORDS = frozenset({
    "import", "block", "network", "input", "preset", "and", "or", "not", "in", "as", "if",
    "true", "false", "yes", "no", "on", "off", "in_c", "in_h", "in_w", "repeat_index"})
_MATH_WORDS = frozenset({"floor", "ceil", "round", "int", "abs", "min", "max",
                         "make_divisible"})  # cnndsl.elaborate.env's functions
PRELUDE = Path(__file__).resolve().parent / "prelude.cnn"
_GENERATED_NAMES = frozenset({"torch", "nn", "F", "math", "Any", "build", "INPUT_SHAPE",
                              "NUM_CLASSES", "model", "self", "x", "identity"})
_LOADED: dict[str, list[str]] = {}  # entry point -> the operators it registered


class PluginError(ValueError):
    """An operator that cannot be registered: a taken name, a missing rule, emission
    outside the allow-list. The message names the operator and what to change."""


class PluginWarning(UserWarning):
    """An installed plugin that failed to load; it is skipped."""


def register_op(op: OpDef | None = None, /, *, plugin: str = "<python>",
                **fields: Any) -> OpDef:
    """Add an operator to the language; returns it.

    Give an :class:`~cnndsl.ops.OpDef`, or its fields as keywords
    (``register_op(name="coordconv", family="conv", infer=..., ...)``). ``plugin`` names
    who registers it, for messages. Raises :class:`PluginError` when its name or an
    alias is taken (by a built-in operator or block, a word of the language, another
    plugin), when it has no PyTorch emission, or when its emission could not pass the
    generated-code allow-list. Registering the same definition again does nothing.

    >>> from cnndsl import ops
    >>> op = register_op(name="twice", family="act", doc="2x", infer=lambda a, ins: ins[0],
    ...                  torch_call=lambda a, xs, m, ins, out: f"2 * {xs[0]}")
    >>> ops.lookup("TWICE") is op, unregister_op("twice") is op, ops.lookup("twice")
    (True, True, None)
    """
    if op is None:
        try:
            op = OpDef(**fields)
        except TypeError as e:
            raise PluginError(f"cannot make an operator from these fields: {e}") from None
    elif fields:
        raise PluginError("give an OpDef or its fields as keywords, not both")
    if not isinstance(op, OpDef):
        raise PluginError(f"register_op takes a cnndsl.ops.OpDef, got {type(op).__name__}")
    if registry.lookup(op.name) is op:
        return op
    _validate(op, plugin)
    try:
        return registry.register(op, origin=plugin)
    except ValueError as e:
        raise PluginError(f"{_who(op, plugin)}: {e}; rename it (a prefix of the "
                          "plugin's own: `mylib_conv`)") from None


def unregister_op(name: str) -> OpDef | None:
    """Remove a plugin operator by its canonical name (built-in ones stay); returns it."""
    if registry.origin(name) in (None, "cnndsl"):
        return None
    return registry.unregister(name)


@contextlib.contextmanager
def registered(*op_defs: OpDef, plugin: str = "<python>") -> Iterator[tuple[OpDef, ...]]:
    """Register ``op_defs`` for the ``with`` block only (the registry is global: a test
    that adds an operator takes it away again)."""
    done: list[OpDef] = []
    try:
        for op in op_defs:
            if registry.lookup(op.name) is not op:
                done.append(register_op(op, plugin=plugin))
        yield tuple(op_defs)
    finally:
        for op in reversed(done):
            registry.unregister(op.name)


def plugin_ops() -> dict[str, str]:
    """Each plugin operator's canonical name -> the plugin that registered it."""
    return {op.name: registry.origin(op.name) or "" for op in registry.all_ops()
            if registry.origin(op.name) != "cnndsl"}


# ---------------------------------------------------------------- validation
def _who(op: OpDef, plugin: str) -> str:
    return f"operator {op.name!r}" + ("" if plugin == "<python>" else f" of plugin {plugin}")


def _validate(op: OpDef, plugin: str) -> None:
    """Every problem that would otherwise surface later, inside a pass or the backend."""
    who = _who(op, plugin)
    for n in (op.name, *op.aliases):
        if not isinstance(n, str) or not _NAME.match(n.lower()):
            raise PluginError(f"{who}: name {n!r} must be an ASCII identifier "
                              "(letters, digits, _; case does not matter)")
        if n.lower() in _reserved_words():
            raise PluginError(f"{who}: name {n!r} is a word of the language or a "
                              "built-in block; rename it")
    if op.family not in FAMILIES:
        raise PluginError(f"{who}: family {op.family!r} is not one plugins may use; choose "
                          f"one of {', '.join(FAMILIES)} (merges and io are built in)")
    if op.arity != 1:
        raise PluginError(f"{who}: a plugin operator takes one input (arity 1); merges of "
                          "several branches are built in")
    if not callable(op.infer):
        raise PluginError(f"{who}: infer must be a function (attrs, input types) -> type")
    if op.torch_module is None and op.torch_call is None:
        raise PluginError(f"{who}: it has no PyTorch emission; give torch_module (a "
                          "cnndsl.ops.Ctor) and/or torch_call (a forward expression)")
    for pair in op.torch_imports:
        _check_import(who, pair)
    if op.torch_helper:
        _check_helper(who, op)


def _check_import(who: str, pair: Any) -> None:
    if not (isinstance(pair, tuple) and len(pair) == 2 and all(isinstance(p, str)
                                                                for p in pair)):
        raise PluginError(f"{who}: torch_imports holds (module, name) pairs, got {pair!r}")
    module, name = pair
    if not _MODULE.match(module) or not name.isidentifier() or not name.isascii() \
            or name.startswith("_"):
        raise PluginError(f"{who}: ({module!r}, {name!r}) is not `from MODULE import NAME` "
                          "with a public name")
    if name in _GENERATED_NAMES or module.split(".")[0] in ("cnndsl", "builtins"):
        raise PluginError(f"{who}: generated code cannot import {name} from {module} "
                          "(a name the file uses itself, or cnndsl's own code: the file "
                          "must run without cnndsl)")
    for other, owner in _imports_by_name().items():
        if other[1] == name and other[0] != module:
            raise PluginError(f"{who}: imports {name} from {module}, but operator "
                              f"{owner!r} imports {name} from {other[0]}")


def _imports_by_name() -> dict[tuple[str, str], str]:
    return {imp: op.name for op in registry.all_ops() for imp in op.torch_imports}


def _check_helper(who: str, op: OpDef) -> None:
    from .backends import codecheck
    head = "import torch\nfrom torch import nn\nfrom torch.nn import functional as F\n"
    try:
        codecheck.check(head + op.torch_helper)
    except codecheck.UnsafeCode as e:
        raise PluginError(f"{who}: its torch_helper is outside the generated-code "
                          f"allow-list ({e}); put the class in the plugin's module and "
                          "declare it in torch_imports instead") from None


@functools.lru_cache(maxsize=1)
def _reserved_words() -> frozenset[str]:
    """The language's words, math functions and built-in blocks (``residual``, the
    prelude's ``se``): an operator of that name would never be called (the elaborator
    tries blocks first), or, named like a prelude block, would break every compile."""
    from .elaborate import builtins
    from .syntax.parser import parse
    prelude = parse(PRELUDE.read_text(encoding="utf-8"), "<prelude>")
    return (_LANGUAGE_WORDS | _MATH_WORDS | frozenset(builtins.names())
            | {b.name.lower() for b in prelude.blocks})


# ---------------------------------------------------------------- entry points
def load_entry_points() -> dict[str, list[str]]:
    """Load the plugins installed in the ``cnndsl.ops`` entry-point group, each once.

    An entry point names a module (importing it registers its operators) or a callable
    (called with no arguments; it registers them, or returns an OpDef or a list of
    them to register). A plugin that fails, or registers a taken name, is reported by
    a :class:`PluginWarning` naming it and skipped, with whatever it had registered
    taken away again. Returns entry point -> the operators it added. The registry calls
    this before its first answer; call it yourself to see the warnings early.
    """
    if os.environ.get(DISABLE, "") not in ("", "0"):
        return {}
    try:
        found = importlib.metadata.entry_points(group=GROUP)
    except Exception as e:  # a broken installation's metadata: no plugin, not a crash
        warnings.warn(f"cnndsl: cannot list the {GROUP} plugins ({e}); none are loaded",
                      PluginWarning, stacklevel=2)
        return {}
    for ep in sorted(found, key=lambda e: e.name):
        label = f"{ep.name} ({ep.value})"
        if label not in _LOADED:
            _LOADED[label] = _load_one(ep, label)
    return dict(_LOADED)


def _load_one(ep: Any, label: str) -> list[str]:
    before = {op.name for op in registry.all_ops()}
    try:
        target = ep.load()
        if callable(target) and not isinstance(target, types.ModuleType):
            result = target()
            for op in _op_list(result):
                register_op(op, plugin=label)
    except Exception as e:  # any failure of foreign code: skip it, say which and why
        for name in {op.name for op in registry.all_ops()} - before:
            registry.unregister(name)
        warnings.warn(f"cnndsl: plugin {label} failed to load and is skipped: "
                      f"{type(e).__name__}: {e}", PluginWarning, stacklevel=4)
        return []
    return sorted({op.name for op in registry.all_ops()} - before)


def _op_list(result: Any) -> list[OpDef]:
    if result is None:
        return []
    if isinstance(result, OpDef):
        return [result]
    if isinstance(result, Iterable) and not isinstance(result, (str, bytes)):
        return list(result)
    raise PluginError(f"a plugin callable returns None, an OpDef or a list of them, got "
                      f"{type(result).__name__}")


def loaded_plugins() -> dict[str, list[str]]:
    """Entry point -> the operators it registered (loads them first)."""
    registry.lookup("conv")  # the registry loads the plugins on its first answer
    return dict(_LOADED)


__all__ = ["GROUP", "PluginError", "PluginWarning", "load_entry_points", "loaded_plugins",
           "plugin_ops", "register_op", "registered", "unregister_op"]
