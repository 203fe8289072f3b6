"""What a built-in block (:mod:`.builtins`) may use of the elaborator, and nothing more.

NOTE: the built-ins' interface. A built-in (a merge, ``residual``, ``if``, ``aux``, the
softmax classifier) gets a :class:`Host` for its call, never the elaborator itself: it
may build a sub-chain, add an operator's node (with or without its defaults), evaluate
a test or a value, ask whether a name is a layer or bound by the user, report a
diagnostic, open a frame for its nodes, read the nodes made so far (a copy), move a
shortcut before its body, add an auxiliary output, and read whether its call ends the
network (``tail``). Everything else (the block table, the memo, the limits, the
builder's state) stays the elaborator's own.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from ..diagnostics import Diagnostic, Span
from ..ir.graph import Node
from ..ops.schema import OpDef
from ..syntax import ast
from .env import Env, Port

if TYPE_CHECKING:
    from .elaborator import Elaborator


class Host:
    """The elaborator as one built-in call sees it. ``tail``: nothing follows the call
    in the network (a softmax there is the classifier)."""

    __slots__ = ("_el", "tail")

    def __init__(self, el: Elaborator, tail: bool):
        self._el = el
        self.tail = tail

    # ------------------------------------------------------------ building
    def build(self, e: ast.Expr, env: Env, x: Port, tail: bool = False) -> Port:
        """The layers ``e`` stands for, applied to ``x`` (errors reported, the result
        poisoned)."""
        return self._el.build(e, env, x, tail)

    def add_node(self, op: OpDef, attrs: dict[str, Any], inputs: list[Port], span: Span,
                 base: str | None = None) -> Port:
        """A node of ``op`` with exactly these attributes; ``base`` names it."""
        return self._el.add_node(op, attrs, inputs, span, base)

    def apply_op(self, op: OpDef, values: dict[str, Any], span: Span, x: Port,
                 env: Env) -> Port:
        """A node of ``op`` on ``x``, the attributes not in ``values`` defaulted."""
        return self._el.apply_op(op, values, span, x, env)

    def frame(self, block: str, call: str, named: bool,
              span: Span | None) -> AbstractContextManager[None]:
        """The scope the built-in's nodes are made in (named: part of their names); its
        frame's kind is ``builtin``, its call the text ``call``."""
        return self._el.builder.frame(block, call, named, span, kind="builtin")

    def hoist(self, start: int, mid: int) -> bool:
        """Move the nodes made since ``mid`` before those made since ``start`` (a
        shortcut computed first); False, moving nothing, where they read those."""
        return self._el.builder.hoist(start, mid)

    def add_aux(self, head: Port) -> None:
        """An auxiliary output of the network, after those already added."""
        self._el.aux.append(head)

    # ------------------------------------------------------------ reading
    def node_count(self) -> int:
        """How many nodes are made so far (a mark for :meth:`hoist`)."""
        return len(self._el.builder.nodes)

    def nodes(self) -> tuple[Node, ...]:
        """The nodes made so far, in order (a copy)."""
        return tuple(self._el.builder.nodes)

    def truth(self, e: ast.Expr, env: Env) -> bool:
        """A test's value (a number is true when it is not zero)."""
        return self._el.ev.truth(e, env)

    def value(self, e: ast.Expr, env: Env, want_str: bool = False) -> Any:
        """An expression's value; ``want_str``: a bare name is a string, not an error."""
        return self._el.ev.eval(e, env, want_str=want_str)

    def is_layer(self, name: str) -> bool:
        """Whether ``name`` is a block, a built-in or an operator."""
        return self._el.is_layer(name)

    def is_bound(self, name: str) -> bool:
        """Whether the user bound ``name`` (``--set``, ``bindings=``)."""
        return name in self._el.bindings

    def report(self, d: Diagnostic) -> None:
        """A diagnostic that does not stop the call (a note, a warning)."""
        self._el.report(d)
