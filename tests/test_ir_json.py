"""The IR as data: every zoo network's JSON (format version 2) matches the schema
(docs/ir-schema.json) and reads back as the same network; version 1 (docs/ir-schema-v1.json,
each node holding its frames) still reads; anything else is refused with a clear message.
The reader's checks of each node, its bounds and the mutation property are in
tests/test_ir_reader.py."""

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
# tests/data/ir_v1_demo.json: this program as cnndsl wrote it in format version 1, with
# loads(DEMO, params={"n": 2}, preset="demo_s", name="demo.cnn"), before version 2
DEMO = """block unit(c, k=3) = conv(c, k) - bn - relu
block stage(c, n=2) = unit(c) - residual(unit(c) - conv(c, 1))*n
network demo(w=8, n=1, classes=10):
  input 3x16x16
  head = gap - fc(classes)
  stage(w, n) - aux(head) - pool - stage(2 * w) - gap - fc(classes)
preset demo_s(w=4)
"""


def as_v1(doc: dict) -> dict:
    """A version 2 document as version 1 wrote it: each node's frames inline, the
    bindings called ``params``."""
    frames = doc["frames"]
    out = {("params" if k == "bindings" else k): v for k, v in doc.items() if k != "frames"}
    out["version"] = 1
    out["nodes"] = [{**n, "scope": [frames[i] for i in n["scope"]]} for n in doc["nodes"]]
    return out


def v1_text(doc: dict) -> str:
    """Version 1's text as Network.to_json wrote it: the fields indented, a node a line."""
    nodes = ",\n    ".join(json.dumps(n) for n in doc["nodes"])
    head = json.dumps({k: v for k, v in doc.items() if k != "nodes"}, indent=2)[:-2]
    return f'{head},\n  "nodes": [\n    {nodes}\n  ]\n}}'


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


@pytest.mark.parametrize("version, path", [(2, "docs/ir-schema.json"),
                                           (1, "docs/ir-schema-v1.json")])
def test_the_schema_files_are_generated_from_the_package(version, path):
    doc = (ROOT / path).read_text()
    flag = "--schema" if version == 2 else "--schema-v1"
    assert doc == schema.text(version), f"run: python -m cnndsl.apidoc {flag} {path}"
    data = json.loads(doc)
    assert data["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert data["properties"]["version"]["const"] == version
    assert ("frames" in data["properties"], "bindings" in data["properties"],
            "params" in data["properties"]) == ((True, True, False) if version == 2
                                                else (False, False, True))


@pytest.mark.parametrize("version", sorted(schema.SCHEMAS))
def test_the_schemas_are_valid_draft_2020_12_schemas(version):
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.Draft202012Validator.check_schema(schema.SCHEMAS[version])


def test_every_field_is_documented():
    def walk(s, where):
        for key, sub in s.get("properties", {}).items():
            assert "description" in sub or "$ref" in sub, f"{where}.{key}"
            walk(sub, f"{where}.{key}")
    for version, root in schema.SCHEMAS.items():
        walk(root, f"v{version}")
        for name, sub in root["$defs"].items():
            walk(sub, name)
    node = schema.SCHEMA["$defs"]["node"]["properties"]
    assert set(node) == {"name", "path", "op", "attrs", "inputs", "type", "span", "scope"}
    assert node["scope"]["items"] == {"type": "integer", "minimum": 0}
    frame = schema.SCHEMA["$defs"]["frame"]["properties"]
    assert set(frame) == {"name", "block", "call", "named", "kind", "args", "arguments", "span"}
    argument = schema.SCHEMA["$defs"]["argument"]["properties"]
    assert set(argument) == {"name", "value", "given", "default"}
    v1_node = schema.SCHEMA_V1["$defs"]["node"]["properties"]
    assert v1_node["scope"]["items"] == {"$ref": "#/$defs/frame"}


@pytest.mark.parametrize("name", NAMES)
def test_the_round_trip_is_the_identity(zoo, name):
    net, text = zoo(name)
    again = cnndsl.from_json(text)
    assert again.dump_ir() == net.dump_ir()
    assert again.params_count == net.params_count
    assert again.cost.macs_by_kind == net.cost.macs_by_kind
    assert again.to_python() == net.to_python()
    assert again.to_json() == text
    assert (again.bindings, again.preset) == (net.bindings, net.preset)


V1_SAMPLE = ["resnet18", "googlenet", "efficientnet_b0", "densenet121", "fractalnet",
             "inception_v3", "shufflenet_v2_x1_0"]  # every kind of frame the zoo has


def _reads_as_version_2(zoo, names):
    for name in names:
        net, text = zoo(name)
        old = as_v1(json.loads(text))
        assert schema.problems(old) == [], name
        again = cnndsl.from_json(v1_text(old))
        assert again.dump_ir() == net.dump_ir(), name
        assert again.to_json() == text, name  # written back as version 2


def test_version_1_of_zoo_networks_reads_as_version_2(zoo):
    _reads_as_version_2(zoo, V1_SAMPLE)


@pytest.mark.slow
def test_version_1_of_every_zoo_network_reads_as_version_2(zoo):
    _reads_as_version_2(zoo, NAMES)


def test_a_version_1_file_written_before_version_2_reads_back():
    text = (ROOT / "tests/data/ir_v1_demo.json").read_text()
    assert json.loads(text)["version"] == 1 and '"params": {' in text
    old = cnndsl.from_json(text)
    net = cnndsl.loads(DEMO, bindings={"n": 2}, preset="demo_s", name="demo.cnn")
    assert old.dump_ir() == net.dump_ir()
    assert old.to_python() == net.to_python()
    assert (old.bindings, old.preset, old.source_name, old.graph.aux) == (
        {"n": 2}, "demo_s", "demo.cnn", ("aux1_fc1",))
    assert [f.arguments for f in old.graph["stage1_unit1_conv1"].scope] == \
        [f.arguments for f in net.graph["stage1_unit1_conv1"].scope]
    assert old.to_json() == net.to_json()  # version 2 now


def test_each_frame_is_written_once_and_the_nodes_index_it():
    data = json.loads(cnndsl.loads(DEMO, preset="demo_s").to_json())
    keys = [json.dumps(f, sort_keys=True) for f in data["frames"]]
    assert len(keys) == len(set(keys)) == 10
    scopes = [n["scope"] for n in data["nodes"]]
    assert max(i for s in scopes for i in s) == len(keys) - 1
    calls = [[data["frames"][i]["call"] for i in s] for s in scopes]
    assert calls[1] == ["stage(4, 1)", "unit(4)"]  # stage1_unit1_conv1
    assert ["stage(4, 1)", "residual(unit(c) - conv(c, 1))", "unit(4)"] in calls
    assert sum(len(s) for s in scopes) > 3 * len(keys)  # what version 1 wrote in full


def test_version_2_is_a_quarter_of_version_1_for_resnet50(zoo):
    """Each node repeated its frames in version 1 (55-75% of a document)."""
    text = zoo("resnet50")[1]
    old = v1_text(as_v1(json.loads(text)))
    assert len(old.encode()) == 310_523  # what cnndsl 0.1's to_json wrote for resnet50
    assert len(text.encode()) < 0.25 * len(old.encode())
    big = zoo("efficientnet_b0")[1]
    assert len(big.encode()) < 0.25 * len(v1_text(as_v1(json.loads(big))).encode())


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
    zoo) over each network's fields and each distinct form of node and frame, across
    the zoo."""
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(schema.SCHEMA)
    nodes: dict = {}
    frames: dict = {}
    for name in NAMES:
        data = json.loads(zoo(name)[1])
        assert schema.problems(data) == [], name
        for node in data["nodes"]:
            nodes.setdefault(_skeleton({**node, "scope": node["scope"][:1]}), node)
        for frame in data["frames"]:
            frames.setdefault(_skeleton(frame), frame)
        validator.validate({**data, "nodes": data["nodes"][:1], "frames": data["frames"][:1]})
    assert len(nodes) > 40 and len(frames) > 5
    table = list(frames.values())
    forms = [{**n, "scope": [0] * len(n["scope"])} for n in nodes.values()]
    validator.validate({**json.loads(zoo(NAMES[0])[1]), "frames": table, "nodes": forms})


@pytest.mark.slow
def test_every_zoo_document_matches_the_schema_by_jsonschema(zoo):
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(schema.SCHEMA)
    old = jsonschema.Draft202012Validator(schema.SCHEMA_V1)
    for name in NAMES:
        data = json.loads(zoo(name)[1])
        validator.validate(data)
        old.validate(as_v1(data))


def test_the_emitted_ir_json_is_versioned_and_reads_back():
    net = cnndsl.compile(TINY)
    text = emitted_text(net, "ir-json")
    data = json.loads(text)
    assert list(data)[:3] == ["generator", "format", "version"]
    assert (data["format"], data["version"]) == ("cnndsl-ir", 2)
    assert list(data)[-2:] == ["frames", "nodes"]
    assert cnndsl.from_json(text).dump_ir() == net.dump_ir()
    assert cnndsl.from_json(data).source_name == "<input>"


def test_the_compile_command_says_which_version_it_writes(capsys):
    from cnndsl.cli import main
    with pytest.raises(SystemExit):
        main(["compile", "--help"])
    assert "ir-json is the IR in format version 2" in " ".join(capsys.readouterr().out.split())


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
    bound = cnndsl.compile("cs231n", bindings={"N": 3})
    assert cnndsl.from_json(bound.to_json()).bindings == {"N": 3}


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


def _edit(path, value, src: str = TINY, v1: bool = False):
    data = _doc(src)
    if v1:
        data = as_v1(data)
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
    ('{"format": "cnndsl-ir", "version": NaN}', "not JSON: NaN is not a JSON number"),
    (b"\xff\xfe\x00", "not JSON"),
    ([1, 2], 'not a cnndsl IR document ("format" is null'),
    ({"format": "onnx"}, 'not a cnndsl IR document ("format" is "onnx"'),
    ({"format": ["cnndsl-ir"]}, 'not a cnndsl IR document ("format" is list'),
    (_edit(["version"], 3), "format version 3, newer than this cnndsl reads (1, 2)"),
    (_edit(["version"], 0), "version: expected 2, got 0"),
    (_edit(["version"], [1]), "version: expected 2, got [1]"),
    (_edit(["version"], True), "version: expected 2, got true"),
    (_edit(["nodes"], KeyError), 'document: missing "nodes"'),
    (_edit(["nodes"], []), "nodes: 0 items"),
    (_edit(["params"], {}), 'document: unknown field "params"'),  # version 1's name
    (_edit(["bindings"], {}, v1=True), 'document: unknown field "bindings"'),
    (_edit(["nodes", 1, "type"], [8, 28]), "nodes[1].type: [8, 28] is not a shape"),
    (_edit(["nodes", 1, "type"], [8, 0, 28]), "nodes[1].type[1]: 0 is less than 1"),
    (_edit(["nodes", 1, "attrs", "out"], {"x": 1}), "nodes[1].attrs.out"),
    (_edit(["nodes", 1, "span", "line"], "2"), "nodes[1].span.line: expected integer, got string"),
    (_edit(["nodes", 1, "extra"], 1), 'nodes[1]: unknown field "extra"'),
    (_edit(["nodes", 1, "inputs"], ["nowhere"]), "conv1 uses nowhere, which is not a node"),
    (_edit(["nodes", 1, "inputs"], ["fc1"]), "conv1 uses fc1 before it is defined"),
    (_edit(["output"], "nowhere"), "output nowhere is not a node"),
    (_edit(["nodes", 1, "op"], "convv"), "unknown operator `convv`"),
    (_edit(["nodes", 1, "type"], [9, 28, 28]), "does not give its type 9x28x28 from 1x28x28"),
    (_edit(["nodes", 0, "op"], "relu"), "the first node is not the `input` node"),
    (_edit(["nodes", 1, "scope"], [{"name": "b"}]), "nodes[1].scope[0]: expected integer"),
    (_edit(["nodes", 1, "scope"], [0]), "nodes[1].scope: 0 is not an index of frames (it has 0)"),
    (_edit(["nodes", 1, "scope"], [-1]), "nodes[1].scope[0]: -1 is less than 0"),
    (_edit(["frames", 0, "kind"], "macro", BLOCK),
     'frames[0].kind: expected one of "block", "builtin", got "macro"'),
    (_edit(["frames", 0, "arguments", 1, "given"], "named", BLOCK),
     'frames[0].arguments[1].given: expected one of "positional", "keyword", '
     '"default", got "named"'),
    (_edit(["nodes", 1, "scope", 0, "kind"], "macro", BLOCK, v1=True),
     'nodes[1].scope[0].kind: expected one of "block", "builtin", got "macro"'),
    (_edit(["nodes", 1, "scope", 0], 0, BLOCK, v1=True),
     "nodes[1].scope[0]: expected object, got integer"),
]


def test_a_frame_keeps_its_kind_and_arguments_and_older_frames_still_read():
    frame = _doc(BLOCK)["frames"][0]
    assert (frame["kind"], frame["call"], frame["arguments"]) == ("block", "b(4)", [
        {"name": "c", "value": "4", "given": "positional", "default": None},
        {"name": "k", "value": "3", "given": "default", "default": "3"}])
    older = _doc(BLOCK)
    for f in older["frames"]:
        del f["kind"]
        f.pop("arguments", None)
    for doc in (older, as_v1(older)):
        (read,) = cnndsl.from_json(doc).graph.nodes[1].scope
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
    reverse: the two read the same schemas."""
    jsonschema = pytest.importorskip("jsonschema")
    structural = bool(schema.problems(data))
    version = data["version"] if data.get("version") in (1, 2) and \
        type(data["version"]) is int else 2
    by_jsonschema = not jsonschema.Draft202012Validator(schema.SCHEMAS[version]).is_valid(data)
    assert structural == by_jsonschema
