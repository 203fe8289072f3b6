"""The constructs modern architectures need: channel slices, layer norm over channels,
layer scale, softmax across branches, layer shortcuts, several outputs, tests in
expressions and conditional branches; and the diagnostics around them."""

from __future__ import annotations

import re

import pytest

import cnndsl
from cnndsl.diagnostics import CnnError

from .conftest import needs_torch


def codes(src: str, **kw) -> list[str]:
    try:
        return [d.code for d in cnndsl.compile(src, **kw).diagnostics]
    except CnnError as e:
        return [d.code for d in e.diagnostics]


def error(src: str):
    with pytest.raises(CnnError) as e:
        cnndsl.compile(src)
    return e.value.diagnostics[0]


# ---------------------------------------------------------------- channel slices
def test_a_channel_split_has_no_parameters_and_exact_shapes():
    net = cnndsl.compile("input 16x8x8\nconcat(chunk(0, 2) | chunk(1, 2) - conv(8, 1)) - "
                         "shuffle(2)")
    assert net.params_count == 8 * 8 + 8 and net.output_shape == (16, 8, 8)
    slices = [n for n in net.graph.nodes if n.op == "slice"]
    assert [(n.attr_map["start"], n.attr_map["stop"], n.type.dims[0]) for n in slices] == [(0, 8, 8),
                                                                            (8, 16, 8)]
    assert all(net.cost.nodes[n.name].params.total == 0 for n in slices)


def test_chunk_cuts_like_torch_chunk_and_slice_works_on_vectors():
    net = cnndsl.compile("input 10x4x4\nconcat(chunk(0, 3) | chunk(1, 3) | chunk(2, 3) - relu)")
    assert [n.type.dims[0] for n in net.graph.nodes if n.op == "slice"] == [4, 4, 2]
    assert cnndsl.compile("input 12\nslice(3, 7)").output_shape == (4,)
    assert cnndsl.compile("input 12\nslice(3)").output_shape == (9,)  # stop: all


@pytest.mark.parametrize("src, where", [
    ("input 8x4x4\nslice(4, 12)", "are not a slice of the input's 8"),
    ("input 8x4x4\nslice(5, 5)", "5:5"),
])
def test_a_slice_outside_the_channels_is_an_error(src, where):
    d = error(src)
    assert d.code == "E0105" and where in d.message and d.span.line == 2


# ---------------------------------------------------------------- norms, scales, softmax
def test_layer_norm_and_layer_scale_count_per_channel():
    net = cnndsl.compile("input 24x7x7\nlayernorm(eps=1e-6) - layerscale - gap - layernorm")
    c = net.cost.nodes
    assert c["layernorm1"].params.total == 48 and c["layernorm1"].params.buffers == 0
    assert c["layerscale1"].params.weights == 24 and c["layernorm2"].params.total == 48
    assert net.cost.macs == 0 and net.cost.macs_by_kind["norm"] == 5 * 24 * 49 + 5 * 24


@needs_torch
def test_layer_norm_is_torchvisions_layernorm2d_and_layer_scale_starts_at_init():
    import torch
    from torch.nn import functional as F
    net = cnndsl.compile("input 6x5x5\nlayernorm(eps=1e-6) - layerscale(0.5)")
    model = net.to_torch().eval()
    with torch.no_grad():
        model.layernorm1.weight.uniform_(0.5, 1.5)
        model.layernorm1.bias.uniform_(-0.1, 0.1)
    x = torch.randn(2, 6, 5, 5)
    ln = model.layernorm1
    want = F.layer_norm(x.permute(0, 2, 3, 1), (6,), ln.weight, ln.bias, 1e-6).permute(0, 3, 1, 2)
    with torch.no_grad():
        assert torch.allclose(model(x), want * 0.5, atol=1e-6)
    assert tuple(model.layerscale1.weight.shape) == (6, 1, 1)


@needs_torch
def test_softmax_across_three_branches_weighs_each_channel_against_its_counterparts():
    import torch
    net = cnndsl.compile("input 12\ngroupsoftmax(3)")
    x = torch.randn(2, 12)
    want = torch.softmax(x.reshape(2, 3, 4), 1).reshape(2, 12)
    assert torch.allclose(net.to_torch()(x), want, atol=1e-6)
    assert error("input 10\ngroupsoftmax(3)").code == "E0303"


SK_SOURCE = """block sk(c, n=2):
    id as x
    x - conv(c, 3, bias=false) - bn - relu as a
    x - conv(c, 3, dilation=2, pad=2, bias=false) - bn - relu as b
    x - conv(c, 3, dilation=3, pad=3, bias=false) - bn - relu as d
    add(a | b | d) - gap - fc(c // 4) - relu - concat(fc(c) | fc(c) | fc(c)) - groupsoftmax(3) as w
    add(mul(a | w - slice(0, c)) | mul(b | w - slice(c, 2 * c)) | mul(d | w - slice(2 * c, 3 * c)))
network sknet:
    input 8x6x6
    sk(8)
"""


@needs_torch
def test_a_three_branch_selective_kernel_block_equals_a_hand_written_one():
    import torch
    from torch import nn
    net = cnndsl.compile(SK_SOURCE)
    model = net.to_torch().eval()

    class SK(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.paths = nn.ModuleList(nn.Sequential(
                nn.Conv2d(c, c, 3, padding=d, dilation=d, bias=False), nn.BatchNorm2d(c),
                nn.ReLU()) for d in (1, 2, 3))
            self.squeeze = nn.Linear(c, c // 4)
            self.heads = nn.ModuleList(nn.Linear(c // 4, c) for _ in range(3))

        def forward(self, x):
            feats = [p(x) for p in self.paths]
            z = torch.relu(self.squeeze(sum(feats).mean((2, 3))))
            w = torch.softmax(torch.stack([h(z) for h in self.heads]), 0)
            return sum(f * a[:, :, None, None] for f, a in zip(feats, w))

    ref = SK(8).eval()
    assert net.params_count == sum(p.numel() for p in ref.parameters())
    cnndsl.port_weights(ref, model)
    x = torch.randn(2, 8, 6, 6)
    with torch.no_grad():
        assert torch.allclose(model(x), ref(x), atol=1e-5)


# ---------------------------------------------------------------- residual shortcuts
def test_a_layer_shortcut_replaces_the_projection_where_the_shape_changes():
    src = "input 8x8x8\nresidual(conv(16, 3, 2, bias=false) - bn, shortcut=avgpool(2) - " \
          "conv(16, 1, bias=false) - bn) - residual(conv(16, 3) - bn, shortcut=avgpool(2))"
    net = cnndsl.compile(src)
    ops = [n.op for n in net.graph.nodes]
    assert ops.count("avgpool") == 1  # the second body keeps the shape: identity there
    assert net.params_count == 8 * 16 * 9 + 32 + 8 * 16 + 32 + 16 * 16 * 9 + 16 + 32
    assert net.warnings == []  # the 2x2 pool's half-pixel offset is deliberate
    d = error("input 8x8x8\nresidual(conv(16, 3, 2) - bn, shortcut=conv(16, 1))")
    assert d.code == "E0307" and "16x8x8 where the body gives 16x4x4" in d.message


def test_shortcut_first_emits_the_projection_before_the_body():
    body = "input 8x8x8\nresidual(conv(16, 3, 2, bias=false) - bn, shortcut=proj{})"
    late, early = (cnndsl.compile(body.format(x)) for x in ("", ", shortcut_first=true"))
    assert [n.op for n in late.graph.nodes][1:3] == ["conv", "bn"]
    assert [n.name for n in early.graph.nodes][1:3] == ["downsample1", "downsample_bn1"]
    assert early.params_count == late.params_count
    assert early.to_python().index("self.downsample1 =") < early.to_python().index("self.conv1 =")


@pytest.mark.parametrize("value", ["3", "foo"])
def test_a_shortcut_that_is_neither_a_kind_nor_layers_is_an_error(value):
    d = error(f"input 8x8x8\nresidual(conv(16, 3, 2) - bn, shortcut={value})")
    assert d.code == "E0105" and "shortcut must be proj (B), pad (A)" in d.message


# ---------------------------------------------------------------- tests and conditions
@pytest.mark.parametrize("test, want", [
    ("s > 1 and c != 8", 2), ("s >= 1 and not c < 8", 4), ("act == relu", 4),
    ("act == gelu or s == 2", 2), ("c % 3 == 2", 4), ("not (s <= 0)", 4),
])
def test_comparisons_and_boolean_operators(test, want):
    net = cnndsl.compile(f"network n(s=1, c=8, act=relu):\n  input 8x8x8\n  "
                         f"conv(if({test}, 4, 2), 1)")
    assert net.output_shape == (want, 8, 8)


def test_a_misspelt_name_in_a_test_is_an_error_not_false():
    d = error("network n(stride=1):\n  input 8x8x8\n  conv(if(strid == 1, 4, 2), 1)")
    assert d.code == "E0201" and "`strid`" in d.message


def test_a_test_between_layers_says_where_tests_belong():
    assert error("input 8x8x8\nconv(4) < conv(2)").code == "E0107"
    assert error("input 8x8x8\nnot conv(4)").code == "E0107"


UNIT = "block unit(c, s=1) = add(conv(c, 3, s) - bn | if(s > 1 or in_c != c, " \
       "conv(c, 1, s, bias=false) - bn) | if(s == 1 and in_c == c, id))\n"


def test_a_merge_branch_present_only_under_a_condition():
    net = cnndsl.compile(UNIT + "input 8x8x8\nunit(8) - unit(16, 2)")
    adds = [n for n in net.graph.nodes if n.op == "add"]
    assert [len(n.inputs) for n in adds] == [2, 2]
    assert net.params_count == (8 * 8 * 9 + 8 + 16) + (8 * 16 * 9 + 16 + 32 + 8 * 16 + 32)
    d = error("input 8x8x8\nadd(if(0, conv(8)) | if(1 < 0, id))")
    assert d.code == "E0103" and "every branch" in d.message


def test_if_without_otherwise_outside_a_merge_is_the_identity():
    assert cnndsl.compile("input 8x4x4\nif(0, conv(4))").output_shape == (8, 4, 4)
    assert cnndsl.compile("input 8x4x4\nif(1, conv(4))").output_shape == (4, 4, 4)


# ---------------------------------------------------------------- several outputs
FUSE = """block fuse(c):
    conv(c, 3) as hi
    hi - conv(2 * c, 3, 2) as lo
network n:
    input 8x16x16
    fuse(8) as f
"""


def test_a_labelled_block_call_hands_its_named_tensors_to_the_caller():
    net = cnndsl.compile(FUSE + "    concat(f.hi | f.lo - upsample(2) - conv(8, 1)) - gap - fc(10)")
    cat = next(n for n in net.graph.nodes if n.op == "concat")
    assert cat.inputs[0] == "fuse1_conv1" and net.graph[cat.inputs[1]].op == "conv"
    assert net.params_count == 584 + 1168 + 136 + 170


@pytest.mark.parametrize("use, message, help", [
    ("concat(f.hi | f.mid)", "`f` has no tensor named `mid`", "its tensors: hi, lo"),
    ("concat(hi | f.lo)", "`hi` is named inside block `fuse`", "`b.hi`"),
    ("concat(g.hi | f.lo)", "`g` has no tensor named `hi`", "as g`, then `g.NAME`"),
])
def test_a_name_that_is_not_visible_says_how_to_see_it(use, message, help):
    d = error(FUSE + f"    {use}")
    assert d.code == "E0101" and message in d.message and help in d.help


# ---------------------------------------------------------------- the slides' forms
def test_the_cs231n_input_form_compiles_to_the_slides_network():
    net = cnndsl.compile("INPUT -> [[CONV -> RELU]*2 -> POOL]*3 -> [FC -> RELU]*2 -> FC")
    ops = [n.op for n in net.graph.nodes]
    assert ops.count("conv") == 6 and ops.count("maxpool") == 3 and ops.count("fc") == 3
    assert net.input_shape == (3, 32, 32) and net.output_shape == (10,)
    assert [net.graph[f"fc{i}"].type.dims for i in (1, 2, 3)] == [(128,), (128,), (10,)]
    assert {d.code for d in net.diagnostics} == {"N0001", "N0402"}
    shaped = cnndsl.compile("INPUT 1x28x28 -> CONV -> RELU -> POOL -> FC")
    assert shaped.input_shape == (1, 28, 28) and shaped.output_shape == (10,)


def test_a_channels_last_input_warns_with_the_fix():
    net = cnndsl.compile("input 32x32x3\nconv(8) - gap - fc(10)")
    (d,) = net.warnings
    assert d.code == "W0501" and d.help == "shapes are channels first: write input 3x32x32"
    assert codes("input 3x32x32\nconv(8)") == [] and codes("input 4x4x4\nconv(8)") == []


def test_keras_spellings():
    net = cnndsl.compile("input 3x32x32\nConv2D(32, (3,3), padding='valid') - relu - "
                         "MaxPooling2D((2, 2)) - Flatten - Dense(10)")
    assert net.graph["conv1"].type.dims == (32, 30, 30) and net.output_shape == (10,)
    assert net.params_count == 896 + 32 * 15 * 15 * 10 + 10
    dense = cnndsl.compile("input 3x32x32\nconv(16) - dense(2, 12) - gap - dense(units=10)")
    assert [n.op for n in dense.graph.nodes].count("fc") == 1  # DenseNet's block, then Dense
    assert dense.output_shape == (10,)


def test_w0301_shows_exact_arithmetic():
    (d,) = cnndsl.compile("input 3x224x224\nconv(10, 3, stride=2, pad=0)").warnings
    assert d.label.startswith("(224 - 3 + 2*0)/2 + 1 = 111.5;")
    (d,) = cnndsl.compile("input 3x7x7\nconv(10, 3, stride=3, pad=0)").warnings
    assert d.label.startswith("(7 - 3 + 2*0)/3 + 1 = 2.333... (7/3);")


def test_drop_path_outside_a_residual_branch_warns():
    (d,) = cnndsl.compile("input 3x32x32\nconv(8) - droppath(0.2) - gap - fc(10)").warnings
    assert d.code == "W0702" and (d.span.line, d.span.col) == (2, 11)
    assert codes("input 8x8x8\nresidual(conv(8) - bn - droppath(0.2) - scale(0.5))") == []
    assert codes("input 8x8x8\nadd(id | conv(8) - droppath(0.1))") == []
    assert "W0702" in codes("input 8x8x8\nconcat(id | conv(8) - droppath(0.1))")


def test_the_language_pages_new_examples_compile():
    from pathlib import Path
    doc = (Path(__file__).resolve().parent.parent / "docs" / "language.md").read_text()
    blocks = [b for b in re.split(r"```\w*\n?", doc) if "block fuse" in b or "block sk" in b
              or "network toy" in b]
    assert len(blocks) == 3
    for text in blocks:
        program = text if "network" in text else text + "network n:\n    input 16x8x8\n    sk(16)\n"
        assert cnndsl.compile(program).warnings == []


def test_family_classes_are_named_by_what_tells_them_apart():
    import re
    classes = {n: re.findall(r"^class (\w+)", cnndsl.compile(n).to_python(), re.M)
               for n in ("resnet18", "regnet_y_400mf", "convnext_tiny")}
    assert classes["resnet18"][:3] == ["Stem", "Basic", "BasicDownsample"]
    assert classes["regnet_y_400mf"][:2] == ["XblockDownsample", "Xblock"]
    assert classes["convnext_tiny"][:4] == ["LayerNorm2d", "LayerScale", "DropPath", "Cnblock"]


# ---------------------------------------------------------------- hostile corners
def test_shortcut_first_refuses_a_shortcut_that_reads_the_body():
    d = error("input 8x16x16\nresidual(conv(16) as t - bn, shortcut=t - conv(16, 1), "
              "shortcut_first=true)")
    assert d.code == "E0105" and "reads a tensor the body computes" in d.message
    assert error("input 8x8x8\nresidual(conv(16, 3, 2) - bn, shortcut_first='no')").code \
        == "E0104"


@pytest.mark.parametrize("classes, code", [(-3, "E0105"), (0, "E0105"), ("ab", "E0104"),
                                           (2.5, "E0104")])
def test_the_classifier_width_of_a_bare_fc_is_checked(classes, code):
    with pytest.raises(CnnError) as e:
        cnndsl.compile("input 1x8x8\nconv - gap - fc", bindings={"classes": classes})
    assert [d.code for d in e.value.diagnostics] == ["N0402", code]


def test_tests_and_booleans_are_numbers_in_arithmetic():
    net = cnndsl.compile("network n(a=1, b=2):\n input 8x4x4\n conv(4 * (a < b)) - "
                         "conv(4) * (a < b) - conv(max(a < b, 2)) - conv(2 - (a > b)) - "
                         "conv(3 * true)")
    assert [n.type.dims[0] for n in net.graph.nodes if n.op == "conv"] == [4, 4, 2, 2, 3]
    assert cnndsl.compile("network n(a=1):\n input 3x8x8\n conv(if(a AND NOT a == 2, 4, 2))"
                          ).output_shape == (4, 8, 8)


@pytest.mark.parametrize("branch", ["if(0, conv(8))", "(if(0, conv(8)))", "[if(0, conv(8))]",
                                    "if(0, conv(8)) as z"])
def test_an_absent_branch_is_absent_in_brackets_too(branch):
    net = cnndsl.compile(f"input 8x4x4\nadd(conv(8) | {branch})")
    assert [n.op for n in net.graph.nodes] == ["input", "conv"]


def test_a_residual_around_an_absent_body_is_no_block():
    net = cnndsl.compile("input 8x4x4\nresidual(if(0, conv(8) - bn))")
    assert [n.op for n in net.graph.nodes] == ["input"]


def test_slides_input_forms_and_keywords_as_names():
    assert cnndsl.compile("INPUT 784 -> FC -> RELU -> FC").input_shape == (784,)
    d = error("block b:\n    INPUT -> conv(4)\nnetwork n:\n    input 3x8x8\n    b")
    assert d.code == "E0009"
    d = error("input 3x8x8\nconv(4) as preset")
    assert d.code == "E0001" and d.message == "`preset` is a keyword, not a name"


def test_keras_keywords():
    net = cnndsl.compile("input 3x32x32\nConv2D(8, (3,3), strides=2) - "
                         "MaxPooling2D(pool_size=(2,2))")
    assert net.output_shape == (8, 8, 8)


@pytest.mark.parametrize("alias, op", [("plus", "add"), ("sum", "add"), ("prod", "mul"),
                                       ("multiply", "mul"), ("cat", "concat"),
                                       ("concatenate", "concat"), ("average", "mean"),
                                       ("join", "mean")])
def test_every_name_of_a_merge_operator_is_the_merge(alias, op):
    """The merge built-ins take their names from the operators' one definition."""
    net = cnndsl.compile(f"input 8x4x4\nconv(8) - {alias}(id | conv(8))")
    assert [n.op for n in net.graph.nodes][-1] == op


@pytest.mark.parametrize("mode", ["valid", "auto", "same"])
def test_zeropad_takes_pixels_not_a_padding_mode(mode):
    with pytest.raises(cnndsl.CnnError) as e:
        cnndsl.compile(f"input 3x8x8\nzeropad({mode}) - conv(4)")
    d = e.value.diagnostics[0]
    assert (d.code, d.span.line) == ("E0105", 2) and f"not `{mode}`" in d.message


@needs_torch
def test_softmax_head_false_ends_a_network_as_the_channel_softmax():
    import torch
    net = cnndsl.compile("input 3x8x8\nconv(8, 3) - relu - conv(4, 1) - softmax(head=false)")
    assert [n.op for n in net.graph.nodes][-1] == "softmax" and net.output_shape == (4, 8, 8)
    assert net.params_count == 3 * 9 * 8 + 8 + 8 * 4 + 4  # no class-score fc added
    module = net.to_torch().eval()
    out = module(torch.randn(2, 3, 8, 8))
    assert torch.allclose(out.sum(dim=1), torch.ones(2, 8, 8), atol=1e-6)
    head = cnndsl.compile("input 3x8x8\nconv(8, 3) - gap - softmax(head=true)")
    assert head.output_shape == (10,) and [n.op for n in head.graph.nodes][-2] == "fc"


@pytest.mark.parametrize("source, code", [
    ("conv(4) - softmax(head=true) - relu", "E0105"),  # the classifier ends the network
    ("conv(4) - softmax(5)", "E0103"),
    ("conv(4) - softmax(head=2)", "E0105"),
])
def test_softmax_options_are_checked(source, code):
    with pytest.raises(cnndsl.CnnError) as e:
        cnndsl.compile("input 3x8x8\n" + source)
    assert [d.code for d in e.value.diagnostics if d.is_error] == [code]
