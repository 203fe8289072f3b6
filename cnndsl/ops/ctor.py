"""A module constructor as a value: what an operator's PyTorch emission returns.

An operator's ``torch_module`` returns a :class:`Ctor` (or None for a functional
operator): the callee and its arguments as plain values, never text. The backend
compares the values of a block's calls directly to make one class of several
(``nn.Conv2d(c, 4 * c, kernel_size=1)``), and :func:`render` writes every constructor
of the generated file: the one place a constructor becomes text.

>>> conv = Ctor("nn.Conv2d", (3, 64), (("kernel_size", 3), ("stride", (2, 1))))
>>> render(conv)
'nn.Conv2d(3, 64, kernel_size=3, stride=(2, 1))'
>>> render(Ctor("nn.Sequential", (Ctor("nn.AdaptiveAvgPool2d", (1,)), Ctor("nn.Flatten"))))
'nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())'
>>> render(Ctor("nn.Upsample", kwargs=(("scale_factor", 2), ("mode", "bilinear"))))
"nn.Upsample(scale_factor=2, mode='bilinear')"

NOTE: what a value may hold. Arguments are ints, finite floats, booleans, None, short
words (identifiers, written quoted: ``mode='bilinear'``), tuples of these and nested
constructors; the callee and the keywords are (dotted) identifiers. That is checked
when a Ctor is made, so a rendered constructor is always one call expression of a
name with literal arguments, whatever an operator (a plugin's) puts in it; the
generated file's allow-list (:mod:`cnndsl.backends.codecheck`) then decides which
names it may call. Text (the emission's form before Ctor) is still taken from plugins,
read with :meth:`Ctor.parse` into a value (a deprecated path; see docs/plugins.md).
"""

from __future__ import annotations

import ast
import keyword
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Union

Value = Union[int, float, bool, str, None, tuple, "Ctor"]
MAX_WORD = 64


def is_number(v: object) -> bool:
    """An int or a float (a bool is a word here: ``True`` is not a width)."""
    return type(v) in (int, float)


def _name(text: object) -> bool:
    return isinstance(text, str) and text.isidentifier() and text.isascii() \
        and not keyword.iskeyword(text)


def _check(v: object, where: str) -> None:
    if v is None or type(v) in (bool, int):
        return
    if type(v) is float:
        if not math.isfinite(v):
            raise ValueError(f"{where}: {v} is not a finite number")
        return
    if type(v) is str:  # written quoted: a Python keyword is a word too
        if not (v.isidentifier() and v.isascii() and len(v) <= MAX_WORD):
            raise ValueError(f"{where}: {v!r:.40} is not a short word (an identifier)")
        return
    if type(v) is tuple:
        for x in v:
            _check(x, where)
        return
    if not isinstance(v, Ctor):  # a Ctor checked itself when made
        raise ValueError(f"{where}: {type(v).__name__} {v!r:.40} is not a number, "
                         "boolean, word, tuple or Ctor")


@dataclass(frozen=True)
class Ctor:
    """``callee(*args, **dict(kwargs))`` as a value; ``defaults`` names keywords left out
    at their default value (a convolution's ``stride=1``), which the backend spells out
    where another call of the same block needs another value, so that the calls share a
    class.

    >>> Ctor("nn.ReLU").with_kwarg("inplace", True)
    Ctor(callee='nn.ReLU', args=(), kwargs=(('inplace', True),), defaults=())
    >>> Ctor("nn.Conv2d", (3, 8), (("kernel_size", 3),)).with_kwarg("stride", 1, after="kernel_size")
    Ctor(callee='nn.Conv2d', args=(3, 8), kwargs=(('kernel_size', 3), ('stride', 1)), defaults=())
    """

    callee: str
    args: tuple[Value, ...] = ()
    kwargs: tuple[tuple[str, Value], ...] = ()
    defaults: tuple[tuple[str, Value], ...] = ()

    def __post_init__(self):
        if not (isinstance(self.callee, str) and all(_name(p) for p in self.callee.split("."))):
            raise ValueError(f"constructor {self.callee!r:.60} is not a (dotted) identifier")
        where = f"{self.callee}(...)"
        if type(self.args) is not tuple:
            raise ValueError(f"{where}: args must be a tuple")
        _check(self.args, where)
        for field in (self.kwargs, self.defaults):
            if type(field) is not tuple or not all(
                    type(kv) is tuple and len(kv) == 2 and _name(kv[0]) for kv in field):
                raise ValueError(f"{where}: keywords must be (identifier, value) pairs")
            for k, v in field:
                _check(v, f"{where} {k}=")

    def __str__(self) -> str:
        return render(self)

    def with_kwarg(self, name: str, value: Value, after: str | None = None) -> Ctor:
        """A copy with ``name=value`` appended, or inserted after the keyword ``after``."""
        kw = list(self.kwargs)
        at = len(kw) if after is None else [k for k, _ in kw].index(after) + 1
        kw.insert(at, (name, value))
        return Ctor(self.callee, self.args, tuple(kw), self.defaults)

    @classmethod
    def parse(cls, text: str) -> Ctor:
        """A constructor expression's text as a value: how text from a plugin's
        ``torch_module`` (the form before Ctor) is read. Raises ValueError for text that
        is not one call of a name with literal arguments.

        >>> Ctor.parse("CoordConv(3, 8, kernel_size=(3, 1), bias=False)")
        Ctor(callee='CoordConv', args=(3, 8), kwargs=(('kernel_size', (3, 1)), ('bias', False)), defaults=())
        """
        try:
            tree = ast.parse(text.strip(), mode="eval").body
        except (SyntaxError, ValueError) as e:
            raise ValueError(f"{text!r:.60} is not a constructor expression ({e})") from None
        value = _from_ast(tree, text)
        if not isinstance(value, Ctor):
            raise ValueError(f"{text!r:.60} is not a constructor call")
        return value


def _from_ast(node: ast.AST, text: str) -> Value:
    if isinstance(node, ast.Constant) and (node.value is None or type(node.value) in
                                           (bool, int, float, str)):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and \
            isinstance(node.operand, ast.Constant) and is_number(node.operand.value):
        return -node.operand.value
    if isinstance(node, ast.Tuple):
        return tuple(_from_ast(e, text) for e in node.elts)
    if isinstance(node, ast.Call) and _dotted(node.func) and all(k.arg for k in node.keywords):
        return Ctor(ast.unparse(node.func), tuple(_from_ast(a, text) for a in node.args),
                    tuple((k.arg, _from_ast(k.value, text)) for k in node.keywords))
    raise ValueError(f"{text!r:.60}: {ast.unparse(node)!r:.40} is not a literal argument "
                     "(numbers, booleans, words, tuples, constructor calls)")


def _dotted(node: ast.AST) -> bool:
    while isinstance(node, ast.Attribute):
        node = node.value
    return isinstance(node, ast.Name)


def _number_text(v: int | float) -> str:
    return repr(v) if type(v) is float else str(v)


def render(value: Value, number: Callable[[int | float], str] | None = None) -> str:
    """The Python text of ``value``. ``number``, when given, writes each number instead,
    in the order of the text, from its magnitude (a negative one keeps its ``-``): how a
    shared class writes ``4 * c`` where a call has ``256``.

    >>> render(Ctor("LayerScale", (-0.5, 64, 1, 1)), number=lambda v: f"<{v}>")
    'LayerScale(-<0.5>, <64>, <1>, <1>)'
    """
    if is_number(value):
        text = _number_text(value)
        if number is None:
            return text
        return ("-" if text.startswith("-") else "") + number(abs(value))
    if value is None or type(value) is bool:
        return repr(value)
    if type(value) is str:
        return repr(value)
    if type(value) is tuple:
        inner = [render(v, number) for v in value]
        return "(" + ", ".join(inner) + ("," if len(inner) == 1 else "") + ")"
    if isinstance(value, Ctor):
        parts = [render(v, number) for v in value.args]
        parts += [f"{k}={render(v, number)}" for k, v in value.kwargs]
        return f"{value.callee}({', '.join(parts)})"
    raise TypeError(f"not a constructor value: {type(value).__name__}")
