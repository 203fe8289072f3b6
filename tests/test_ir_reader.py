"""cnndsl.from_json on IR that another tool wrote or altered: each node is checked as
the compiler checks its own (cnndsl/ir/verify.py), any input however deep or large gives
a clear error (cnndsl/ir/document.py), and no mutation of a valid document makes it raise
anything but the library's errors."""

from __future__ import annotations

import copy
import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cnndsl
from cnndsl.diagnostics import CnnError, UserError

TINY = "input 1x28x28\nconv(8, 3) - relu - pool - fc(10)"
MERGE = ("block b(c) = residual(conv(c, 3) - bn - relu)\n"
         "input 3x16x16\nconv(8) as x - b(8) - concat(id | x) - aux(gap - fc(3)) - "
         "slice(0, 12) - pool - gap - dropout(0.5) - fc(10)")


def doc(src: str = TINY) -> dict:
    return json.loads(cnndsl.compile(src).to_json())


def refused(data, **kwargs) -> str:
    with pytest.raises(UserError) as e:
        cnndsl.from_json(data, **kwargs)
    assert e.value.help
    return e.value.message


def with_node(index: int, src: str = TINY, **fields) -> dict:
    data = doc(src)
    node = data["nodes"][index]
    for k, v in fields.items():
        if v is KeyError:
            del node[k]
        else:
            node[k] = v
    return data


def with_attr(index: int, name: str, value, src: str = TINY) -> dict:
    data = doc(src)
    attrs = data["nodes"][index]["attrs"]
    if value is KeyError:
        del attrs[name]
    else:
        attrs[name] = value
    return data


# ------------------------------------------------------------ each node, as the compiler
@pytest.mark.parametrize("name, value, words", [
    ("kernel", "big", "the IR's node conv1 (conv): `kernel` of conv must be a whole number, "
                      "got 'big'"),
    ("out", -3, "the IR's node conv1 (conv): `out` of conv must be positive, got -3"),
    ("out", 2.5, "`out` of conv must be a whole number"),
    ("out", True, "`out` of conv must be a whole number, got True"),
    ("out", KeyError, "the IR's node conv1 (conv): the attribute `out` is missing"),
    ("groups", 3, "the IR's node conv1 (conv)"),  # 1 input channel in 3 groups
    ("pad", "sideways", "padding must be a number, HxW, 'same', 'valid' or 'auto'"),
    ("pad", [1, 2, 3], "`pad` of conv must be P, PhxPw or top x bottom x left x right"),
    ("stride", [0, 1], "`stride` of conv must be positive, got 0"),
    ("bias", "yes", "`bias` of conv must be true or false"),
    ("strde", 2, "conv has no attribute `strde`"),
    ("bias", None, "`bias` of conv is null, which only an attribute whose default is null"),
    ("out", None, "`out` of conv is null"),
])
def test_a_wrong_attribute_names_the_node_and_the_attribute(name, value, words):
    assert words in refused(with_attr(1, name, value))


def test_an_attribute_the_operator_derives_must_have_the_value_it_derives():
    assert doc()["nodes"][3]["attrs"]["dilation"] == [1, 1]  # maxpool's, from its resolve
    message = refused(with_attr(3, "dilation", [2, 2]))
    assert "pool1 (maxpool): `dilation` of maxpool follows from its other attributes: " \
        "(1, 1), not (2, 2)" in message


def test_a_missing_attribute_with_a_plain_default_is_filled_in():
    net = cnndsl.compile(TINY)
    again = cnndsl.from_json(with_attr(1, "dilation", KeyError))
    assert again.dump_ir() == net.dump_ir()
    assert again.graph["conv1"].attrs == net.graph["conv1"].attrs


def test_values_are_normalized_as_the_compiler_normalizes_them():
    data = with_attr(1, "kernel", 3)  # an int for a pair, as the source may write it
    data["nodes"][1]["attrs"]["out"] = 8.0
    again = cnndsl.from_json(data)
    assert again.graph["conv1"].attr_map["kernel"] == (3, 3)
    assert again.graph["conv1"].attr_map["out"] == 8 and again.dump_ir() == \
        cnndsl.compile(TINY).dump_ir()


def test_an_unknown_operator_gets_a_did_you_mean():
    with pytest.raises(UserError) as e:
        cnndsl.from_json(with_node(2, op="rleu"))
    assert "the IR's node relu1 (rleu): unknown operator `rleu`" in e.value.message
    assert e.value.help == "did you mean `relu`?"
    with pytest.raises(UserError) as e:
        cnndsl.from_json(with_node(2, op="zzzzzz"))
    assert e.value.help == "`cnndsl ops` lists the operators"


def test_an_operator_is_named_by_its_own_name_not_an_alias():
    with pytest.raises(UserError) as e:
        cnndsl.from_json(with_node(3, op="pool"))
    assert "names operators by their own name: `maxpool`, not `pool`" in e.value.message
    assert e.value.help == "write `maxpool`"


@pytest.mark.parametrize("index, fields, words", [
    (2, {"inputs": []}, "relu1 (relu): relu takes 1 input, the node has 0"),
    (2, {"inputs": ["conv1", "input"]}, "relu takes 1 input, the node has 2"),
    (2, {"inputs": ["pool1"]}, "relu1 uses pool1 before it is defined"),
    (2, {"inputs": ["relu1"]}, "relu1 uses relu1 before it is defined"),
    (2, {"inputs": ["ghost"]}, "relu1 uses ghost, which is not a node"),
    (2, {"type": [8, 28, 27]}, "relu1 (relu): does not give its type 8x28x27 from "
                               "8x28x28: relu with these attributes gives 8x28x28"),
    (2, {"op": "input"}, "relu1 (input): a second `input` node"),
    (0, {"attrs": {"shape": "1x28x27"}}, 'its attributes must be {"shape": "1x28x28"}'),
    (0, {"inputs": ["conv1"]}, "input uses conv1 before it is defined"),
    (4, {"type": [1567]}, "flatten1 (flatten): does not give its type 1567"),
    (5, {"type": [11]}, "fc1 (fc): does not give its type 11 from 1568"),
])
def test_a_wrong_node_is_named(index, fields, words):
    assert words in refused(with_node(index, **fields))


def test_merges_take_any_number_of_inputs_but_not_none():
    data = doc(MERGE)
    concat = next(i for i, n in enumerate(data["nodes"]) if n["op"] == "concat")
    data["nodes"][concat]["inputs"] = []
    assert "concat takes one or more inputs, the node has 0" in refused(data)


def test_each_wrong_node_is_reported_once():
    """A node is judged on the types its inputs give (their recorded ones where they
    cannot be derived), so the nodes after a wrong one are not reported too."""
    data = doc()
    data["nodes"][1]["attrs"]["out"] = -3  # conv1
    data["nodes"][2]["type"] = [9, 28, 28]  # relu1: wrong on its own account
    message = refused(data)
    assert message.count("the IR's node") == 2
    assert "conv1 (conv): `out`" in message and "relu1 (relu): does not give" in message
    assert "pool1" not in message  # it follows from what relu1 gives, 8x28x28
    many = doc(MERGE)
    for node in many["nodes"][1:]:
        node["type"] = [7] if len(node["type"]) == 1 else [7, 7, 7]
    message = refused(many)
    assert message.count("the IR's node") == 5 and message.endswith("; ...")


BLOCKS = "block b(c) = conv(c, 3) - relu\ninput 1x8x8\nb(4) - residual(b(4)) - fc(2)"


def test_the_block_calls_are_as_the_compiler_makes_them():
    """What the emitted module's nesting relies on: a call's nodes together, one name
    one call, a path made of its named calls' names."""
    data = doc(BLOCKS)
    names = [n["name"] for n in data["nodes"]]
    assert names[:4] == ["input", "b1_conv1", "b1_relu1", "b2_conv1"]
    apart = copy.deepcopy(data)
    assert names[4] == "b2_relu1"
    apart["nodes"][4]["scope"] = apart["nodes"][1]["scope"]  # b2_relu1 now in b1's call
    apart["nodes"][4]["path"] = "b1.relu2"
    assert "b2_relu1 (relu): its call `b1` is not together" in refused(apart)
    other = copy.deepcopy(data)
    other["frames"][0]["named"] = False
    assert "b1_conv1 (conv): its call `b1` is a block's call, so it is named" in refused(other)
    moved = copy.deepcopy(data)
    moved["nodes"][1]["path"] = "conv1"
    assert "b1_conv1 (conv): its path `conv1` is not its named calls' names and its own " \
        "(b1.NAME)" in refused(moved)
    twice = copy.deepcopy(data)
    twice["nodes"][2]["path"] = "b1.conv1"
    assert "b1_relu1 (relu): its path `b1.conv1` is not unique" in refused(twice)
    renamed = copy.deepcopy(data)
    renamed["frames"].append({**renamed["frames"][0], "call": "b(5)"})
    renamed["nodes"][2]["scope"] = [len(renamed["frames"]) - 1]
    assert "b1_relu1 (relu): its call `b1` is another call than the first" in refused(renamed)


def test_the_class_count_follows_from_the_output():
    data = doc()
    data["num_classes"] = 7
    assert "num_classes is 7, but its output is 10: 10 classes" in refused(data)
    maps = doc("input 3x8x8\nconv(4)")
    maps["num_classes"] = 4
    assert "num_classes is 4, but its output is 4x8x8" in refused(maps)


def test_bindings_are_values_the_language_has():
    data = doc()
    data["bindings"] = {"N": 2**70}
    assert "parameter `N`: a number of 71 bits" in refused(data)


# ------------------------------------------------------------ any input, however deep or large
@pytest.mark.parametrize("text", ["[" * 100_000, "{\"a\": " * 100_000, "[" * 101 + "]" * 101,
                                  b"[" * 100_000])
def test_any_nesting_is_a_clear_error_not_a_recursion_error(text):
    assert "nested more than 100 deep" in refused(text)


def test_nesting_within_the_bound_but_deeper_than_any_ir_is_refused_by_the_schema():
    data = doc()
    value: list = [1]
    for _ in range(90):
        value = [value]
    data["nodes"][1]["attrs"]["out"] = value
    assert "nodes[1].attrs.out" in refused(data)
    assert "nodes[1].attrs.out" in refused(json.dumps(data))


def test_a_deep_or_cyclic_dict_from_python_is_refused_without_recursing():
    deep: dict = {"format": "cnndsl-ir"}
    for _ in range(10_000):
        deep = {"x": deep}
    assert "nested more than 100 deep" in refused(deep)
    cyclic = doc()
    cyclic["nodes"][1]["attrs"]["self"] = cyclic
    assert "nested more than 100 deep" in refused(cyclic)


def test_brackets_inside_strings_do_not_count_as_nesting():
    data = doc()
    data["source_name"] = "[" * 500 + '"\\' + "{" * 500
    assert cnndsl.from_json(json.dumps(data)).source_name == data["source_name"]


def test_the_size_and_node_count_are_bounded_by_the_limits():
    text = cnndsl.compile("resnet18").to_json()
    message = refused(text, limits={"source_bytes": 10_000})
    assert f"the IR is {len(text):,} characters, more than the limit of 10,000" in message
    assert cnndsl.from_json(text, limits={"source_bytes": len(text)}).name == "resnet18"
    assert "the IR has 69 nodes, more than the limit of 50" in refused(
        json.loads(text), limits={"nodes": 50})
    huge = doc("input 3x8x8\nconv(4)")
    huge["nodes"][1]["type"] = [4, 100_000, 100_000]
    assert "more than the limit of" in refused(huge) and "elements" in refused(huge)
    assert "parameters" in refused(doc("input 3x8x8\nfc(100)"), limits={"params": 1000})


def test_text_and_bytes_read_alike_and_nan_is_not_json():
    text = cnndsl.compile(TINY).to_json()
    assert cnndsl.from_json(text.encode()).dump_ir() == cnndsl.from_json(text).dump_ir()
    assert cnndsl.from_json(text.encode("utf-16")).name == "network"
    assert "not JSON: Infinity is not a JSON number" in refused(
        text.replace('"out": 8', '"out": Infinity'))
    data = doc()
    data["nodes"][1]["attrs"]["out"] = math.nan  # a dict from Python may hold one
    assert "nodes[1].attrs.out: nan is not an attribute value" in refused(data)


# ------------------------------------------------------------ the old spellings
def test_the_old_names_of_a_node_attribute_map_and_the_graph_bindings_warn():
    net = cnndsl.compile("network n(w=4):\n  input 1x8x8\n  conv(w) - fc(2)", bindings={"w": 6})
    conv = net.graph["conv1"]
    assert conv.attr_map == dict(conv.attrs) and conv.attr_map is conv.attr_map
    with pytest.warns(DeprecationWarning, match="`Node.a` is deprecated: use `Node.attr_map`"):
        assert conv.a is conv.attr_map
    assert net.graph.bindings == {"w": 6}
    with pytest.warns(DeprecationWarning, match="`Graph.params` is deprecated"):
        assert net.graph.params == {"w": 6}


# ------------------------------------------------------------ mutations never crash it
BASES = [doc(TINY), doc(MERGE), doc("block b(c, k=3) = conv(c, k) - relu\ninput 1x8x8\nb(4) - b(2)"),
         doc("input 32\nfc(16) - relu - fc(4) - softmax")]
ODD = [None, True, False, 0, -1, 1, 3, 2**63, 2**70, 1.5, -0.0, 1e308, "", "x", "conv", "relu1",
       "input", "3x3", "same", [], [0], [1, 1], [3, 3], [1, 2, 3], ["conv1"], [[1]], {},
       {"a": 1}, {"file": "f", "line": 1, "column": 1, "end_line": 1, "end_column": 2}]


def _paths(value, here=()):
    """Every place in a document: (path to the container, key)."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield here, k
            yield from _paths(v, here + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield here, i
            yield from _paths(v, here + (i,))


def _nudge(v, draw_int: int):
    """A value near ``v`` of its own kind."""
    if isinstance(v, bool):
        return not v
    if isinstance(v, int):
        return v + (draw_int % 5) - 2
    if isinstance(v, float):
        return v * (draw_int % 4) - 0.5
    if isinstance(v, str):
        return v[: draw_int % (len(v) + 1)] + ("1" if draw_int % 2 else "")
    if isinstance(v, list):
        return v + v[:1] if draw_int % 2 else v[1:]
    if isinstance(v, dict):
        return {k: x for i, (k, x) in enumerate(v.items()) if i != draw_int % max(len(v), 1)}
    return v


@st.composite
def mutated(draw):
    data = copy.deepcopy(draw(st.sampled_from(BASES)))
    for _ in range(draw(st.integers(1, 3))):
        places = list(_paths(data))
        where, key = places[draw(st.integers(0, len(places) - 1))]
        target = data
        for step in where:
            target = target[step]
        action = draw(st.sampled_from(["delete", "swap", "nudge", "nudge"]))
        if action == "delete":
            del target[key]
        elif action == "swap":
            target[key] = copy.deepcopy(draw(st.sampled_from(ODD)))
        else:
            target[key] = _nudge(target[key], draw(st.integers(0, 1000)))
    return data


@settings(max_examples=400, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(mutated(), st.booleans())
def test_a_mutated_document_is_read_or_refused_never_a_python_error(data, as_text):
    try:
        net = cnndsl.from_json(json.dumps(data) if as_text else data)
    except (UserError, CnnError):
        return
    # accepted: it is a network every view can read
    assert net.to_json() and net.dump_ir()
    assert net.summary().params == net.params_count
    assert "class " in net.to_python()
    assert "digraph" in net.to_dot()
