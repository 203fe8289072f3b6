"""The IR as data: the JSON Schema of ``Network.to_json()`` and ``compile --emit ir-json``,
and the structural check that :func:`cnndsl.from_json` runs before it reads a document.

NOTE: one schema, two readers. :data:`SCHEMA` (JSON Schema, draft 2020-12) is the
contract; docs/ir-schema.json is this dict written out
(``python -m cnndsl.apidoc --schema docs/ir-schema.json``; a test checks they agree, and the
tests validate every zoo network against the file with ``jsonschema``). At run time
cnndsl does not depend on ``jsonschema``: :func:`problems` walks the same dict with the
few keywords it uses (type, const, enum, properties, required, additionalProperties,
items, prefixItems, minItems, maxItems, minimum, minLength, anyOf, $ref), so the two
cannot drift apart. ``version`` grows when a reader of the old format would misread
the new one; a reader refuses a newer version rather than guess.

>>> problems({"format": "cnndsl-ir", "version": 1, "name": "n", "output": "x",
...           "nodes": [{"name": "x", "op": "input", "type": [3, 0, 0]}]})[:2]
['nodes[0]: missing "path"', 'nodes[0]: missing "attrs"']
"""

from __future__ import annotations

import json
from typing import Any

FORMAT = "cnndsl-ir"
VERSION = 1

_SCALAR = {"type": ["boolean", "integer", "number", "string"]}

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://cnndsl.invalid/ir-schema.json",
    "title": "cnndsl IR",
    "description": (
        "A compiled network as data: what `Network.to_json()` and `cnndsl compile --emit "
        "ir-json` write and `cnndsl.from_json` reads. Nodes are in topological order, the "
        "first is the `input` node; the batch dimension is implicit. Keys are written in "
        "the order listed here."),
    "type": "object",
    "required": ["format", "version", "name", "output", "nodes"],
    "additionalProperties": False,
    "properties": {
        "generator": {"const": "cnndsl", "description": (
            "The mark of a file cnndsl wrote (`compile --emit ir-json` writes it first; "
            "see cnndsl/outputs.py). Optional.")},
        "format": {"const": FORMAT, "description": "What this document is."},
        "version": {"const": VERSION, "description": (
            "The format's version. A reader refuses a newer one.")},
        "name": {"type": "string", "description": (
            "The network's name (its `network` header, a preset's name, or the file's "
            "stem).")},
        "source_name": {"type": "string", "description": (
            "Where the program came from (`zoo/resnet.cnn`, a path, `<input>`): the name "
            "the generated code cites. Optional.")},
        "preset": {"type": ["string", "null"], "description": (
            "The `preset` line the network is a member of, if any. Optional.")},
        "output": {"type": "string", "description": "The node whose value is the output."},
        "aux": {"type": "array", "items": {"type": "string"}, "description": (
            "Auxiliary outputs (training-time heads, such as GoogLeNet's), by node name.")},
        "num_classes": {"type": ["integer", "null"], "minimum": 1, "description": (
            "The width of a vector output (the class scores); null for a map output.")},
        "params": {"type": "object", "additionalProperties": _SCALAR, "description": (
            "The network parameters bound when it was compiled (`--set`, a preset).")},
        "nodes": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/node"},
                  "description": "The operators, in topological order; the first is `input`."},
    },
    "$defs": {
        "node": {
            "type": "object",
            "required": ["name", "path", "op", "attrs", "inputs", "type"],
            "additionalProperties": False,
            "properties": {
                "name": {"type": "string", "minLength": 1, "description": (
                    "Unique within the graph: the module path with dots as underscores "
                    "(`stage2_basic1_conv1`).")},
                "path": {"type": "string", "description": (
                    "The module path in the emitted PyTorch code (`stage2.basic1.conv1`).")},
                "op": {"type": "string", "minLength": 1, "description": (
                    "The operator (`conv`, `relu`, `concat`, ...; `cnndsl ops` lists "
                    "them).")},
                "attrs": {"type": "object", "additionalProperties": {"$ref": "#/$defs/attr"},
                          "description": "The operator's attributes, resolved (defaults "
                          "filled in), in the operator's order."},
                "inputs": {"type": "array", "items": {"type": "string"}, "description": (
                    "The nodes read, by name, each defined earlier in `nodes`.")},
                "type": {"$ref": "#/$defs/type"},
                "span": {"anyOf": [{"type": "null"}, {"$ref": "#/$defs/span"}],
                         "description": "The source text that made the node."},
                "scope": {"type": "array", "items": {"$ref": "#/$defs/frame"},
                          "description": "The block calls the node sits in, outermost "
                          "first."},
            },
        },
        "attr": {
            "title": "an attribute value (a scalar, a list of numbers, or null)",
            "description": "An attribute value: a scalar, a tuple of numbers, or null.",
            "anyOf": [{"type": "null"}, _SCALAR,
                      {"type": "array", "items": {"type": ["integer", "number"]}}],
        },
        "type": {
            "title": "a shape [C, H, W] or [F]",
            "description": "The output shape without the batch: `[C, H, W]` for a feature "
                           "map, `[F]` for a vector.",
            "type": "array", "items": {"type": "integer", "minimum": 1},
            "anyOf": [{"minItems": 1, "maxItems": 1}, {"minItems": 3, "maxItems": 3}],
        },
        "span": {
            "description": "A range of source text: 1-based lines and columns, the end "
                           "exclusive.",
            "type": "object",
            "required": ["file", "line", "column", "end_line", "end_column"],
            "additionalProperties": False,
            "properties": {
                "file": {"type": "string", "description": "The source's name."},
                "line": {"type": "integer", "minimum": 1, "description": "First line."},
                "column": {"type": "integer", "minimum": 1, "description": "First column."},
                "end_line": {"type": "integer", "minimum": 1, "description": "Last line."},
                "end_column": {"type": "integer", "minimum": 1,
                               "description": "The column after the last character."},
            },
        },
        "frame": {
            "description": "One block call on the way from the network to the node.",
            "type": "object",
            "required": ["name", "block", "call", "named"],
            "additionalProperties": False,
            "properties": {
                "name": {"type": "string", "description": "The instance name (`stage2`)."},
                "block": {"type": "string", "description": "The block called (`stage`)."},
                "call": {"type": "string", "description": (
                    "The call as written, its arguments evaluated (`stage(128, 4)`).")},
                "named": {"type": "boolean", "description": (
                    "True for a block's call and an `aux` head (it names nodes and becomes a "
                    "submodule); false for a `residual`, which only groups nodes.")},
                "kind": {"enum": ["block", "builtin"], "description": (
                    "`block` for a call of a `block` definition (the program's, an import's, "
                    "the prelude's); `builtin` for a block the compiler expands itself "
                    "(residual, aux). Optional: missing, `block` for a named frame and "
                    "`builtin` for another.")},
                "args": {"type": "array", "description": "The numeric arguments by name.",
                         "items": {"type": "array", "minItems": 2, "maxItems": 2,
                                   "prefixItems": [{"type": "string"},
                                                   {"type": ["integer", "number"]}]}},
                "arguments": {"type": "array", "items": {"$ref": "#/$defs/argument"},
                              "description": "Every parameter of a block's call, in the "
                              "signature's order, as a reader sees it. Optional: missing for "
                              "a built-in (`call` says it all) and in an IR written before "
                              "they were recorded (a diagram then shows `call`)."},
                "span": {"anyOf": [{"type": "null"}, {"$ref": "#/$defs/span"}],
                         "description": "The call's source text."},
            },
        },
        "argument": {
            "description": "One parameter of a block call.",
            "type": "object",
            "required": ["name", "value", "given"],
            "additionalProperties": False,
            "properties": {
                "name": {"type": "string", "description": "The parameter (`stride`)."},
                "value": {"type": "string", "description": (
                    "Its value as text, numbers evaluated (`2`, `relu`, `conv(c, 3) - bn`).")},
                "given": {"enum": ["positional", "keyword", "default"], "description": (
                    "How the call passed it; `default`: not passed, the value is the "
                    "parameter's default (evaluated where it is a number).")},
                "default": {"type": ["string", "null"], "description": (
                    "The parameter's default as the signature writes it; null for a "
                    "required parameter.")},
            },
        },
    },
}


def problems(data: Any, limit: int = 20) -> list[str]:
    """What is structurally wrong with ``data`` against :data:`SCHEMA`, as
    ``where: what`` lines (at most ``limit``); empty for a valid document."""
    if _valid(data):  # the fast path: a yes or no, no messages built
        return []
    found: list[str] = []
    _check(data, SCHEMA, "", found, limit)
    return found or ["does not match the schema"]


def _predicate(s: dict):
    """``s`` as a function value -> bool (the keywords of :func:`_check`, no messages)."""
    s = _resolve(s)
    tests = []
    if "anyOf" in s:
        alts = [_predicate(a) for a in s["anyOf"]]
        tests.append(lambda v: any(a(v) for a in alts))
    if "type" in s:
        names = [s["type"]] if isinstance(s["type"], str) else s["type"]
        tests.append(_kinds(names))
    if "const" in s:
        const = s["const"]
        tests.append(lambda v: v == const)
    if "enum" in s:
        allowed = [(type(a), a) for a in s["enum"]]
        tests.append(lambda v: (type(v), v) in allowed)
    if "minimum" in s:
        low = s["minimum"]
        tests.append(lambda v: not isinstance(v, (int, float)) or v >= low)
    if "minLength" in s:
        tests.append(lambda v: not isinstance(v, str) or len(v) >= s["minLength"])
    if "properties" in s or "required" in s or "additionalProperties" in s:
        tests.append(_fields(s))
    if any(k in s for k in ("items", "prefixItems", "minItems", "maxItems")):
        tests.append(_items(s))
    if len(tests) == 1:
        return tests[0]

    def every(v) -> bool:
        for t in tests:
            if not t(v):
                return False
        return True
    return every


def _kinds(names: list[str]):
    classes = tuple({"boolean": bool, "integer": int, "number": (int, float), "string": str,
                     "array": list, "object": dict, "null": type(None)}[t] for t in names)
    flat = tuple(c for cs in classes for c in (cs if isinstance(cs, tuple) else (cs,)))
    allows_bool = "boolean" in names
    return lambda v: isinstance(v, flat) and (allows_bool or v.__class__ is not bool)


def _fields(s: dict):
    props = {k: _predicate(p) for k, p in s.get("properties", {}).items()}
    required = tuple(s.get("required", ()))
    extra = s.get("additionalProperties", True)
    other = _predicate(extra) if isinstance(extra, dict) else (lambda v: extra)

    def fields(v) -> bool:
        if v.__class__ is not dict:
            return True
        for k in required:
            if k not in v:
                return False
        for k, item in v.items():
            if not props.get(k, other)(item):
                return False
        return True
    return fields


def _items(s: dict):
    low, high = s.get("minItems", 0), s.get("maxItems")
    prefix = [_predicate(p) for p in s.get("prefixItems", ())]
    each = _predicate(s["items"]) if "items" in s else (lambda v: True)

    def items(v) -> bool:
        if v.__class__ is not list:
            return True
        if len(v) < low or (high is not None and len(v) > high):
            return False
        for i, x in enumerate(v):
            if not (prefix[i] if i < len(prefix) else each)(x):
                return False
        return True
    return items


_TYPES = {
    "null": lambda v: v is None,
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "string": lambda v: isinstance(v, str),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
}


def _check(v: Any, s: dict, where: str, found: list[str], limit: int) -> None:
    """``v`` against ``s``, each problem appended to ``found`` as ``where: what``."""
    if len(found) >= limit:
        return
    s = _resolve(s)
    at = where or "document"

    def bad(what: str) -> None:
        if len(found) < limit:
            found.append(f"{at}: {what}")

    if "anyOf" in s and not any(not _sub(v, alt) for alt in s["anyOf"]):
        fitting = [alt for alt in s["anyOf"] if _type_fits(v, alt)]
        if len(fitting) == 1 and "type" in _resolve(fitting[0]):  # say what is wrong in it
            _check(v, fitting[0], where, found, limit)
        else:
            shown = json.dumps(v)
            bad(f"{shown if len(shown) <= 40 else shown[:37] + '...'} is not "
                f"{s.get('title', 'an allowed value')}")
        return
    types = s.get("type")
    if types is not None:
        names = [types] if isinstance(types, str) else types
        if not any(_TYPES[t](v) for t in names):
            bad(f"expected {' or '.join(names)}, got {_kind(v)}")
            return
    if "const" in s and v != s["const"]:
        bad(f"expected {json.dumps(s['const'])}, got {json.dumps(v)[:40]}")
    if "enum" in s and (type(v), v) not in [(type(a), a) for a in s["enum"]]:
        bad(f"expected one of {', '.join(json.dumps(a) for a in s['enum'])}, "
            f"got {json.dumps(v)[:40]}")
    if "minimum" in s and isinstance(v, (int, float)) and v < s["minimum"]:
        bad(f"{v} is less than {s['minimum']}")
    if "minLength" in s and isinstance(v, str) and len(v) < s["minLength"]:
        bad("empty")
    if isinstance(v, dict):
        props = s.get("properties", {})
        for key in s.get("required", ()):
            if key not in v:
                bad(f'missing "{key}"')
        extra = s.get("additionalProperties", True)
        for key, item in v.items():
            if key in props:
                _check(item, props[key], _join(where, key), found, limit)
            elif extra is False:
                bad(f'unknown field "{key}"')
            elif isinstance(extra, dict):
                _check(item, extra, _join(where, key), found, limit)
    if isinstance(v, list):
        if len(v) < s.get("minItems", 0) or len(v) > s.get("maxItems", len(v)):
            bad(f"{len(v)} items")
        prefix = s.get("prefixItems", ())
        for i, item in enumerate(v):
            sub = prefix[i] if i < len(prefix) else s.get("items")
            if sub is not None:
                _check(item, sub, f"{where}[{i}]", found, limit)


def _resolve(s: dict) -> dict:
    return SCHEMA["$defs"][s["$ref"].rsplit("/", 1)[-1]] if "$ref" in s else s


def _type_fits(v: Any, s: dict) -> bool:
    types = _resolve(s).get("type")
    names = [types] if isinstance(types, str) else types or ()
    return any(_TYPES[t](v) for t in names)


def _sub(v: Any, s: dict) -> list[str]:
    out: list[str] = []
    _check(v, s, "", out, 1)
    return out


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _kind(v: Any) -> str:
    for name in ("null", "boolean", "integer", "number", "string", "array", "object"):
        if _TYPES[name](v):
            return name
    return type(v).__name__


_valid = _predicate(SCHEMA)


def text() -> str:
    """docs/ir-schema.json's text."""
    return json.dumps(SCHEMA, indent=2) + "\n"

