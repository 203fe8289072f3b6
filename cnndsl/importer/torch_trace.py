"""The PyTorch import front end: a ``torch.nn.Module`` and its input shape as a graph
of the language's operators (:class:`~cnndsl.importer.common.Imported`).

>>> import torch.nn as nn
>>> m = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
...                   nn.Flatten(), nn.Linear(8, 10))
>>> imported = import_module(m, (3, 16, 16), "tiny")
>>> [(n.op, n.path) for n in imported.graph]
[('input', 'input'), ('conv', '0'), ('relu', '1'), ('gap', '2'), ('fc', '4')]
>>> [tuple(w.shape) for w in imported.weights["4"]], imported.unsupported
([(10, 8), (10,)], [])

How: torch.fx traces the forward with the model running alongside, in eval mode,
without gradients, on a batch of one (:mod:`.torch_tracer`: which modules are leaves,
what a failed trace becomes); the model's training flags are restored afterwards.
:mod:`.torch_convert` then reads the traced graph node by node: a leaf module by the
operator that claims its class, a functional call by :mod:`.torch_functions`, idioms
over several nodes by :mod:`.torch_patterns`. A node's path is its module's
(``layer1.0.conv1``), or for a functional call its module's plus a short name
(``layer1.0.add``); ``classes`` names the class of every module on the way.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import torch
from torch import fx, nn

from . import torch_functions  # noqa: F401  (it registers its handlers)
from .common import Imported, ImportFailure
from .torch_calls import read_call
from .torch_convert import BAD, Act, Const, Converter
from .torch_layers import read_module
from .torch_patterns import fold
from .torch_tracer import Claims, trace

_RESHAPES = frozenset({"reshape", "view", "unsqueeze", "squeeze", "flatten", "expand",
                       "expand_as", "contiguous", "view_as", "reshape_as"})


@dataclass(frozen=True)
class Shape:
    """A recorded tensor's shape (batch first); its values are not kept."""

    dims: tuple[int, ...]


def _shapes(v: Any) -> Any:
    if isinstance(v, torch.Tensor):
        return Shape(tuple(v.shape))
    if isinstance(v, (tuple, list)):
        return tuple(_shapes(x) for x in v)
    return v


def _module_path(n: fx.Node) -> str:
    """The module whose forward made node ``n`` ("" for the top level)."""
    stack = n.meta.get("nn_module_stack") or {}
    if n.op == "call_module":
        return str(n.target)
    return next(reversed(stack.values()))[0] if stack else ""


def import_module(module: nn.Module, input_shape: tuple[int, ...],
                  name: str | None = None) -> Imported:
    """Read ``module`` on inputs of ``input_shape`` (CxHxW, or F; no batch axis) into
    the language's operators; see the module docstring. What has no counterpart is
    listed in ``Imported.unsupported`` and the rest is read as far as it goes."""
    shape = tuple(int(d) for d in input_shape)
    if len(shape) not in (1, 3) or min(shape) < 1:
        raise ImportFailure(f"input shape {shape} is not CxHxW or F (give it without the "
                            "batch axis)")
    name = name or type(module).__name__
    claims = Claims()
    flags = {m: m.training for m in module.modules()}
    attrs = set(vars(module))
    found: dict[tuple[str, str], int] = {}
    first = next(iter(module.parameters()), None)
    x = torch.randn((1, *shape), generator=torch.Generator().manual_seed(0))
    if first is not None:
        x = x.to(first.device, first.dtype)
    try:
        module.eval()
        tracer, opaque = trace(module, x, claims, found)
    finally:
        for m, training in flags.items():
            m.training = training
        for attr in set(vars(module)) - attrs:  # fx's constants, set on the root
            delattr(module, attr)
    cv = Converter(name, shape, {}, _module_path)
    cv.found.update(found)
    classes = {"": type(module).__name__}
    if tracer is None:
        return cv.finish(None, classes)
    values, reached = tracer.values, tracer.reached
    cv.shapes = {n: _shapes(v) if n in reached else v for n, v in values.items()}
    calls: Counter[str] = Counter()
    out = None
    for n in tracer.graph.nodes:
        for path, cls in (n.meta.get("nn_module_stack") or {}).values():
            classes.setdefault(path, getattr(cls, "__name__", str(cls)))
        if n.op == "output":
            out = cv.value(n.args[0])
        elif n.op == "placeholder":
            cv.env[n] = Act(0) if not cv.env else BAD
        elif n not in reached:
            cv.env[n] = _constant(n, values.get(n), cv)
        elif n.op == "call_module":
            calls[str(n.target)] += 1
            cv.env[n] = _read_module(cv, module, n, claims, opaque)
        else:
            cv.env[n] = read_call(cv, n)
    for path, k in calls.items():
        m = module.get_submodule(path)
        if k > 1 and any(True for _ in m.parameters()):
            cv.unsupported(f"{type(m).__name__} called {k} times (shared weights)", path)
    return cv.finish(out, classes, fold)


def _constant(n: fx.Node, value: Any, cv: Converter) -> Any:
    """The value of a node no input reaches: a Const for a tensor, else the value. A
    tensor made from a parameter by reshaping only is still that parameter (learned as
    it is); computed from one (``gamma.exp()``), it is a constant here."""
    if not isinstance(value, torch.Tensor):
        return value
    if n.op == "get_attr":
        return Const(value.detach(), isinstance(value, nn.Parameter), str(n.target))
    name = getattr(n.target, "__name__", n.target)
    param = name in _RESHAPES and any(isinstance(cv.env.get(a), Const) and cv.env[a].param
                                      for a in n.all_input_nodes)
    return Const(value.detach(), param)


def _read_module(cv: Converter, root: nn.Module, n: fx.Node, claims: Claims,
                 opaque: set[str]) -> Any:
    path = str(n.target)
    m = root.get_submodule(path)
    if path in opaque:
        return BAD  # reported when its trace failed
    op = claims.opdef_for(m)
    if op is None:
        return cv.unsupported(type(m).__name__, path)
    args = cv.value(list(n.args))
    if len(args) != 1 or n.kwargs:
        return cv.unsupported(f"{type(m).__name__} called with more than one argument",
                              path)
    if args[0] is BAD:  # after something unsupported: still say what is wrong here
        try:
            op.from_torch(m, [])
        except Exception as e:
            cv.unsupported(f"{type(m).__name__}: {e}", path)
        return BAD
    out = read_module(cv, n, m, op, args[0], claims.named_only(m))
    if getattr(m, "inplace", False) is True and n.args and isinstance(n.args[0], fx.Node):
        cv.env[n.args[0]] = out
    return out


__all__ = ["Shape", "import_module"]
