"""``--pass MODULE:FUNCTION`` on the command line: import a user's pass and run it.

The one place the command line imports Python it was told to: a pass is the user's own
code, named on their command line, exactly as ``python -m`` or a pytest plugin would
be. A .cnn file can never name one. ``MODULE`` is a dotted module path, imported with
the current folder first on ``sys.path``; ``path/to/file.py`` is that file.

>>> load_pass("cnndsl.passes.custom:rewrite").__name__
'rewrite'
>>> load_pass("no_colon")
Traceback (most recent call last):
...
cnndsl.diagnostics.UserError: --pass no_colon: expected MODULE:FUNCTION or FILE.py:FUNCTION
  help: e.g. --pass examples/passes/relu_to_gelu.py:relu_to_gelu
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import importlib.util
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..diagnostics import UserError
from .custom import Analysis, Rewrite, as_pass, run

if TYPE_CHECKING:
    from ..api import Network

PASS_HELP = ("run a pass of your own, MODULE:FUNCTION or path/to/file.py:FUNCTION "
             "(repeatable, in order): a rewrite (graph -> graph) changes the network "
             "first; an analysis (@analysis('column')) adds a column to `summary`. "
             "This imports and runs that Python code: give only code you trust "
             "(docs/plugins.md)")


def add_pass_arg(p: argparse.ArgumentParser) -> None:
    """The ``--pass`` option of summary, compile, check and draw."""
    p.add_argument("--pass", dest="passes", action="append", default=[],
                   metavar="MODULE:FUNCTION", help=PASS_HELP)


def load_pass(spec: str) -> Any:
    """The object ``spec`` names (``pkg.mod:fn`` or ``dir/file.py:fn``); a usage error
    (exit 2) saying why where it cannot be imported or found."""
    where, sep, attr = spec.rpartition(":")
    if not sep or not where or not attr.isidentifier():
        raise UserError(f"--pass {spec}: expected MODULE:FUNCTION or FILE.py:FUNCTION",
                        help="e.g. --pass examples/passes/relu_to_gelu.py:relu_to_gelu",
                        exit_code=2)
    is_file = where.endswith(".py") or "/" in where or os.sep in where
    try:
        module = _import_file(Path(where)) if is_file else _import_module(where)
    except UserError:
        raise
    except Exception as e:  # SyntaxError, ImportError, or anything the module raises
        raise UserError(f"--pass {spec}: cannot import {where}: {type(e).__name__}: {e}",
                        help="check the module path (dotted, on sys.path or in the "
                        "current folder) or the file path", exit_code=2) from None
    if not hasattr(module, attr):
        raise UserError(f"--pass {spec}: {where} has no `{attr}`", exit_code=2,
                        help="defined there: " + ", ".join(
                            n for n in sorted(vars(module)) if not n.startswith("_")
                            and callable(getattr(module, n)))[:300])
    return getattr(module, attr)


def _import_module(name: str):
    if not all(part.isidentifier() for part in name.split(".")):
        raise UserError(f"--pass {name}: not a module path (a.b.c) or a .py file",
                        exit_code=2)
    cwd = os.getcwd()
    added = cwd not in sys.path
    if added:  # as `python -m` would: the current folder's modules are found
        sys.path.insert(0, cwd)
    try:
        return importlib.import_module(name)
    finally:
        if added and cwd in sys.path:
            sys.path.remove(cwd)


def _import_file(path: Path):
    if not path.is_file():
        raise UserError(f"--pass: no such file: {path}", exit_code=2,
                        help="give path/to/file.py:FUNCTION")
    resolved = path.resolve()
    digest = hashlib.sha1(str(resolved).encode()).hexdigest()[:8]
    name = f"cnndsl_pass_{resolved.stem if resolved.stem.isidentifier() else 'file'}_{digest}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, resolved)
    if spec is None or spec.loader is None:
        raise UserError(f"--pass: cannot import {path}", exit_code=2)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look a module up by name
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def passes_from_args(args: argparse.Namespace) -> tuple[list[Rewrite], list[Analysis]]:
    """The rewrites and the analyses ``--pass`` names, each in the order given."""
    rewrites, analyses = [], []
    for spec in getattr(args, "passes", None) or ():
        obj = load_pass(spec)
        try:
            p = as_pass(obj)
        except TypeError as e:
            raise UserError(f"--pass {spec}: {e}", exit_code=2) from None
        (analyses if isinstance(p, Analysis) else rewrites).append(p)
    return rewrites, analyses


def apply_pass_args(args: argparse.Namespace, net: Network,
                    allow_analyses: bool = False) -> tuple[Network, list[Analysis]]:
    """``net`` with ``--pass``'s rewrites applied, and its analyses (refused, exit 2,
    unless the command shows them: only ``summary`` has columns)."""
    rewrites, analyses = passes_from_args(args)
    if analyses and not allow_analyses:
        raise UserError(f"--pass: {analyses[0].name} is an analysis (the column "
                        f"{analyses[0].column!r}); only `cnndsl summary` shows analyses",
                        exit_code=2)
    if rewrites:
        net = run(net, rewrites, strict=getattr(args, "strict", False))
    return net, analyses
