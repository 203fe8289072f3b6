"""Checked = built for names: any name a program can hold becomes an identifier that
cannot clash, and the allow-list refuses generated text that steps outside it."""

from __future__ import annotations

import dataclasses

import pytest

import cnndsl
from cnndsl.backends import codecheck
from cnndsl.backends.pynames import RESERVED, Namespace, identifier
from cnndsl.backends.torch_source import UnsafeValue, emit
from cnndsl.ir.graph import Graph

from ..conftest import needs_torch


def built_params(net) -> int:
    return sum(p.numel() for p in net.to_torch().parameters())


HOSTILE_NAMES = ["f", "F", "torch", "nn", "math", "self", "x", "identity", "None", "True",
                 "print", "super", "forward", "training", "build", "INPUT_SHAPE", "½",
                 "é", "中", "__init__", "_x", "Conv2d", "in_channels", "type"]


@needs_torch
@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_a_block_of_any_name_builds_the_checked_module(name):
    """A block named like a module, keyword, builtin, nn.Module attribute or in another
    script, with a parameter of the same name, called twice with different widths."""
    param = name if name.isidentifier() and not name.startswith("_") else "c"
    text = (f"block {name}({param}) = conv({param}, 3) - bn - relu\n"
            f"input 3x8x8\n{name}(4) - {name}(6) - {name}(6) - gap - fc(3)")
    try:
        net = cnndsl.loads(text)
    except cnndsl.CnnError as e:  # a name the language reserves (a built-in layer)
        assert e.diagnostics[0].code in ("E0405", "E0001", "E0002"), e
        return
    assert built_params(net) == net.params_count
    codecheck.check(net.to_python())


@needs_torch
def test_names_equal_under_nfkc_are_one_name():
    with pytest.raises(cnndsl.CnnError) as e:
        cnndsl.loads("block b = conv(4)\nblock ｂ = conv(8)\ninput 3x8x8\nb - ｂ")
    assert [d.code for d in e.value.diagnostics] == ["E0405"]
    net = cnndsl.loads("block ｂ(ｃ) = conv(c)\ninput 3x8x8\nb(4) - gap - fc(2)")
    assert built_params(net) == net.params_count == 4 * 27 + 4 + 4 * 2 + 2


@needs_torch
def test_the_unet_decoder_block_builds_what_was_checked():
    """A block that takes a named tensor (the skip connection) once reused an attribute
    name: the built module had fewer parameters than the summary and failed at forward."""
    import torch
    net = cnndsl.loads(
        "block double(c) = conv(c, 3) - bn - relu - conv(c, 3) - bn - relu\n"
        "block up(c, skip) = deconv(c, 2, stride=2) - concat(skip | id) - double(c)\n"
        "network unet:\n    input 1x32x32\n"
        "    double(8) as e1 - maxpool - double(16) as e2 - maxpool - double(32)\n"
        "    up(16, e2) - up(8, e1) - conv(2, 1)\n")
    model = net.to_torch()
    assert sum(p.numel() for p in model.parameters()) == net.params_count == 29_650
    assert tuple(model(torch.zeros(2, 1, 32, 32)).shape) == (2, 2, 32, 32)
    assert set(net.module_paths().values()) <= {n for n, _ in model.named_modules()}


@needs_torch
def test_an_inner_softmax_is_computed_and_the_trailing_one_is_the_logits():
    import torch
    net = cnndsl.loads("input 3x8x8\nconv(8) as a - mul(a | gap - fc(8) - softmax) - conv(4)",
                       bindings={"classes": 1000})
    assert [n.attr_map for n in net.graph if n.op == "softmax"] == [{"head": False}]
    model = net.to_torch().eval()
    x = torch.randn(2, 3, 8, 8)
    conv1, fc1 = model.conv1, model.fc1
    a = conv1(x)
    w = torch.softmax(fc1(a.mean((2, 3))), 1)
    expect = model.conv2(a * w[:, :, None, None])
    assert torch.allclose(model(x), expect, atol=1e-6)
    head = cnndsl.loads("input 3x8x8\nconv(8) - gap - fc(5) - softmax")
    assert [n.attr_map for n in head.graph if n.op == "softmax"] == [{"head": True}]
    m = head.to_torch().eval()
    assert torch.allclose(m(x), m.fc1(m.gap1(m.conv1(x))))  # logits


def test_identifiers_are_ascii_and_never_reserved():
    ns = Namespace(RESERVED)
    made = [ns.claim(n) for n in HOSTILE_NAMES + HOSTILE_NAMES]
    assert len(set(made)) == len(made)
    for m in made:
        assert m.isascii() and m.isidentifier() and m not in RESERVED and not m.startswith("_")
    assert identifier("") == "x" and identifier("9lives") == "x9lives"


@pytest.mark.parametrize("snippet,why", [
    ("import os\n", "import of os"),
    ("from torch import load\n", "import from torch"),
    ("import torch\nx = torch.load('f')\n", "torch.load"),
    ("open('f', 'w')\n", "the name open"),
    ("__import__('os')\n", "the name __import__"),
    ("x = (1).__class__\n", "the attribute __class__"),
    ("for i in range(3):\n    pass\n", "For"),
    ("def f():\n    global g\n", "Global"),
    ("import torch\n@torch.no_grad\ndef f():\n    pass\n", "a decorator"),
    ("from torch import nn\nclass A(nn.Module, metaclass=type):\n    pass\n", "class A"),
    ("f = lambda: 0\n", "Lambda"),
    ("x = [i for i in range(3)]\n", "ListComp"),
    ("from torch import nn\nx = nn.modules\n", "nn.modules"),
    ("x = getattr(1, 'real')\n", "the name getattr"),
    ("x = b'bytes'\n", "a bytes constant"),
    ("try:\n    pass\nexcept Exception:\n    pass\n", "Try"),
])
def test_the_allow_list_refuses(snippet, why):
    with pytest.raises(codecheck.UnsafeCode, match=why):
        codecheck.check(snippet)


@pytest.mark.parametrize("name", ["resnet18", "densenet121", "googlenet", "inception_v3",
                                  "fractalnet", "resnet110_sd", "alphago_policy",
                                  "mobilenet_v2", "squeezenet1_0"])
def test_zoo_sources_pass_the_allow_list(name):
    codecheck.check(cnndsl.compile(name).to_python())


def test_an_ir_with_a_value_that_is_not_plain_is_not_emitted():
    """IR from elsewhere (hand-made JSON) cannot carry code in an attribute: the
    emitter refuses it by itself, even where no reader checked the graph
    (``Graph.from_json`` checks the structure only; ``cnndsl.from_json`` refuses both)."""
    graph = cnndsl.loads("input 3x8x8\nconv(4)").graph
    data = graph.to_json()
    data["nodes"][1]["attrs"]["out"] = "4); import os; ("
    with pytest.raises(UnsafeValue):
        emit(Graph.from_json(data))
    with pytest.raises(cnndsl.UserError, match="must be a whole number"):
        cnndsl.from_json(data)
    conv = dataclasses.replace(graph.nodes[1], attrs=(("out", float("inf")),
                                                      *graph.nodes[1].attrs[1:]))
    with pytest.raises(UnsafeValue):  # JSON has no infinity: a graph built in Python
        emit(dataclasses.replace(graph, nodes=(graph.nodes[0], conv)))
    data["nodes"][1]["attrs"]["out"] = float("inf")
    with pytest.raises(cnndsl.UserError, match="inf is not an attribute value"):
        Graph.from_json(data)


@needs_torch
def test_paths_that_flatten_to_one_name_stay_two_nodes():
    """``x1_y1.z1`` and ``x1.y1_z1`` both read ``x1_y1_z1``: once two nodes with one name,
    a summary of 246 parameters and a module of 358."""
    net = cnndsl.loads("block z = conv(4) - relu\nblock x1_y = z - bn\n"
                       "block y1_z = conv(6) - relu\nblock x = y1_z - bn\n"
                       "input 3x8x8\nx1_y - x")
    assert net.graph.lint() == []
    assert built_params(net) == net.params_count == (4 * 27 + 4) + 8 + (6 * 36 + 6) + 12
