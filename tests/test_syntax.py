"""The grammar accepts every notation of DESIGN.md and reports slips with codes."""

import pytest

import cnndsl
from cnndsl.diagnostics import CnnError
from cnndsl.syntax import ast

NOTATIONS = {
    "general form": ("[(CONV-RELU)*N-POOL?]*M-(FC-RELU)*K,SOFTMAX", {"N": 2, "M": 3, "K": 1}),
    "lenet slides": ("[CONV-POOL-CONV-POOL-FC-FC]", {}),
    "arrows": ("CONV → POOL → CONV → POOL → FC → FC", {}),
    "ascii arrows": ("CONV -> POOL -> CONV -> POOL -> FC -> FC", {}),
    "vgg paper": ("conv3-64 - conv3-64 - maxpool - conv3-128 - conv3-128 - maxpool - "
                  "FC-4096 - FC-4096 - FC-1000 - soft-max", {}),
    "alexnet call form": ("input 3x227x227\nconv(96, 11, stride=4, pad=0) - relu - "
                          "maxpool(3, stride=2) - lrn - conv(256, 5, pad=2)", {}),
    "resnet34 design": ("""
block basic(c, stride=1) = residual(conv(c, 3, stride) - bn - relu - conv(c, 3) - bn) - relu
block stage(c, n, stride=2) = basic(c, stride) - basic(c)*(n-1)

network resnet34(classes=1000):
    input 3x224x224
    conv(64, 7, stride=2, pad=3) - bn - relu - maxpool(3, stride=2, pad=1)
    stage(64, 3, stride=1) - stage(128, 4) - stage(256, 6) - stage(512, 3)
    gap - fc(classes)
""", {}),
    "case insensitive": ("Conv - ReLU - MAXPOOL - Fc(10)", {}),
    "comments and blank lines": ("# a net\n\nconv # first\n  # between\n- relu\n", {}),
    "multi-line call": ("conv(16,\n     3,\n     stride=1) -\n  relu\n  -> pool", {}),
}


@pytest.mark.parametrize("name", sorted(NOTATIONS))
def test_notation_compiles(name):
    src, params = NOTATIONS[name]
    net = cnndsl.compile(src, bindings=params)
    assert len(net.graph) > 1
    assert not net.graph.lint()


def test_spans_point_at_source():
    prog = cnndsl.parse("input 3x8x8\nconv(8, 3) - relu")
    chain = prog.network.body[1].value
    assert isinstance(chain, ast.Seq)
    conv = chain.items[0]
    assert (conv.span.line, conv.span.col, conv.span.end_col) == (2, 1, 11)
    assert conv.text == "conv(8, 3)"


def test_vgg_tokens():
    chain = cnndsl.parse("conv3-64 - FC-4096 - soft-max").network.body[0].value
    assert isinstance(chain.items[0], ast.VggConv) and chain.items[0].width == 64
    assert isinstance(chain.items[1], ast.VggFc) and chain.items[1].width == 4096
    assert chain.items[2].id == "softmax"


@pytest.mark.parametrize("src, code, line, col", [
    ("conv relu", "E0004", 1, 6),
    ("conv(3", "E0003", 1, 5),
    ("conv(3))", "E0006", 1, 8),
    ("conv;relu", "E0002", 1, 5),
    ("conv - \n", "E0005", 1, None),
    ("conv(16,\n3\n\nrelu", "E0003", 1, 5),
    ("input 3x8x8\nconv - (relu]", "E0006", 2, 13),
])
def test_syntax_errors_are_coded(src, code, line, col):
    with pytest.raises(CnnError) as e:
        cnndsl.parse(src)
    d = e.value.diagnostics[0]
    assert d.code == code
    assert d.span.line == line
    if col is not None:
        assert d.span.col == col
