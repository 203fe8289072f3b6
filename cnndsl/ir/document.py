"""The IR as a JSON document: written in format version 2, read in versions 1 and 2.

Reading is bounded before anything is parsed: a text longer than the ``source_bytes``
limit, or nested deeper than ``nesting`` (an IR document nests at most 7 deep; ``json.loads``
would recurse into a million brackets and raise ``RecursionError``), is refused with a
:class:`~cnndsl.diagnostics.UserError`, as is a document of another format, a newer
version, or one that breaks its version's schema (:mod:`cnndsl.ir.schema`) or the
graph's own rules. Whether each node follows from its operator is checked by
:mod:`cnndsl.ir.verify` (``cnndsl.from_json`` runs both).

NOTE: version 2's frames table. A node sits in the block calls that made it (its
``scope``, outermost first); the nodes of one call share its frames, so version 1, which
wrote each node's frames in full, grew with the nesting times the nodes. Version 2 writes
each distinct frame once, in ``frames``, and a node's ``scope`` as indices into it.
Frames are the same when their JSON is (the span included): ``residual1`` inside two
calls of one block is one entry, since a frame does not say whose child it is; the
node's list of indices does.

>>> doc = {"format": "cnndsl-ir", "version": 2, "name": "n", "output": "input",
...        "nodes": [{"name": "input", "path": "input", "op": "input",
...                   "attrs": {"shape": "3"}, "inputs": [], "type": [3]}]}
>>> graph_of(read(doc)).name
'n'
>>> read("[" * 100_000)
Traceback (most recent call last):
...
cnndsl.diagnostics.UserError: the IR is nested more than 100 deep (a cnndsl IR document nests at most 7 deep)
  help: give what Network.to_json() or `cnndsl compile --emit ir-json` wrote
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from itertools import accumulate
from typing import TYPE_CHECKING, Any

from ..diagnostics import Source, Span, UserError
from ..limits import Limits, how_to_raise
from .schema import FORMAT, SCHEMAS, VERSION, problems

if TYPE_CHECKING:
    from .graph import Frame, Graph

HELP = "give what Network.to_json() or `cnndsl compile --emit ir-json` wrote"
DEPTH = 7  # the deepest a valid document nests (v1: nodes, node, scope, frame, arguments,
#           each argument; version 2: 5)


# ---------------------------------------------------------------- writing
def to_document(graph: Graph) -> dict[str, Any]:
    """The graph as format version 2's data (keys in the schema's order)."""
    frames: dict[str, int] = {}  # a frame's JSON text -> its index
    table: list[dict] = []

    def index(f: Frame) -> int:
        data = frame_json(f)
        key = json.dumps(data)
        if key not in frames:
            frames[key] = len(table)
            table.append(data)
        return frames[key]

    nodes = [{"name": n.name, "path": n.path, "op": n.op,
              "attrs": {k: list(v) if isinstance(v, tuple) else v for k, v in n.attrs},
              "inputs": list(n.inputs), "type": list(n.type.dims),
              "span": n.span.to_json() if n.span else None,
              "scope": [index(f) for f in n.scope]} for n in graph.nodes]
    return {"format": FORMAT, "version": VERSION, "name": graph.name, "output": graph.output,
            "aux": list(graph.aux), "num_classes": graph.num_classes,
            "bindings": dict(graph.bindings), "frames": table, "nodes": nodes}


def frame_json(f: Frame) -> dict[str, Any]:
    out = {"name": f.name, "block": f.block, "call": f.call, "named": f.named, "kind": f.kind,
           "args": [list(a) for a in f.args]}
    if f.arguments is not None:
        out["arguments"] = [{"name": a.name, "value": a.value, "given": a.given,
                             "default": a.default} for a in f.arguments]
    out["span"] = f.span.to_json() if f.span else None
    return out


# ---------------------------------------------------------------- reading
def read(data: Any, limits: Limits | None = None) -> dict[str, Any]:
    """``data`` (JSON text, bytes, or its dict) as a checked document in version 2's
    shape (a version 1 document is converted), else UserError saying why."""
    limits = limits or Limits()
    if isinstance(data, (str, bytes, bytearray)):
        data = _parse(data, limits)
    elif isinstance(data, Mapping):
        _bounded(data, limits.nesting)
        data = dict(data)
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        got = data.get("format") if isinstance(data, dict) else None
        shown = json.dumps(got)[:40] if isinstance(got, (str, int, float, bool)) or \
            got is None else type(got).__name__
        raise UserError(f'not a cnndsl IR document ("format" is {shown}, not "{FORMAT}")',
                        help=HELP)
    version = data.get("version")
    if type(version) is int and version > VERSION:
        raise UserError(f"the IR is format version {version}, newer than this cnndsl reads "
                        f"({', '.join(map(str, SCHEMAS))})", help="upgrade cnndsl, or emit "
                        "the IR with the version that reads it")
    nodes = data.get("nodes")
    if isinstance(nodes, list) and len(nodes) > limits.nodes:
        raise UserError(f"the IR has {len(nodes):,} nodes, more than the limit of "
                        f"{limits.nodes:,}", help=how_to_raise("nodes", limits.nodes,
                                                               len(nodes)))
    found = problems(data)
    if found:
        raise not_ir(found)
    return _upgrade(data) if version == 1 else data


def _parse(text: str | bytes | bytearray, limits: Limits) -> Any:
    if len(text) > limits.source_bytes:
        raise UserError(f"the IR is {len(text):,} characters, more than the limit of "
                        f"{limits.source_bytes:,}",
                        help=how_to_raise("source_bytes", limits.source_bytes, len(text)))
    if not isinstance(text, str):
        try:
            text = bytes(text).decode(json.detect_encoding(bytes(text)))
        except (UnicodeDecodeError, LookupError):
            raise UserError("the IR is not JSON: its bytes are not UTF-8 text", help=HELP) \
                from None
    deepest = _depth(text)
    if deepest > limits.nesting:
        raise _too_deep(limits.nesting)
    try:
        return json.loads(text, parse_constant=_no_constant)
    except RecursionError:  # not reached under the depth bound; kept as a guard
        raise _too_deep(limits.nesting) from None
    except ValueError as e:
        raise UserError(f"the IR is not JSON: {str(e)[:200]}", help=HELP) from None


_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


def _depth(text: str) -> int:
    """How deep the brackets of JSON text nest (those inside strings not counted)."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    return max(accumulate(1 if c in "[{" else -1 for c in brackets), default=0)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _bounded(data: Any, limit: int) -> None:
    """Refuse a dict nested deeper than ``limit`` (or holding itself), without
    recursing."""
    todo = [(data, 1)]
    while todo:
        value, depth = todo.pop()
        if depth > limit:
            raise _too_deep(limit)
        if isinstance(value, Mapping):
            todo.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, (list, tuple)):
            todo.extend((v, depth + 1) for v in value)


def _too_deep(limit: int) -> UserError:
    return UserError(f"the IR is nested more than {limit} deep (a cnndsl IR document nests "
                     f"at most {DEPTH} deep)", help=HELP)


def _upgrade(data: dict[str, Any]) -> dict[str, Any]:
    """A version 1 document in version 2's shape: its frames to a table, ``params`` to
    ``bindings``."""
    keys: dict[str, int] = {}
    table: list[dict] = []
    nodes = []
    for node in data["nodes"]:
        scope = []
        for f in node.get("scope", ()):
            key = json.dumps(f, sort_keys=True)
            if key not in keys:
                keys[key] = len(table)
                table.append(f)
            scope.append(keys[key])
        nodes.append({**node, "scope": scope})
    out = {("bindings" if k == "params" else k): v for k, v in data.items()}
    return {**out, "version": VERSION, "frames": table, "nodes": nodes}


def graph_of(data: dict[str, Any]) -> Graph:
    """The graph of a document :func:`read` has passed (UserError where a node's scope
    names a frame the table does not have, or the graph breaks its rules)."""
    from .graph import Graph, Node, TensorType

    sources: dict[str, Source] = {}

    def span_of(s: dict | None) -> Span | None:
        if not s:
            return None
        src = sources.setdefault(s["file"], Source(s["file"], ""))
        return Span(src, s["line"], s["column"], s["end_line"], s["end_column"])

    frames = [_frame(f, span_of(f.get("span"))) for f in data.get("frames", ())]
    nodes, broken = [], []
    for i, d in enumerate(data["nodes"]):
        bad = [k for k in d.get("scope", ()) if k >= len(frames)]
        if bad:
            broken.append(f"nodes[{i}].scope: {bad[0]} is not an index of frames (it has "
                          f"{len(frames)})")
            continue
        attrs = tuple((k, tuple(v) if isinstance(v, list) else v)
                      for k, v in d["attrs"].items())
        nodes.append(Node(d["name"], d["path"], d["op"], attrs, tuple(d["inputs"]),
                          TensorType(tuple(d["type"])), span_of(d.get("span")),
                          tuple(frames[k] for k in d.get("scope", ()))))
    if broken:
        raise not_ir(broken)
    graph = Graph(data["name"], tuple(nodes), data["output"], data.get("bindings", {}),
                  data.get("num_classes"), tuple(data.get("aux", ())))
    broken = graph.lint()
    if nodes[0].op != "input":
        broken.append("the first node is not the `input` node")
    if broken:
        raise not_ir(broken)
    return graph


def _frame(f: dict, span: Span | None) -> Frame:
    """A frame of a document; one written before frames had a kind and arguments reads
    as a named frame being a block's (an unnamed one a built-in's), arguments unknown."""
    from .graph import Argument, Frame

    arguments = f.get("arguments")
    return Frame(f["name"], f["block"], f["call"], f["named"], span,
                 tuple((k, v) for k, v in f.get("args", ())),
                 f.get("kind", "block" if f["named"] else "builtin"),
                 None if arguments is None else tuple(
                     Argument(a["name"], a["value"], a["given"], a.get("default"))
                     for a in arguments))


def not_ir(found: list[str]) -> UserError:
    shown = "; ".join(found[:5]) + ("; ..." if len(found) > 5 else "")
    return UserError(f"not a valid cnndsl IR document: {shown}",
                     help="see docs/ir-schema.json for the fields; " + HELP)
