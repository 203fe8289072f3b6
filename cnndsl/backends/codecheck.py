"""An allow-list over generated Python, checked before the text is ever executed.

The backend builds its text only from escaped names and checked numbers
(:mod:`cnndsl.backends.pynames`); this check is the second wall. A generated file may
import ``torch``, ``torch.nn``, ``torch.nn.functional``, ``math`` and ``typing.Any``
(and the module classes registered plugin operators declare: :func:`plugin_imports`),
define classes derived from ``nn.Module`` with methods, a ``build`` function and
constants, and use ``nn`` constructors, a fixed set of ``torch``/``F`` functions, tensor
methods and arithmetic. Anything else (another import, a call of ``eval``/``open``/
``getattr``, a dunder attribute, a loop, a ``global``, a decorator) is refused with
:class:`UnsafeCode` and the text is not run.

>>> check("import torch\\nfrom torch import nn\\nclass A(nn.Module):\\n"
...       "    def forward(self, x):\\n        return torch.cat([x, x], 1)\\n")
>>> check("import os\\n")
Traceback (most recent call last):
...
cnndsl.backends.codecheck.UnsafeCode: line 1: import of os is not allowed in generated code
"""

from __future__ import annotations

import ast

IMPORTS = {("torch", None, "torch"), ("torch", "nn", "nn"),
           ("torch.nn", "functional", "F"), ("math", None, "math"), ("typing", "Any", "Any")}
# Module functions the operators' emissions use (add one here with a new operator).
MODULE_FUNCTIONS = {
    "torch": {"cat", "softmax", "sigmoid", "zeros", "zeros_like", "ones", "no_grad", "chunk", "split",
              "flatten", "stack", "tanh", "relu"},
    "F": {"pad", "softmax", "relu", "layer_norm", "interpolate", "gelu", "silu", "sigmoid",
          "adaptive_avg_pool2d", "adaptive_max_pool2d", "avg_pool2d", "max_pool2d"},
    "math": {"sqrt", "pi", "e", "log", "exp"},
}
BUILTINS = {"super", "print", "sum", "tuple", "len", "int", "float", "bool", "range",
            "min", "max", "abs", "isinstance", "list", "str"}
_EXPRESSIONS = (ast.Call, ast.Attribute, ast.Name, ast.Constant, ast.Tuple, ast.List,
                ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.IfExp, ast.Subscript,
                ast.Slice, ast.Starred, ast.GeneratorExp, ast.JoinedStr, ast.FormattedValue,
                ast.keyword, ast.comprehension, ast.operator, ast.unaryop, ast.boolop,
                ast.cmpop, ast.expr_context)
_STATEMENTS = (ast.Expr, ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Return, ast.If,
               ast.With, ast.withitem, ast.Pass)


def plugin_imports() -> set[tuple[str, str, str]]:
    """``from MODULE import NAME`` lines the registered plugin operators declare
    (:attr:`cnndsl.ops.OpDef.torch_imports`).

    NOTE: why a plugin may widen the allow-list. The allow-list keeps text derived from
    a .cnn input (untrusted) inside what the backend means to write. A plugin is code
    the user installed and Python already imported: its own module classes are as
    trusted as torch. Only the exact (module, name) pairs registered operators declare
    are allowed, only as ``from MODULE import NAME`` at the top level, never renamed;
    nothing a .cnn file says can add one.
    """
    from ..ops.registry import declared_imports
    return {(module, name, name) for module, name in declared_imports()}


class UnsafeCode(Exception):
    """Generated text outside the allow-list: a bug in cnndsl, never run."""


def _fail(node: ast.AST, why: str) -> UnsafeCode:
    return UnsafeCode(f"line {getattr(node, 'lineno', '?')}: {why} is not allowed in "
                      "generated code")


def check(source: str) -> None:
    """Raise :class:`UnsafeCode` unless ``source`` stays inside the allow-list."""
    try:
        tree = ast.parse(source)
    except SyntaxError as e:
        raise UnsafeCode(f"line {e.lineno}: generated code does not parse: {e.msg}") from None
    defined = set(_globals(tree))
    for stmt in tree.body:
        _top(stmt, defined)


def _globals(tree: ast.Module):
    for stmt in tree.body:
        if isinstance(stmt, (ast.ClassDef, ast.FunctionDef)):
            yield stmt.name
        elif isinstance(stmt, ast.Assign):
            yield from (t.id for t in stmt.targets if isinstance(t, ast.Name))
        elif isinstance(stmt, ast.Import):
            yield from (a.asname or a.name for a in stmt.names)
        elif isinstance(stmt, ast.ImportFrom):
            yield from (a.asname or a.name for a in stmt.names)


def _top(stmt: ast.stmt, defined: set[str]) -> None:
    if isinstance(stmt, ast.Import):
        for a in stmt.names:
            if (a.name, None, a.asname or a.name) not in IMPORTS:
                raise _fail(stmt, f"import of {a.name}")
    elif isinstance(stmt, ast.ImportFrom):
        for a in stmt.names:
            key = (stmt.module, a.name, a.asname or a.name)
            if stmt.level or (key not in IMPORTS and key not in plugin_imports()):
                raise _fail(stmt, f"import from {stmt.module}")
    elif isinstance(stmt, ast.ClassDef):
        if stmt.decorator_list or stmt.keywords or len(stmt.bases) != 1 or \
                ast.unparse(stmt.bases[0]) != "nn.Module":
            raise _fail(stmt, f"class {stmt.name} other than a plain nn.Module")
        for item in stmt.body:
            if isinstance(item, ast.FunctionDef):
                _function(item, defined)
            elif not (isinstance(item, ast.Expr) and isinstance(item.value, ast.Constant)):
                raise _fail(item, f"{type(item).__name__} in a class body")
    elif isinstance(stmt, ast.FunctionDef):
        _function(stmt, defined)
    elif isinstance(stmt, (ast.Assign, ast.Expr, ast.If)):
        _Scope(defined, set()).statement(stmt)
    else:
        raise _fail(stmt, type(stmt).__name__)


def _function(fn: ast.FunctionDef, defined: set[str]) -> None:
    if fn.decorator_list:
        raise _fail(fn, "a decorator")
    args = fn.args
    if args.kwarg or args.kwonlyargs or args.posonlyargs:
        raise _fail(fn, "keyword-only or ** parameters")
    names = {a.arg for a in args.args} | ({args.vararg.arg} if args.vararg else set())
    scope = _Scope(defined, names)
    for d in args.defaults:
        if not isinstance(d, ast.Constant):
            raise _fail(d, "a computed default")
    for a in [*args.args, *([args.vararg] if args.vararg else [])]:
        if a.annotation is not None:
            scope.expression(a.annotation)
    if fn.returns is not None:
        scope.expression(fn.returns)
    for stmt in fn.body:
        scope.statement(stmt)


class _Scope:
    """Names visible in one function (or at the top level): parameters, assigned
    locals, the file's own definitions and imports, and the allowed builtins."""

    def __init__(self, defined: set[str], local: set[str]):
        self.defined = defined
        self.local = set(local)

    def statement(self, stmt: ast.stmt) -> None:
        if not isinstance(stmt, _STATEMENTS):
            raise _fail(stmt, type(stmt).__name__)
        if isinstance(stmt, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            if stmt.value is not None:
                self.expression(stmt.value)
            for t in targets:
                self.target(t)
            return
        for child in ast.iter_child_nodes(stmt):
            if isinstance(child, ast.stmt):
                self.statement(child)
            elif isinstance(child, ast.withitem):
                self.expression(child.context_expr)
                if child.optional_vars is not None:
                    self.target(child.optional_vars)
            else:
                self.expression(child)

    def target(self, t: ast.expr) -> None:
        if isinstance(t, ast.Name):
            self.local.add(t.id)
        elif isinstance(t, ast.Tuple):
            for e in t.elts:
                self.target(e)
        elif isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and \
                t.value.id == "self" and not t.attr.startswith("_"):
            return
        else:
            raise _fail(t, f"assignment to {ast.unparse(t)}")

    def expression(self, e: ast.AST) -> None:
        if not isinstance(e, _EXPRESSIONS):
            raise _fail(e, type(e).__name__)
        if isinstance(e, ast.Constant):
            if not isinstance(e.value, (str, int, float, bool, type(None))):
                raise _fail(e, f"a {type(e.value).__name__} constant")
            return
        if isinstance(e, ast.Name):
            if isinstance(e.ctx, ast.Store):
                self.local.add(e.id)
            elif e.id not in self.local | self.defined | BUILTINS | {"__name__"}:
                raise _fail(e, f"the name {e.id}")
            return
        if isinstance(e, ast.Attribute):
            self.attribute(e)
            return
        if isinstance(e, ast.GeneratorExp):
            for gen in e.generators:  # targets first: they are the names the element uses
                self.expression(gen.iter)
                self.target(gen.target)
                for cond in gen.ifs:
                    self.expression(cond)
            self.expression(e.elt)
            return
        for child in ast.iter_child_nodes(e):
            self.expression(child)

    def attribute(self, e: ast.Attribute) -> None:
        base = e.value
        if isinstance(base, ast.Name) and base.id in MODULE_FUNCTIONS and \
                base.id not in self.local:
            if e.attr not in MODULE_FUNCTIONS[base.id]:
                raise _fail(e, f"{base.id}.{e.attr}")
            return
        if isinstance(base, ast.Name) and base.id == "nn" and "nn" not in self.local:
            if not (e.attr[:1].isupper() and e.attr.isidentifier() and e.attr.isascii()):
                raise _fail(e, f"nn.{e.attr}")
            return
        super_init = (e.attr == "__init__" and isinstance(base, ast.Call)
                      and isinstance(base.func, ast.Name) and base.func.id == "super"
                      and not base.args)
        if e.attr.startswith("_") and not super_init:
            raise _fail(e, f"the attribute {e.attr}")
        self.expression(base)
