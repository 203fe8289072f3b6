"""Tracing a PyTorch module for the import: torch.fx, with the model run alongside.

The leaves are the modules an operator reads back (:attr:`cnndsl.ops.OpDef.torch_classes`:
by exact class, or a subclass that adds no method; a class claimed by its bare name
only where its operator accepts it) and every other ``torch.nn`` class (no operator
reads it: reported). Everything else, containers and any class with a forward of its
own (timm's BatchNormAct2d, a Conv2dSame), is traced through.

NOTE: the model runs while it is traced. Each node is computed as it is recorded, on
the real input (a batch of one), so the trace knows every value: a branch on a shape
(``if x.shape[-1] < 7``, ``max(pad, 0)``, an ``_assert``) takes the way the real run
takes for this input shape (the program is for this shape), and the shapes and shape
computations need no second run. A branch on the values of the data (``if x.sum() >
0``) is data-dependent control flow: tracing stops with a TraceError, and
:func:`trace` makes the module where it happened opaque (reported) and traces again.
A custom ``autograd.Function`` would be traced into, losing its backward: its
``apply`` is kept as one call, reported by the function's name.
"""

from __future__ import annotations

import contextlib
import inspect
import math
import sys
import threading
from typing import Any

import torch
from torch import fx, nn

from .. import ops
from ..ops.schema import OpDef
from .common import ImportFailure

MAX_RETRIES = 64  # modules made opaque after failed traces, at most
# fx patches Module.__call__ and __getattr__ while tracing; the run alongside needs them
# off (torch's own context manager for this; a private name, hence the fallback).
_UNPATCHED = getattr(fx._symbolic_trace, "_maybe_revert_all_patches", contextlib.nullcontext)
_CONTAINERS = (nn.Sequential, nn.ModuleList, nn.ModuleDict)
_LOCK = threading.Lock()  # autograd.Function.apply is patched while tracing


class Claims:
    """Which operator reads which module class (see :attr:`OpDef.torch_classes`)."""

    def __init__(self) -> None:
        self.by_class: dict[type, OpDef] = {}
        self.by_name: dict[str, list[OpDef]] = {}
        for op in ops.all_ops():
            if op.from_torch is None:
                continue
            for name in op.torch_classes:
                if "." not in name:
                    self.by_name.setdefault(name, []).append(op)
                elif (cls := _resolve(name)) is not None:
                    self.by_class.setdefault(cls, op)
        self._cache: dict[type, OpDef | None] = {}

    def opdef_for(self, m: nn.Module) -> OpDef | None:
        cls = type(m)
        if cls not in self._cache:
            self._cache[cls] = self._find(cls)
        op = self._cache[cls]
        if op is not None and not any(k in self.by_class for k in cls.__mro__):
            try:  # claimed by its bare name: only a module its operator can read
                op.from_torch(m, [])
            except Exception:
                return None
        return op

    def named_only(self, m: nn.Module) -> bool:
        """Whether ``m``'s class is claimed by its bare name alone."""
        return not any(k in self.by_class for k in type(m).__mro__)

    def _find(self, cls: type) -> OpDef | None:
        for k in cls.__mro__:
            if k in self.by_class:
                return self.by_class[k]
            if k is cls and not cls.__module__.startswith("torch."):
                named = self.by_name.get(cls.__name__)
                if named:
                    return named[0]
            if k is nn.Module or _own_methods(k):
                return None  # a class with code of its own: traced through
        return None


def _own_methods(cls: type) -> bool:
    """Whether ``cls`` defines behaviour (a method other than ``__init__``)."""
    return any(inspect.isfunction(v) and k != "__init__" for k, v in vars(cls).items())


def _resolve(name: str) -> type | None:
    """The class a qualified name denotes, if its package is loaded (an instance of a
    class of a package never imported cannot be in the model)."""
    parts = name.split(".")
    obj = sys.modules.get(parts[0])
    for p in parts[1:]:
        obj = getattr(obj, p, None)
    return obj if isinstance(obj, type) else None


class RunError(Exception):
    """The model's own code failed on the input while traced (not a tracing limit)."""


class Tracer(fx.Tracer):
    """An fx tracer that runs each node as it records it (see the module NOTE):
    ``values`` holds every node's value, ``reached`` the nodes the input's values
    reach (a shape computed from a tensor is not one: ``x.item()`` is)."""

    def __init__(self, claims: Claims, opaque: set[str], x: torch.Tensor,
                 defaults: dict[str, Any]):
        super().__init__(autowrap_modules=(math,), param_shapes_constant=True)
        self.claims, self.opaque = claims, opaque
        self.x, self.defaults = x, defaults
        self.values: dict[fx.Node, Any] = {}
        self.reached: set[fx.Node] = set()
        self.failed_at: str | None = None

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        if qualname in self.opaque or self.claims.opdef_for(m) is not None:
            return True
        if type(m).__module__.startswith(("torch.nn.", "torch.ao.nn.")):
            return not isinstance(m, _CONTAINERS)
        return False

    def call_module(self, m, forward, args, kwargs):
        try:
            return super().call_module(m, forward, args, kwargs)
        except Exception:
            if self.failed_at is None:  # the innermost module: the first to see it
                with contextlib.suppress(NameError):
                    self.failed_at = self.path_of_module(m)
            raise

    def create_node(self, kind, target, args, kwargs, name=None, type_expr=None):
        node = super().create_node(kind, target, args, kwargs, name, type_expr)
        if kind != "output":
            self._run(node)
        return node

    def _run(self, node: fx.Node) -> None:
        a = fx.node.map_arg(node.args, self.values.__getitem__)
        k = fx.node.map_arg(node.kwargs, self.values.__getitem__)
        try:
            with _UNPATCHED():
                out = self._value(node, a, k)
        except Exception as e:
            raise RunError(f"{type(e).__name__}: {_first_line(e)}") from e
        ins = [i for i in node.all_input_nodes if i in self.reached]
        if _has_tensor(out):
            data = bool(ins) or (node.op == "placeholder" and not self.values)
        else:
            data = bool(ins) and (node.target in ("item", "tolist") or
                                  any(not _has_tensor(self.values[i]) for i in ins))
        if data:
            self.reached.add(node)
        self.values[node] = out

    def _value(self, node: fx.Node, a: Any, k: Any) -> Any:
        if node.op == "placeholder":
            return self.defaults.get(str(node.target), self.x) if self.values else self.x
        if node.op == "get_attr":
            out = self.root
            for part in str(node.target).split("."):
                out = getattr(out, part)
            return out
        if node.op == "call_module":
            return self.root.get_submodule(str(node.target))(*a, **k)
        if node.op == "call_method":
            return getattr(a[0], node.target)(*a[1:], **k)
        return node.target(*a, **k)

    def to_bool(self, obj: fx.Proxy) -> bool:
        """A branch on a shape takes the real run's way; on the data, it cannot."""
        if obj.node in self.reached:
            raise fx.proxy.TraceError("data-dependent control flow")
        return bool(self.values[obj.node])

    def iter(self, obj: fx.Proxy):
        value = self.values.get(obj.node)
        if obj.node in self.reached or not isinstance(value, (tuple, list)):
            return super().iter(obj)
        return iter([obj[i] for i in range(len(value))])


def _first_line(e: Exception) -> str:
    text = str(e).strip()
    return text.splitlines()[0][:200] if text else ""


def _has_tensor(v: Any) -> bool:
    if isinstance(v, torch.Tensor):
        return True
    return isinstance(v, (tuple, list)) and any(_has_tensor(x) for x in v)


@contextlib.contextmanager
def _functions_kept_whole():
    """While tracing, ``SomeFunction.apply(proxy)`` is one call node (see the NOTE)."""
    base = torch.autograd.Function
    original = base.__dict__.get("apply")
    if not isinstance(original, classmethod):
        yield
        return

    def apply(cls, *args, **kwargs):
        proxy = next((a for a in (*args, *kwargs.values()) if isinstance(a, fx.Proxy)), None)
        if proxy is None:
            return original.__func__(cls, *args, **kwargs)

        def call(*a, **k):
            return original.__func__(cls, *a, **k)
        call.__name__ = "apply"
        call.autograd_function = cls  # type: ignore[attr-defined]
        return proxy.tracer.create_proxy("call_function", call, args, kwargs)

    with _LOCK:
        base.apply = classmethod(apply)
        try:
            yield
        finally:
            base.apply = original


def trace(module: nn.Module, x: torch.Tensor, claims: Claims,
          found: dict[tuple[str, str], int]) -> tuple[Tracer | None, set[str]]:
    """The finished tracer (its ``graph``, ``values`` and ``reached``), or None where
    the top level itself cannot be traced, and the module paths made opaque; each
    failure is counted in ``found`` as (what, path). Raises ImportFailure where the
    model's own code fails on ``x``."""
    opaque: set[str] = set()
    defaults = _defaults(module)
    for _ in range(MAX_RETRIES):
        tracer = Tracer(claims, opaque, x, defaults)
        try:
            with _functions_kept_whole(), torch.no_grad():
                tracer.trace(module, concrete_args=defaults or None)
            return tracer, opaque
        except RunError as e:
            shape = "x".join(map(str, x.shape[1:]))
            raise ImportFailure(f"{type(module).__name__} fails on an input of {shape} "
                                f"({e}); give another input shape") from None
        except Exception as e:  # any other failure of the user's code under tracing
            path = tracer.failed_at or ""
            found[(_failure(e), path)] = 1
            if not path or path in opaque:
                return None, opaque
            opaque.add(path)
    return None, opaque


def _failure(e: Exception) -> str:
    if isinstance(e, fx.proxy.TraceError):
        return "data-dependent control flow (fx cannot trace it)"
    return f"code fx cannot trace ({type(e).__name__}: {_first_line(e)[:100]})"


def _defaults(module: nn.Module) -> dict[str, Any]:
    """Forward parameters after the first, at their defaults (``forward(x, mask=None)``)."""
    params = list(inspect.signature(module.forward).parameters.values())[1:]
    rest = {}
    for p in params:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if p.default is p.empty:
            raise ImportFailure(f"{type(module).__name__}.forward takes more than one "
                                f"input ({p.name})")
        rest[p.name] = p.default
    return rest
