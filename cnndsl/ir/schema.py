"""The IR as data: the JSON Schema of ``Network.to_json()`` and ``compile --emit ir-json``
(format version 2), the schema of version 1 that cnndsl still reads, and the structural
check :func:`cnndsl.from_json` runs before it reads a document.

NOTE: one schema, two readers. :data:`SCHEMA` (JSON Schema, draft 2020-12) is the
contract; docs/ir-schema.json is this dict written out, docs/ir-schema-v1.json version
1's (``python -m cnndsl.apidoc --schema docs/ir-schema.json``, ``--schema-v1
docs/ir-schema-v1.json``; a test checks they agree, and the tests validate every zoo
network against the file with ``jsonschema``). At run time cnndsl does not depend on
``jsonschema``: :func:`problems` walks the same dict (:mod:`cnndsl.ir.validate`), so the
two cannot drift apart. ``version`` grows when a reader of the old format would misread
the new one; a reader refuses a newer version rather than guess.

Version 2: the frames (block calls) are a table, each distinct frame once, and a node's
``scope`` lists indices into it; in version 1 each node held its frames themselves
(resnet50's document: 310,523 bytes in version 1, 72,809 in version 2). The network's
bound values are ``bindings`` (``params`` in version 1).

>>> problems({"format": "cnndsl-ir", "version": 2, "name": "n", "output": "x",
...           "nodes": [{"name": "x", "op": "input", "type": [3, 0, 0]}]})[:2]
['nodes[0]: missing "path"', 'nodes[0]: missing "attrs"']
"""

from __future__ import annotations

import copy
import json
from typing import Any

from .validate import Validator

FORMAT = "cnndsl-ir"
VERSION = 2  # what cnndsl writes; it reads 1 and 2

_SCALAR = {"type": ["boolean", "integer", "number", "string"]}

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://cnndsl.invalid/ir-schema.json",
    "title": "cnndsl IR",
    "description": (
        "A compiled network as data: what `Network.to_json()` and `cnndsl compile --emit "
        "ir-json` write and `cnndsl.from_json` reads (format version 2; version 1 is "
        "described by ir-schema-v1.json). Nodes are in topological order, the first is the "
        "`input` node; the batch dimension is implicit. The block calls the nodes sit in "
        "are the `frames` table, each distinct call once; a node's `scope` lists indices "
        "into it. Keys are written in the order listed here."),
    "type": "object",
    "required": ["format", "version", "name", "output", "nodes"],
    "additionalProperties": False,
    "properties": {
        "generator": {"const": "cnndsl", "description": (
            "The mark of a file cnndsl wrote (`compile --emit ir-json` writes it first; "
            "see cnndsl/outputs.py). Optional.")},
        "format": {"const": FORMAT, "description": "What this document is."},
        "version": {"const": VERSION, "description": (
            "The format's version (2; cnndsl reads 1 too). A reader refuses a newer one.")},
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
        "bindings": {"type": "object", "additionalProperties": _SCALAR, "description": (
            "The values bound to the network's parameters when it was compiled (`--set`, "
            "`bindings=`; a preset's own values are not repeated here). Called `params` in "
            "version 1.")},
        "frames": {"type": "array", "items": {"$ref": "#/$defs/frame"}, "description": (
            "Every distinct block call some node sits in, each once, in the order the "
            "nodes first meet them. Optional: missing, there are none.")},
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
                "scope": {"type": "array", "items": {"type": "integer", "minimum": 0},
                          "description": "The block calls the node sits in, outermost "
                          "first, as indices into `frames`."},
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
            "description": "One block call on the way from the network to a node.",
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


def _v1() -> dict[str, Any]:
    """Format version 1's schema: version 2's, with the frames inline in each node's
    ``scope`` and the bindings called ``params``; no ``frames`` table."""
    v1 = copy.deepcopy(SCHEMA)
    v1["$id"] = "https://cnndsl.invalid/ir-schema-v1.json"
    v1["title"] = "cnndsl IR, format version 1 (read, no longer written)"
    v1["description"] = (
        "Format version 1, as cnndsl wrote it before version 2 (which cnndsl writes now): "
        "each node's `scope` holds its frames themselves, and the bindings are called "
        "`params`. `cnndsl.from_json` still reads it.")
    props = v1["properties"]
    props["version"] = {"const": 1, "description": "Format version 1."}
    del props["frames"]
    props = {("params" if k == "bindings" else k): v for k, v in props.items()}
    props["params"]["description"] = (
        "The values bound to the network's parameters when it was compiled (`--set`); "
        "version 2 calls them `bindings`.")
    v1["properties"] = props
    v1["$defs"]["node"]["properties"]["scope"] = {
        "type": "array", "items": {"$ref": "#/$defs/frame"},
        "description": "The block calls the node sits in, outermost first."}
    return v1


SCHEMA_V1 = _v1()
SCHEMAS = {1: SCHEMA_V1, VERSION: SCHEMA}
_VALIDATORS = {v: Validator(s) for v, s in SCHEMAS.items()}


def problems(data: Any, limit: int = 20, version: int | None = None) -> list[str]:
    """What is structurally wrong with ``data`` against the schema of its ``version``
    (or of ``version`` given; the latest for a version this cnndsl does not read), as
    ``where: what`` lines (at most ``limit``); empty for a valid document."""
    if version is None:
        given = data.get("version") if isinstance(data, dict) else None
        version = given if type(given) is int and given in SCHEMAS else VERSION
    return _VALIDATORS[version].problems(data, limit)


def text(version: int = VERSION) -> str:
    """The text of docs/ir-schema.json (version 2) or docs/ir-schema-v1.json."""
    return json.dumps(SCHEMAS[version], indent=2) + "\n"
