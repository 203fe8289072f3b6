"""The IR as data: every zoo network's JSON matches the schema (docs/ir-schema.json) and
reads back as the same network; anything else is refused with a clear message."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

import cnndsl
from cnndsl.api import ZOO_DIR, zoo_presets
from cnndsl.commands.compile import emitted_text
from cnndsl.ir import schema

from .conftest import needs_torch

ROOT = Path(__file__).resolve().parent.parent
NAMES = sorted(p.stem for p in ZOO_DIR.glob("*.cnn")) + sorted(zoo_presets())
TINY = "input 1x28x28\nconv(8, 3) - relu - pool - fc(10)"


@pytest.fixture(scope="module")
def zoo():
    """Each zoo network and preset, compiled once, with its JSON text."""
    cache: dict[str, tuple[cnndsl.Network, str]] = {}

    def get(name: str):
        if name not in cache:
            net = cnndsl.compile(name)
            cache[name] = (net, net.to_json())
        return cache[name]
    return get


def test_the_schema_file_is_generated_from_the_package():
    doc = (ROOT / "docs/ir-schema.json").read_text()
    assert doc == schema.text(), "run: python -m cnndsl.apidoc --schema docs/ir-schema.json"
    data = json.loads(doc)
    assert data["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert data["properties"]["version"]["const"] == schema.VERSION


def test_the_schema_is_a_valid_draft_2020_12_schema():
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.Draft202012Validator.check_schema(schema.SCHEMA)


def test_every_field_is_documented():
    def walk(s, where):
        for key, sub in s.get("properties", {}).items():
            assert "description" in sub or "$ref" in sub, f"{where}.{key}"
            walk(sub, f"{where}.{key}")
    walk(schema.SCHEMA, "document")
    for name, sub in schema.SCHEMA["$defs"].items():
        walk(sub, name)
    node = schema.SCHEMA["$defs"]["node"]["properties"]
    assert set(node) == {"name", "path", "op", "attrs", "inputs", "type", "span", "scope"}
    frame = schema.SCHEMA["$defs"]["frame"]["properties"]
    assert set(frame) == {"name", "block", "call", "named", "kind", "args", "arguments", "span"}
    argument = schema.SCHEMA["$defs"]["argument"]["properties"]
    assert set(argument) == {"name", "value", "given", "default"}


@pytest.mark.parametrize("name", NAMES)
def test_the_round_trip_is_the_identity(zoo, name):
    net, text = zoo(name)
    again = cnndsl.from_json(text)
    assert again.dump_ir() == net.dump_ir()
    assert again.params_count == net.params_count
    assert again.cost.macs_by_kind == net.cost.macs_by_kind
    assert again.to_python() == net.to_python()
    assert again.to_json() == text


def _skeleton(v):
    """A value's JSON shape: what the schema can tell apart (kinds, lengths up to 3,
    numbers below 1), not the values."""
    if isinstance(v, dict):
        return tuple(sorted((k, _skeleton(x)) for k, x in v.items()))
    if isinstance(v, list):
        return ("list", min(len(v), 4), frozenset(_skeleton(x) for x in v))
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return (type(v).__name__, v < 1)
    return type(v).__name__


def test_every_zoo_document_matches_the_schema(zoo):
    """cnndsl's own check over every document; jsonschema (slow: ~10 s for the whole
    zoo) over each network's fields and each distinct form of node, across the zoo."""
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(schema.SCHEMA)
    forms: dict = {}
    for name in NAMES:
        data = json.loads(zoo(name)[1])
        assert schema.problems(data) == [], name
        for node in data["nodes"]:
            forms.setdefault(_skeleton(node), node)
        validator.validate({**data, "nodes": data["nodes"][:1]})
    assert len(forms) > 50
    validator.validate({**json.loads(zoo(NAMES[0])[1]), "nodes": list(forms.values())})


@pytest.mark.slow
def test_every_zoo_document_matches_the_schema_by_jsonschema(zoo):
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(schema.SCHEMA)
    for name in NAMES:
        validator.validate(json.loads(zoo(name)[1]))


def test_the_emitted_ir_json_is_versioned_and_reads_back():
    net = cnndsl.compile(TINY)
    text = emitted_text(net, "ir-json")
    data = json.loads(text)
    assert list(data)[:3] == ["generator", "format", "version"]
    assert (data["format"], data["version"]) == ("cnndsl-ir", 1)
    assert cnndsl.from_json(text).dump_ir() == net.dump_ir()
    assert cnndsl.from_json(data).source_name == "<input>"


def test_a_network_from_json_has_the_graph_but_no_source(tmp_path):
    net = cnndsl.compile("resnet18")
    again = cnndsl.from_json(json.loads(net.to_json()))
    assert (again.source, again.program.network, again.program.blocks) == ("", None, ())
    assert (again.diagnostics, again.blocks, again.path) == ([], {}, None)
    assert again.source_name == "zoo/resnet.cnn" and again.name == "resnet18"
    assert again.receptive_fields.keys() == net.receptive_fields.keys()
    assert again.module_paths() == net.module_paths()
    assert again.summary().to_json() == net.summary().to_json()
    assert again._repr_markdown_() == net._repr_markdown_()
    assert "resnet18" in repr(again)
    assert again.to_dot().count("->") == net.to_dot().count("->")
    again.draw(tmp_path / "net.dot")
    assert (tmp_path / "net.dot").read_text().count("->") > 10
    member = cnndsl.from_json(cnndsl.compile("efficientnet_b0").to_json())
    assert member.preset == "efficientnet_b0"


@needs_torch
def test_a_network_from_json_builds_the_same_torch_module():
    import torch
    net = cnndsl.compile("input 3x32x32\nconv(8) - bn - relu - residual(conv(8) - bn) - gap - fc(10)")
    a, b = net.to_torch(), cnndsl.from_json(net.to_json()).to_torch()
    b.load_state_dict(a.state_dict())
    x = torch.randn(2, 3, 32, 32)
    assert torch.equal(a.eval()(x), b.eval()(x))


def _doc(src: str = TINY) -> dict:
    return json.loads(cnndsl.compile(src).to_json())


BLOCK = "block b(c, k=3) = conv(c, k) - relu\ninput 1x8x8\nb(4)"


def _edit(path, value, src: str = TINY):
    data = _doc(src)
    *head, last = path
    target = data
    for key in head:
        target = target[key]
    if value is KeyError:
        del target[last]
    else:
        target[last] = value
    return data


BROKEN = [  # (document, words of the message)
    ("not json {", "not JSON"),
    ([1, 2], 'not a cnndsl IR document ("format" is null'),
    ({"format": "onnx"}, 'not a cnndsl IR document ("format" is "onnx"'),
    (_edit(["version"], 2), "format version 2, newer than this cnndsl reads (1)"),
    (_edit(["version"], 0), "version: expected 1, got 0"),
    (_edit(["nodes"], KeyError), 'document: missing "nodes"'),
    (_edit(["nodes"], []), "nodes: 0 items"),
    (_edit(["nodes", 1, "type"], [8, 28]), "nodes[1].type: [8, 28] is not a shape"),
    (_edit(["nodes", 1, "type"], [8, 0, 28]), "nodes[1].type[1]: 0 is less than 1"),
    (_edit(["nodes", 1, "attrs", "out"], {"x": 1}), "nodes[1].attrs.out"),
    (_edit(["nodes", 1, "span", "line"], "2"), "nodes[1].span.line: expected integer, got string"),
    (_edit(["nodes", 1, "extra"], 1), 'nodes[1]: unknown field "extra"'),
    (_edit(["nodes", 1, "inputs"], ["nowhere"]), "conv1 uses nowhere before it is defined"),
    (_edit(["output"], "nowhere"), "output nowhere is not a node"),
    (_edit(["nodes", 1, "op"], "convv"), "unknown operator `convv`"),
    (_edit(["nodes", 1, "type"], [9, 28, 28]), "does not give its type 9x28x28 from 1x28x28"),
    (_edit(["nodes", 0, "op"], "relu"), "the first node is not the `input` node"),
    (_edit(["nodes", 1, "scope", 0, "kind"], "macro", BLOCK),
     'nodes[1].scope[0].kind: expected one of "block", "builtin", got "macro"'),
    (_edit(["nodes", 1, "scope", 0, "arguments", 1, "given"], "named", BLOCK),
     'nodes[1].scope[0].arguments[1].given: expected one of "positional", "keyword", '
     '"default", got "named"'),
]


def test_a_frame_keeps_its_kind_and_arguments_and_older_frames_still_read():
    frame = _doc(BLOCK)["nodes"][1]["scope"][0]
    assert (frame["kind"], frame["call"], frame["arguments"]) == ("block", "b(4)", [
        {"name": "c", "value": "4", "given": "positional", "default": None},
        {"name": "k", "value": "3", "given": "default", "default": "3"}])
    older = _doc(BLOCK)
    for node in older["nodes"]:
        for f in node["scope"]:
            del f["kind"]
            f.pop("arguments", None)
    (read,) = cnndsl.from_json(older).graph.nodes[1].scope
    assert (read.kind, read.arguments, read.call) == ("block", None, "b(4)")


@pytest.mark.parametrize("data, words", BROKEN, ids=[w[:30] for _, w in BROKEN])
def test_a_document_that_is_not_ir_is_refused_clearly(data, words):
    with pytest.raises(cnndsl.UserError) as e:
        cnndsl.from_json(copy.deepcopy(data))
    assert words in e.value.message
    assert e.value.help


@pytest.mark.parametrize("data, words", [b for b in BROKEN if isinstance(b[0], dict)
                                         and b[0].get("format") == "cnndsl-ir"])
def test_the_runtime_check_agrees_with_jsonschema(data, words):
    """Where cnndsl's check finds a structural problem, so does jsonschema, and the
    reverse: the two read the same schema."""
    jsonschema = pytest.importorskip("jsonschema")
    structural = bool(schema.problems(data))
    by_jsonschema = not jsonschema.Draft202012Validator(schema.SCHEMA).is_valid(data)
    assert structural == by_jsonschema
