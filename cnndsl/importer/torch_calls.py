"""The registry of functional calls and tensor methods the PyTorch import reads, and
how one call node is read (:func:`read_call`).

A handler (registered with :func:`handles` by :mod:`.torch_functions` and
:mod:`.torch_layers`) gets the converter, the fx node and its arguments by name with
every node replaced by its value (:mod:`.torch_convert`), and returns the node's value.
A call no handler reads is reported by its name (``torch.where``, ``Tensor.clamp``,
``autograd.Function Clip``) at its module's path. An in-place call (``relu_``, ``+=``,
``inplace=True``) also rebinds its first argument: later readers see the result.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import torch_patterns as pat
from .torch_convert import BAD, Act, Converter, Pending, call_name

Handler = Callable[[Converter, Any, dict[str, Any]], Any]
HANDLERS: dict[str, tuple[tuple[str, ...], dict[str, Any], Handler, bool]] = {}


def handles(*names: str, params: str = "x", pending: bool = False, **defaults: Any):
    """Register a handler for calls named ``names``; ``params`` lists the positional
    parameters (``"x dim keepdim"``), ``defaults`` those with default values;
    ``pending``: it reads half-matched idioms itself."""
    def register(fn: Handler) -> Handler:
        for name in names:
            HANDLERS[name] = (tuple(params.split()), defaults, fn, pending)
        return fn
    return register


def read_call(cv: Converter, n: Any) -> Any:
    """The value of call node ``n`` (call_function or call_method)."""
    name = call_name(n)
    entry = HANDLERS.get(name)
    if entry is None:
        return cv.unsupported(name, cv.module_path(n))
    params, defaults, fn, pending = entry
    args = cv.value(list(n.args))
    kw = dict(defaults)
    kw.update(zip(params, args))
    kw.update(cv.value(dict(n.kwargs)))
    if len(args) > len(params):
        kw["*"] = args[len(params):]
    values = list(_flat(kw))
    if any(v is BAD for v in values):
        if name == "operator.getitem" and not isinstance(cv.shapes.get(n.args[0]), tuple):
            pat.index_form(cv, n, kw["index"])  # reported even after something else
        return BAD
    if not pending:
        for key, v in list(kw.items()):
            if isinstance(v, Pending):
                v = pat.settle(cv, v, n)
                if v is BAD:
                    return BAD
                kw[key] = v
    out = fn(cv, n, kw)
    inplace = name.endswith("_") or name.startswith("operator.i") or kw.get("inplace")
    if inplace and n.args and hasattr(n.args[0], "users"):
        cv.env[n.args[0]] = out  # later readers of the operand see the result
    return out


def _flat(v: Any):
    if isinstance(v, dict):
        for x in v.values():
            yield from _flat(x)
    elif isinstance(v, (list, tuple)):
        for x in v:
            yield from _flat(x)
    else:
        yield v


def act(cv: Converter, n: Any, x: Any) -> Act | None:
    """``x`` where it is a tensor of the network, else None (reported)."""
    if isinstance(x, Act):
        return x
    cv.unsupported(f"{call_name(n)} on a constant tensor", cv.module_path(n))
    return None


def unary(op: str, read: Callable[[dict[str, Any]], dict[str, Any] | str] | None = None):
    """A handler making ``op`` of the first argument; ``read`` gives its attributes
    from the call's arguments, or a reason it cannot."""
    def handle(cv: Converter, n: Any, kw: dict[str, Any]) -> Any:
        x = act(cv, n, kw["x"])
        if x is None:
            return BAD
        attrs = read(kw) if read else {}
        if isinstance(attrs, str):
            return cv.unsupported(f"{call_name(n)} with {attrs}", cv.module_path(n))
        return cv.node(op, attrs, [x], n, cv.path(n, op))
    return handle
