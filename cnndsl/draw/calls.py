"""Block calls as a reader wants them: defaults dropped, optional arguments by name.

The IR records a call with its arguments evaluated (``basic(128, 2)``); a diagram shows
it against the block's signature (``block basic(c, stride=1)``):

>>> from cnndsl.syntax.parser import parse
>>> names = CallNames(parse("block basic(c, stride=1) = conv(c, 3, stride)", "<t>").blocks)
>>> names("basic(128, 2)"), names("basic(64, 1)"), names("other(1, 2)")
('basic(128, stride=2)', 'basic(64)', 'other(1, 2)')
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import TYPE_CHECKING

from ..syntax import ast

if TYPE_CHECKING:
    from ..api import Network

_CALL = re.compile(r"^\s*(\w+)\s*\((.*)\)\s*$", re.DOTALL)
_KEYWORD = re.compile(r"^\s*(\w+)\s*=(?!=)\s*(.*?)\s*$", re.DOTALL)


class CallNames:
    """Rewrites call texts against block definitions (by default the prelude's)."""

    def __init__(self, blocks: Iterable[ast.BlockDef] | None = None):
        self.defs: dict[str, ast.BlockDef] = dict(_prelude_defs())
        self.defs.update((b.name.lower(), b) for b in blocks or ())
        self._done: dict[str, str] = {}  # a network repeats its calls: rewrite each once

    @classmethod
    def of_network(cls, net: Network) -> CallNames:
        """The blocks a compiled network could call: the prelude, imports, its own."""
        return cls(net.blocks.values()) if net.blocks else cls(net.program.blocks)

    def __call__(self, call: str) -> str:
        done = self._done.get(call)
        if done is None:
            done = self._done[call] = self._rewrite(call)
        return done

    def _rewrite(self, call: str) -> str:
        m = _CALL.match(call)
        if not m or m.group(1).lower() not in self.defs:
            return call
        name, inner = m.group(1), m.group(2)
        bound = _bind(self.defs[name.lower()], split_args(inner))
        return call if bound is None else _render(name, self.defs[name.lower()], bound)


def arguments(call: str) -> tuple[list[str], dict[str, str]]:
    """Positional and keyword arguments: ``basic(128, stride=2)`` -> ([128], {stride: 2})."""
    m = _CALL.match(call)
    if not m:
        return [], {}
    pos, kw = [], {}
    for a in split_args(m.group(2)):
        k = _KEYWORD.match(a)
        if k:
            kw[k.group(1)] = k.group(2)
        else:
            pos.append(a)
    return pos, kw


def extends(first: str, other: str) -> bool:
    """``first`` passes ``other``'s arguments and maybe more: ``basic(128, stride=2)``
    extends ``basic(128)``; ``b(8, act=tanh)`` does not extend ``b(8, act=gelu)``."""
    (p1, k1), (p2, k2) = arguments(first), arguments(other)
    return p1[: len(p2)] == p2 and all(k1.get(k) == v for k, v in k2.items())


def split_args(text: str) -> list[str]:
    """Top-level comma-separated parts of an argument list (brackets nest)."""
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    last = "".join(cur).strip()
    return parts + [last] if last or parts else parts


def _bind(defn: ast.BlockDef, args: list[str]) -> dict[str, str] | None:
    """Parameter name -> argument text, or None where the call does not fit the block."""
    names = [p.name for p in defn.params]
    bound: dict[str, str] = {}
    positional = 0
    for a in args:
        kw = _KEYWORD.match(a)
        if kw and kw.group(1) in names:
            bound[kw.group(1)] = kw.group(2)
        elif positional < len(names):
            bound[names[positional]] = a
            positional += 1
        else:
            return None
    return bound


def _render(name: str, defn: ast.BlockDef, bound: dict[str, str]) -> str:
    parts = []
    keyword = False
    for p in defn.params:
        value = bound.get(p.name)
        if p.default is None and not keyword:
            parts.append(value if value is not None else p.name)
            continue
        keyword = True
        if value is not None and (p.default is None or value != p.default.text.strip()):
            parts.append(f"{p.name}={value}")
    return f"{name}({', '.join(parts)})" if parts else name


@lru_cache(maxsize=1)
def _prelude_defs() -> tuple[tuple[str, ast.BlockDef], ...]:
    from ..elaborate.elaborator import PRELUDE
    from ..syntax.parser import parse
    try:
        program = parse(PRELUDE.read_text(encoding="utf-8"), "<prelude>")
    except Exception:  # a broken prelude is reported by the compiler, not by diagrams
        return ()
    return tuple((b.name.lower(), b) for b in program.blocks)
