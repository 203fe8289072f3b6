"""PyTorch emission as values: every operator's ``torch_module`` returns a Ctor, which is
rendered in one place, compared by value to make shared classes, and refuses anything
but plain values; text from plugins is still read (deprecated), to the same file."""

from __future__ import annotations

import ast
import dataclasses
import warnings
from pathlib import Path

import pytest

import cnndsl
from cnndsl import ops, plugins
from cnndsl.backends import codecheck
from cnndsl.backends.torch_classes import _numbers
from cnndsl.backends.torch_source import UnsafeValue
from cnndsl.backends.torch_tree import Scopes
from cnndsl.ops.ctor import Ctor, render

ROOT = Path(__file__).resolve().parent.parent

# Between them these use every built-in operator that has a module.
EVERY_MODULE = [
    "input 16x32x32\nconv(32, 3, groups=4) - bn - relu - conv(32, 3, dilation=2, pad=2, "
    "groups=32, bias=false) - bn(eps=1e-3, momentum=0.01, affine=false) - relu6 - "
    "conv(8, 4, stride=2, pad=same) - prelu - leakyrelu(0.2) - elu - tanh - sigmoid - gelu - "
    "silu - hardswish - hardsigmoid - maxpool(3, stride=2, pad=1, ceil_mode=true) - "
    "avgpool(3, stride=1, pad=1, count_include_pad=false) - deconv(8, 3, stride=2, pad=1, "
    "output_pad=1) - upsample(2, mode=bilinear) - zeropad(1x2x0x1) - shuffle(2) - lrn - "
    "groupnorm(4) - layernorm - layerscale - droppath(0.1) - posbias - adaptiveavgpool(2x2) "
    "- dropout(0.3) - flatten - fc(12, bias=false) - layernorm - groupsoftmax(3) - fc(5)",
    "input 8x8x8\nconcat(gap | gmp)",
]


def _ctors(net) -> list:
    out, todo = [], [Scopes(net.graph).root]
    while todo:
        inst = todo.pop()
        out += [ctor for _, ctor, child in inst.init if child is None]
        todo += inst.children
    return out


def test_every_operator_emits_a_constructor_value():
    seen = set()
    for src in EVERY_MODULE:
        net = cnndsl.compile(src)
        ctors = _ctors(net)
        assert ctors and all(isinstance(c, Ctor) for c in ctors)
        seen |= {n.op for n in net.graph.nodes}
    with_module = {op.name for op in ops.all_ops()
                   if op.torch_module is not None and op.torch_call is None}
    assert with_module - {"identity", "softmax", "slice", "scale", "shortcut_pad",
                          "groupsoftmax"} <= seen


@pytest.mark.parametrize("text", [
    "nn.Conv2d(3, 64, kernel_size=(3, 1), stride=2, padding=(1, 0), bias=False)",
    "nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())",
    "nn.Upsample(scale_factor=2, mode='bilinear', align_corners=False)",
    "LayerScale(-0.5, 64, 1, 1)", "nn.BatchNorm2d(8, eps=1e-05, momentum=0.01)",
    "nn.ZeroPad2d((1, 2, 0, 1))", "Foo((1,), x=())", "nn.ReLU(inplace=True)",
])
def test_text_parses_to_a_value_that_renders_it_again(text):
    assert render(Ctor.parse(text)) == text


@pytest.mark.parametrize("make, why", [
    (lambda: Ctor("os.system('x') or nn.ReLU"), "not a (dotted) identifier"),
    (lambda: Ctor("nn.Dropout", (float("inf"),)), "not a finite number"),
    (lambda: Ctor("nn.Upsample", kwargs=(("mode", "a'); import os; ('"),)), "not a short word"),
    (lambda: Ctor("nn.Linear", [3, 4]), "args must be a tuple"),
    (lambda: Ctor("nn.Linear", (3,), (("bad key", 1),)), "keywords must be"),
    (lambda: Ctor("nn.Linear", (object(),)), "is not a number"),
    (lambda: Ctor.parse("nn.Linear(3, open('x').read())"), "not a literal argument"),
    (lambda: Ctor.parse("3 + 4"), "not a literal argument"),
    (lambda: Ctor.parse("nn.Linear(*xs)"), "not a literal argument"),
])
def test_a_constructor_holds_plain_values_only(make, why):
    with pytest.raises(ValueError, match=why.replace("(", r"\(").replace(")", r"\)")):
        make()


def test_numbers_are_compared_as_values_with_roles():
    ctor = Ctor("nn.Conv2d", (8, 16), (("kernel_size", (3, 1)), ("groups", 2), ("bias", False)))
    assert _numbers(ctor) == ([8, 16, 3, 1, 2], ["in", "out", "kernel_size", "kernel_size",
                                                 "groups"])
    text = cnndsl.compile("""block m(c, s=1) = conv(2 * c, 1) - conv(c // 2, 3, s) - conv(c, 1)
input 8x16x16
m(8) - m(16, 2) - m(32) - gap - fc(10)""").to_python()
    assert "self.conv1 = nn.Conv2d(in_channels, 2 * c, kernel_size=1)" in text
    # stride=1 spelled out (a default the constructor declares) so the calls share a class
    assert "self.conv2 = nn.Conv2d(2 * c, c // 2, kernel_size=3, stride=s, padding=1)" in text
    assert "self.m2 = M(in_channels=8, c=16, s=2)" in text


def _old_style(op: ops.OpDef) -> ops.OpDef:
    """The operator with its emission as text, as plugins wrote it before Ctor."""
    module = op.torch_module
    return dataclasses.replace(op, torch_module=lambda a, ins, out: str(module(a, ins, out)))


def test_a_plugin_returning_text_emits_the_same_file_with_a_deprecation(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "examples" / "plugin_coordconv"))
    from cnndsl_coordconv.op import COORDCONV
    src = ("block cc(c, s=1) = coordconv(c, 3, stride=s) - relu\ninput 1x16x16\n"
           "cc(8) - cc(16, 2) - cc(16) - coordconv(4, (3, 1), stride=(2, 1)) - gap - fc(10)")
    with plugins.registered(COORDCONV):
        want = cnndsl.compile(src).to_python()
    assert "self.coordconv1 = CoordConv(in_channels, c, kernel_size=3, padding=1)" in want
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with plugins.registered(_old_style(COORDCONV)):
            assert cnndsl.compile(src).to_python() == want
    assert any(w.category is DeprecationWarning and "return a cnndsl.ops.Ctor" in
               str(w.message) for w in caught)


def test_text_a_constructor_cannot_hold_is_refused_and_names_meet_the_allow_list():
    def sneaky(text: str) -> ops.OpDef:
        return ops.OpDef(name="sneaky", family="act", doc="", infer=lambda a, ins: ins[0],
                         torch_module=lambda a, ins, out: text)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with plugins.registered(sneaky("nn.Identity(os.environ['HOME'])")):
            with pytest.raises(UnsafeValue, match="not a literal argument"):
                cnndsl.compile("input 4\nsneaky").to_python()
        # a call of any name is a constructor's form; the allow-list decides the names
        with plugins.registered(sneaky("nn.Identity(__import__('os'))")):
            net = cnndsl.compile("input 4\nsneaky")
            assert "self.sneaky1 = nn.Identity(__import__('os'))" in net.to_python()
            with pytest.raises(codecheck.UnsafeCode):
                net.to_torch()


@pytest.mark.parametrize("module", ["torch_tree", "torch_classes", "torch_render"])
def test_the_backend_reads_no_constructor_back_from_text(module):
    tree = ast.parse((ROOT / "cnndsl" / "backends" / f"{module}.py").read_text())
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert "re" not in imported
