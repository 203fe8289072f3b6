"""What ``cnndsl import SPEC`` reads: a model named by a Python callable, a ``.py`` file
holding a module class, or an ``.onnx`` file.

=============================================  =========================================
``torchvision.models:resnet50``                the callable, called with no arguments
``mypkg.models:Net(width=2, act="relu")``      called with these arguments (literals only)
``timm:resnet50d``                             ``timm.create_model("resnet50d")``
``path/to/net.py`` or ``net.py:Net(4)``        the file's one ``nn.Module`` class (or the
                                               one named), instantiated
``model.onnx``                                 the ONNX file
=============================================  =========================================

Arguments are read as literals (:func:`ast.literal_eval`): numbers, strings, booleans,
None, and tuples, lists and dicts of them; never evaluated as code. Naming a module or a
file does run it, as Python's own ``import`` would: that is what a model definition is.

>>> parse_spec('mypkg.models:Net(8, act="gelu")')
Spec(kind='callable', target='mypkg.models', attr='Net', args=(8,), kwargs={'act': 'gelu'})
>>> parse_spec("timm:resnet50d").kind
'timm'
>>> parse_spec("nets/small.onnx").kind
'onnx'
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..diagnostics import UserError

_HELP = ("give a callable (torchvision.models:resnet50, mypkg.models:Net(width=2)), "
         "timm:NAME, a .py file (net.py or net.py:Net) or an .onnx file")
_CALL = re.compile(r"^(?P<head>[^()]*?)(?:\((?P<args>.*)\))?\s*$", re.S)


@dataclass(frozen=True)
class Spec:
    kind: str  # callable, timm, file, onnx
    target: str  # the module, the timm model, or the file
    attr: str = ""  # the callable or class; "" for a file's one module class
    args: tuple = ()
    kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def default_name(self) -> str:
        """A network name: the callable's or file's (``resnet50``, ``net``)."""
        base = self.attr or (self.target if self.kind == "timm" else Path(self.target).stem)
        return _snake(base)


def _snake(text: str) -> str:
    text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", text)
    text = re.sub(r"\W+", "_", text).strip("_").lower()
    return text if text and not text[0].isdigit() else f"net_{text}"


def _arguments(text: str, spec: str) -> tuple[tuple, dict[str, Any]]:
    try:
        call = ast.parse(f"f({text})", mode="eval").body
    except SyntaxError:
        raise UserError(f"cannot read the arguments of {spec!r}", help=_HELP,
                        exit_code=2) from None
    assert isinstance(call, ast.Call)
    try:
        args = tuple(ast.literal_eval(a) for a in call.args)
        kwargs = {k.arg: ast.literal_eval(k.value) for k in call.keywords if k.arg}
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise UserError(f"the arguments of {spec!r} must be literals (numbers, strings, "
                        "booleans, None, tuples, lists, dicts)", help=_HELP,
                        exit_code=2) from None
    if any(k.arg is None for k in call.keywords) or any(isinstance(a, ast.Starred)
                                                        for a in call.args):
        raise UserError(f"{spec!r}: no * or ** in the arguments", help=_HELP, exit_code=2)
    return args, kwargs


def parse_spec(spec: str) -> Spec:
    """The spec's parts; a UserError (exit 2) for anything else."""
    text = spec.strip()
    if text.lower().endswith(".onnx"):
        return Spec("onnx", text)
    m = _CALL.match(text)
    if not m:
        raise UserError(f"cannot read the model spec {spec!r}", help=_HELP, exit_code=2)
    head, args_text = m.group("head").strip(), m.group("args")
    args, kwargs = _arguments(args_text, spec) if args_text is not None else ((), {})
    path, _, attr = head.partition(":") if not re.match(r"^[A-Za-z]:[\\/]", head) else \
        (head, "", "")  # a Windows drive letter is not a separator
    if head.endswith(".py") or path.endswith(".py"):
        if attr and not attr.isidentifier():
            raise UserError(f"{attr!r} is not a class name", help=_HELP, exit_code=2)
        return Spec("file", path, attr, args, kwargs)
    if not attr:
        raise UserError(f"{spec!r} names no callable (module:callable)", help=_HELP,
                        exit_code=2)
    if path == "timm":
        return Spec("timm", attr, "", args, kwargs)
    if not all(p.isidentifier() for p in path.split(".")) or not all(
            p.isidentifier() for p in attr.split(".")):
        raise UserError(f"cannot read the model spec {spec!r}", help=_HELP, exit_code=2)
    return Spec("callable", path, attr, args, kwargs)


def load_model(spec: Spec) -> Any:
    """The ``torch.nn.Module`` a (non-ONNX) spec names, instantiated."""
    import torch

    if spec.kind == "timm":
        try:
            import timm
        except ImportError:
            raise UserError("timm:NAME needs timm", help="pip install timm",
                            exit_code=2) from None
        if spec.args:
            raise UserError("timm:NAME takes keyword arguments only (num_classes=10)",
                            exit_code=2)
        try:
            model = timm.create_model(spec.target, pretrained=False, **spec.kwargs)
        except (RuntimeError, ValueError, TypeError, KeyError) as e:
            raise UserError(f"timm cannot make {spec.target!r}: {e}".splitlines()[0],
                            help="timm.list_models() lists the names", exit_code=2) from None
    else:
        factory = _factory(spec)
        try:
            model = factory(*spec.args, **spec.kwargs)
        except TypeError as e:
            raise UserError(f"{spec.target}:{spec.attr or factory.__name__}: {e}",
                            exit_code=2) from None
    if not isinstance(model, torch.nn.Module):
        raise UserError(f"{spec.target}:{spec.attr} made a {type(model).__name__}, not a "
                        "torch.nn.Module", help=_HELP, exit_code=2)
    return model


def _factory(spec: Spec) -> Any:
    if spec.kind == "file":
        module = _module_from_file(Path(spec.target))
        if spec.attr:
            if not hasattr(module, spec.attr):
                raise UserError(f"{spec.target} defines no {spec.attr!r}", exit_code=2)
            return getattr(module, spec.attr)
        return _only_module_class(module, spec.target)
    try:
        module = importlib.import_module(spec.target)
    except ImportError as e:
        raise UserError(f"cannot import {spec.target!r}: {e}", help="is the package "
                        "installed, and the spec module:callable?", exit_code=2) from None
    obj: Any = module
    for part in spec.attr.split("."):
        if not hasattr(obj, part):
            raise UserError(f"{spec.target} has no {spec.attr!r}", exit_code=2)
        obj = getattr(obj, part)
    if not callable(obj):
        raise UserError(f"{spec.target}:{spec.attr} is not callable", exit_code=2)
    return obj


def _module_from_file(path: Path) -> Any:
    if not path.is_file():
        raise UserError(f"{path}: no such file", help=_HELP, exit_code=2)
    name = f"cnndsl_import_{_snake(path.stem)}"
    loader = importlib.util.spec_from_file_location(name, path)
    if loader is None or loader.loader is None:
        raise UserError(f"cannot load {path} as Python", exit_code=2)
    module = importlib.util.module_from_spec(loader)
    sys.modules[name] = module  # dataclasses and pickling look the module up
    try:
        loader.loader.exec_module(module)
    except Exception as e:  # the user's file: its error, said in one line
        sys.modules.pop(name, None)
        raise UserError(f"{path} failed to run: {type(e).__name__}: {e}".splitlines()[0],
                        exit_code=2) from None
    return module


def _only_module_class(module: Any, where: str) -> Any:
    import torch

    found = [v for v in vars(module).values() if isinstance(v, type)
             and issubclass(v, torch.nn.Module) and v.__module__ == module.__name__]
    if len(found) != 1:
        names = ", ".join(c.__name__ for c in found) or "none"
        raise UserError(f"{where} defines {len(found)} nn.Module classes ({names}); "
                        "name one: FILE.py:Class", exit_code=2)
    return found[0]
