"""A graph read from outside checked node by node, as the compiler checks its own.

:func:`cnndsl.from_json` reads IR that any tool may have written or altered. The schema
(:mod:`cnndsl.ir.schema`) says a document has the right fields; this says each node is
one the compiler could have made: a registered operator under its own name, the right
number of inputs, each attribute the operator has and of its kind and range (the
compiler's own :func:`~cnndsl.elaborate.attrs.check_attr`), none it needs missing, and
the output type the one its operator's ``resolve`` and ``infer`` give from the types of
its inputs; the sizes within :class:`~cnndsl.limits.Limits`. A node is judged on the
types its inputs give (their recorded types where those cannot be derived), so one wrong
node is reported once, not again at every node after it. Anything else would surface
later as a Python error deep in a pass or the code generator.

>>> from cnndsl import compile
>>> g = compile("input 1x8x8\\nconv(4, 3) - relu - fc(2)").graph
>>> verify(g).dump() == g.dump()
True
>>> import dataclasses
>>> bad = dataclasses.replace(g["conv1"], attrs=(("out", -3), ("kernel", "big")))
>>> verify(dataclasses.replace(g, nodes=(g.nodes[0], bad, *g.nodes[2:])))
Traceback (most recent call last):
...
cnndsl.diagnostics.UserError: the IR's node conv1 (conv): `out` of conv must be positive, got -3
  help: emit the IR again with cnndsl; do not edit it by hand
"""

from __future__ import annotations

import dataclasses
from typing import Any

from .. import ops
from ..diagnostics import UserError
from ..elaborate.attrs import check_attr
from ..elaborate.env import ElabError
from ..limits import Limits, how_to_raise
from ..ops.schema import REQUIRED, OpDef, ShapeError
from ..suggest import closest
from .graph import Frame, Graph, Node, TensorType

SHOWN = 5  # problems in one message
HELP = "emit the IR again with cnndsl; do not edit it by hand"


class _Problem(Exception):
    """What is wrong with one node, and the help for it."""

    def __init__(self, message: str, help: str | None = None,
                 gives: TensorType | None = None):
        super().__init__(message)
        self.message, self.help = message, help
        self.gives = gives  # the type the node gives, where it was derived


def verify(graph: Graph, limits: Limits | None = None) -> Graph:
    """``graph`` with every node checked against its operator (its attributes as the
    compiler normalizes them); :class:`~cnndsl.diagnostics.UserError` naming each node
    that is wrong (the first few) otherwise."""
    limits = limits or Limits()
    types: dict[str, TensorType] = {}
    nodes: list[Node] = []
    found: list[_Problem] = _calls(graph)
    weights = 0
    for i, node in enumerate(graph.nodes):
        try:
            checked, count = _node(node, i, types, limits)
            types[node.name] = checked.type  # what it gives: the next nodes read that
            weights += count
            if weights > limits.params:
                raise _Problem(f"the network has more than {limits.params:,} parameters by "
                               "this node", how_to_raise("params", limits.params))
        except _Problem as p:
            found.append(_Problem(f"the IR's node {_name(node)}: {p.message}", p.help))
            if len(found) > SHOWN:
                break
            checked = node
            types[node.name] = p.gives or node.type  # else the recorded one
        nodes.append(checked)
    if not found and graph.output in types:
        out = types[graph.output]
        classes = out.dims[0] if out.is_vector else None
        if graph.num_classes != classes:
            found.append(_Problem(f"the IR says num_classes is {graph.num_classes}, but its "
                                  f"output is {out}" + ("" if classes is None else
                                                        f": {classes} classes")))
    if found:
        message = "; ".join(p.message for p in found[:SHOWN])
        more = "; ..." if len(found) > SHOWN else ""
        raise UserError(message + more, help=found[0].help or HELP)
    return dataclasses.replace(graph, nodes=tuple(nodes))


def _calls(graph: Graph) -> list[_Problem]:
    """The block calls as the elaborator makes them (what the emitted module's nesting
    relies on): a frame that names nodes is named (``block`` calls always are), one
    name is one call, a call's nodes are together, and a node's path is its named
    calls' names and its own."""
    found: list[_Problem] = []
    calls: dict[tuple[str, ...], Frame] = {}
    done: set[tuple[str, ...]] = set()
    open_: list[tuple[str, ...]] = []
    paths: set[str] = set()
    for node in graph.nodes:
        keys = [tuple(f.name for f in node.scope[:k + 1]) for k in range(len(node.scope))]
        done.update(k for k in open_ if k not in keys)
        open_ = keys
        for key, f in zip(keys, node.scope):
            first = calls.setdefault(key, f)
            why = ("is a block's call, so it is named" if not f.named and f.kind == "block"
                   else "is another call than the first of that name" if first != f
                   else "is not together with the first nodes of that call" if key in done
                   else "")
            if why:
                found.append(_Problem(f"the IR's node {_name(node)}: its call "
                                      f"`{'/'.join(key):.60}` {why}"))
        named = [f.name for f in node.scope if f.named]
        *outer, local = node.path.split(".")
        if outer != named or not local or node.path in paths:
            found.append(_Problem(
                f"the IR's node {_name(node)}: its path `{node.path:.60}` is not "
                + ("unique" if node.path in paths else
                   f"its named calls' names and its own ({'.'.join([*named, 'NAME'])})")))
        paths.add(node.path)
        if len(found) > SHOWN:
            break
    return found


def _name(node: Node) -> str:
    return f"{node.name} ({node.op:.40})" if node.op else node.name


def _node(node: Node, i: int, types: dict[str, TensorType], limits: Limits
          ) -> tuple[Node, int]:
    """The node with its attributes normalized, and its weight count."""
    if node.type.numel > limits.elements:
        raise _Problem(f"a {node.type} tensor has {node.type.numel:,} elements per sample, "
                       f"more than the limit of {limits.elements:,}",
                       how_to_raise("elements", limits.elements))
    op = _operator(node, i)
    if op.family == "io":
        return _input(node), 0
    if op.arity != -1 and len(node.inputs) != op.arity or not node.inputs:
        takes = f"{op.arity} input" + ("s" if op.arity != 1 else "") if op.arity > 0 \
            else "one or more inputs"
        raise _Problem(f"{op.name} takes {takes}, the node has {len(node.inputs)}")
    missing = [name for name in node.inputs if name not in types]
    if missing:
        raise _Problem(f"it reads `{missing[0]:.40}`, which is not a node before it")
    ins = [types[name] for name in node.inputs]
    attrs = _attributes(op, node)
    try:
        attrs = dict(op.resolve(attrs, ins))
        out = op.infer(attrs, ins)
        count = op.params(attrs, ins, out).total
    except ShapeError as e:
        raise _Problem(f"{e.message} (its inputs are {_types(ins)})", e.help) from None
    except Exception as e:  # an operator's rule that cannot read these values
        raise _Problem(f"the shape rule of {op.name} fails on it ({type(e).__name__}; its "
                       f"inputs are {_types(ins)})") from None
    _derived(op, node, attrs)
    if out != node.type:
        raise _Problem(f"does not give its type {node.type} from {_types(ins)}: {op.name} "
                       f"with these attributes gives {out}", gives=out)
    recorded = tuple((k, v) for k, v in attrs.items() if v is not None and k[:1] != "_")
    return dataclasses.replace(node, attrs=recorded), count  # as the elaborator records


def _derived(op: OpDef, node: Node, resolved: dict[str, Any]) -> None:
    """The recorded attributes outside the schema are those the operator's ``resolve``
    adds (a pool's ``dilation``), with the values it gives."""
    for name, value in node.attrs:
        if op.attr(name) is not None:
            continue
        if name not in resolved:
            hint = closest(name, [a.name for a in op.attrs], cutoff=0.5)
            raise _Problem(f"{op.name} has no attribute `{name:.40}`",
                           f"did you mean `{hint}`?" if hint else
                           f"{op.name}'s attributes: {', '.join(a.name for a in op.attrs)}"
                           if op.attrs else f"{op.name} has none")
        if value != resolved[name] or type(value) is not type(resolved[name]):
            raise _Problem(f"`{name}` of {op.name} follows from its other attributes: "
                           f"{resolved[name]!r:.40}, not {value!r:.40}")


def _types(ins: list[TensorType]) -> str:
    return ", ".join(map(str, ins)) or "no inputs"


def _operator(node: Node, i: int) -> OpDef:
    op = ops.lookup(node.op)
    if op is None:
        hint = closest(node.op.lower(), [o.name for o in ops.all_ops()])
        raise _Problem(f"unknown operator `{node.op:.40}`", f"did you mean `{hint}`?" if hint
                       else "`cnndsl ops` lists the operators")
    if op.name != node.op:
        raise _Problem(f"the IR names operators by their own name: `{op.name}`, not "
                       f"`{node.op:.40}`", f"write `{op.name}`")
    if (op.family == "io") != (i == 0):
        raise _Problem("the first node is not the `input` node" if i == 0 else
                       "a second `input` node", "the first node, and only it, is `input`")
    return op


def _input(node: Node) -> Node:
    """The input node: no inputs, its shape attribute its type."""
    if node.inputs:
        raise _Problem("the input node reads other nodes")
    if set(node.attr_map) != {"shape"} or node.attr_map["shape"] != str(node.type):
        raise _Problem(f'its attributes must be {{"shape": "{node.type}"}} (its type)')
    if len(node.type.dims) not in (1, 3):
        raise _Problem(f"the input is {node.type}: write CxHxW or F")
    return node


def _attributes(op: OpDef, node: Node) -> dict[str, Any]:
    """The node's attributes checked against the schema (by the compiler's own check),
    the defaults of those missing filled in where they are plain values."""
    given = node.attr_map
    out: dict[str, Any] = {}
    for a in op.attrs:
        if a.name in given:
            value = given[a.name]
            if value is None and a.default is not None:
                raise _Problem(f"`{a.name}` of {op.name} is null, which only an attribute "
                               "whose default is null may be")
        elif a.default is REQUIRED or callable(a.default):
            raise _Problem(f"the attribute `{a.name}` is missing", "the IR records every "
                           "attribute, defaults filled in")
        else:
            value = (a.default, a.default) if a.kind == "pair" and \
                isinstance(a.default, int) else a.default
        try:
            out[a.name] = check_attr(op, a, value, None)
        except ElabError as e:
            raise _Problem(e.diagnostic.message if e.diagnostic else f"bad `{a.name}`") \
                from None
        except Exception:  # a value no source could hold (a list of lists, ...)
            raise _Problem(f"`{a.name}` of {op.name} cannot be {value!r:.40}") from None
    return out
