"""Branches and blocks: the generic parallel form, user blocks, named blocks, merges."""

import pytest

import cnndsl
from cnndsl.cli import main
from cnndsl.diagnostics import CnnError

NAIVE = """
input 256x28x28
concat(conv(128, 1) | conv(192, 3) | conv(96, 5) | maxpool(3, stride=1, pad=1))
"""
REDUCED = """
input 256x28x28
concat(conv(128, 1) - relu
     | conv(64, 1) - relu - conv(192, 3) - relu
     | conv(64, 1) - relu - conv(96, 5) - relu
     | maxpool(3, stride=1, pad=1) - conv(64, 1) - relu)
"""


def test_naive_inception_module():
    assert cnndsl.compile(NAIVE).output_shape == (672, 28, 28)  # the slides' Q3


def test_inception_with_reductions():
    assert cnndsl.compile(REDUCED).output_shape == (480, 28, 28)
    # the prelude's GoogLeNet module is the same thing
    net = cnndsl.compile("input 256x28x28\ninception(128, 64, 192, 64, 96, 64)")
    assert net.output_shape == (480, 28, 28)
    assert net.params_count == cnndsl.compile(REDUCED).params_count


CIFAR = 'import "lib/cifar_resnet.cnn"\ninput 3x32x32\ncifar_resnet({n}, sc={sc})'


@pytest.mark.parametrize("n, sc, params", [
    (3, "proj", 272_474), (9, "proj", 855_770), (18, "proj", 1_730_714),
    (3, "pad", 269_722), (9, "pad", 853_018), (18, "pad", 1_727_962),
])
def test_cifar_resnets(n, sc, params):
    assert cnndsl.compile(CIFAR.format(n=n, sc=sc)).params_count == params


@pytest.mark.parametrize("name, params", [
    ("resnet18", 11_689_512), ("resnet50", 25_557_032), ("resnext50_32x4d", 25_028_904),
    ("densenet121", 7_978_856), ("densenet_bc_100_12", 769_162),
])
def test_torchvision_and_paper_counts(name, params):
    assert cnndsl.compile(name).params_count == params


def test_resnet50_fits_in_15_lines():
    """ResNet-50 from its family file and the library: at most 15 statements (a long one
    wrapped by the formatter is one line of the language), the family's other presets
    left out."""
    family, _ = cnndsl.api.zoo_entry("resnet50")
    prog = cnndsl.parse(family.read_text())
    lib = cnndsl.parse(cnndsl.api.ZOO_DIR.joinpath("lib/resnet.cnn").read_text())
    statements = (len(prog.imports) + len(prog.blocks) + 1 + len(prog.network.body) + 1
                  + len(lib.blocks))
    assert statements <= 15


def test_se_block_adds_exactly_its_fc_weights_and_biases():
    plain = cnndsl.compile("resnet50")
    src = """import "lib/resnet.cnn"
block seb(c, stride=1) = residual(conv(c, 1, bias=false) - bn - relu - conv(c, 3, stride, bias=false) - bn - relu - conv(4 * c, 1, bias=false) - bn - se(16)) - relu
block layer(c, n, stride=2) = seb(c, stride) - seb(c) * (n - 1)
network seresnet50:
    input 3x224x224
    stem
    layer(64, 3, stride=1) - layer(128, 4) - layer(256, 6) - layer(512, 3)
    head(1000)"""
    se = cnndsl.compile(src)
    blocks = [(256, 3), (512, 4), (1024, 6), (2048, 3)]
    extra = sum(n * (2 * c * (c // 16) + c // 16 + c) for c, n in blocks)
    assert se.params_count - plain.params_count == extra
    assert se.params_count == 28_088_024  # timm's seresnet50


def test_grouped_and_depthwise_convolutions():
    net = cnndsl.compile("input 32x16x16\ndwconv(3, 2) - pwconv(64) - conv(64, 3, groups=4)")
    convs = [n for n in net.graph.nodes if n.op == "conv"]
    assert convs[0].attr_map["groups"] == 32 and convs[0].type.dims == (32, 8, 8)
    assert net.cost.nodes[convs[0].name].params.total == 32 * 9
    assert net.cost.nodes[convs[2].name].params.total == 64 * 16 * 9 + 64


def test_stochastic_depth_is_identity_at_eval():
    torch = pytest.importorskip("torch")
    net = cnndsl.compile("input 8x4x4\n(residual(conv(8) - droppath(0.1 * (repeat_index + 1))))*3")
    assert [n.attr_map["p"] for n in net.graph.nodes if n.op == "droppath"] == [0.1, 0.2, 0.3]
    model = net.to_torch().eval()
    x = torch.randn(2, 8, 4, 4)
    assert torch.equal(model(x), model(x))


def test_pre_activation_and_option_a_shortcuts():
    pre = cnndsl.compile("input 16x8x8\nresidual(conv(32, 3, 2), pre=bn - relu, shortcut=conv)")
    ops = [n.op for n in pre.graph.nodes]
    assert ops == ["input", "bn", "relu", "conv", "conv", "add"]
    short = pre.graph.nodes[4]
    assert short.inputs == (pre.graph.nodes[2].name,)  # from the pre-activated input
    a = cnndsl.compile("input 16x8x8\nresidual(conv(32, 3, 2), shortcut=pad)")
    assert a.params_count == 32 * 16 * 9 + 32  # option A has no parameters


def test_blocks_call_blocks_with_expressions():
    src = """
block unit(c) = conv(c, 3) - relu
block twice(c, k=2) = unit(c * k) - unit(c) * (k - 1)
input 3x8x8
twice(4) - twice(4, k=3)
"""
    net = cnndsl.compile(src)
    widths = [n.type.dims[0] for n in net.graph.nodes if n.op == "conv"]
    assert widths == [8, 4, 12, 4, 4]
    assert net.graph.nodes[-1].path.startswith("twice2.unit")


def test_multi_line_block_definition():
    src = "block pair(c):\n    conv(c)\n    relu\nnetwork n:\n    input 3x8x8\n    pair(4) - pair(8)"
    assert cnndsl.compile(src).output_shape == (8, 8, 8)


def test_import_and_cycle(tmp_path):
    (tmp_path / "a.cnn").write_text('import "b.cnn"\nblock a1 = conv(4)\n')
    (tmp_path / "b.cnn").write_text('import "a.cnn"\nblock b1 = relu\n')
    (tmp_path / "net.cnn").write_text('import "a.cnn"\ninput 3x8x8\na1 - b1')
    with pytest.raises(CnnError) as e:
        cnndsl.compile(str(tmp_path / "net.cnn"))
    assert [d.code for d in e.value.diagnostics] == ["E0404"]


def _diag(tmp_path, capsys, src):
    f = tmp_path / "net.cnn"
    f.write_text(src)
    rc = main(["check", str(f)])
    err = capsys.readouterr().err
    assert rc == 1 and "Traceback" not in err
    return err


@pytest.mark.parametrize("src, code, where", [
    ("input 3x8x8\nadd(conv(8) | conv(8, stride=2))", "E0307", "net.cnn:2:1"),
    ("input 3x8x8\nconcat(conv(8) | maxpool)", "E0306", "net.cnn:2:1"),
    ("input 3x8x8\nconv - nosuchblock(3)", "E0101", "net.cnn:2:8"),
    ("block b(c, k) = conv(c, k)\ninput 3x8x8\nb(4)", "E0401", "net.cnn:3:1"),
    ("block b(c) = conv(c)\ninput 3x8x8\nb(4, 5)", "E0401", "net.cnn:3:1"),
    ("block b(c) = conv(c)\ninput 3x8x8\nb(4, d=5)", "E0401", "net.cnn:3:6"),
    ("block a = conv - b\nblock b = relu - a\ninput 3x8x8\na", "E0402", "net.cnn:2:18"),
    ('import "missing.cnn"\ninput 3x8x8\nconv', "E0403", "net.cnn:1:1"),
    ('import "net.cnn"\ninput 3x8x8\nconv', "E0404", "net.cnn:1:1"),
])
def test_block_errors(tmp_path, capsys, src, code, where):
    err = _diag(tmp_path, capsys, src)
    assert f"[{code}]" in err and where in err


def test_merge_mismatch_names_each_branch(tmp_path, capsys):
    err = _diag(tmp_path, capsys, "input 3x8x8\nadd(conv(8) | conv(8, stride=2))")
    assert "8x8x8, 8x4x4" in err
    assert "branch 1 `conv(8)` (line 2:5) gives 8x8x8" in err
    assert "branch 2 `conv(8, stride=2)` (line 2:15) gives 8x4x4" in err


def test_recursion_shows_the_call_chain(tmp_path, capsys):
    err = _diag(tmp_path, capsys, "block a = conv - b\nblock b = relu - a\ninput 3x8x8\na")
    assert "a -> b -> a" in err


def test_torch_classes_are_shared_and_take_the_block_arguments():
    pytest.importorskip("torch")
    text = cnndsl.compile("resnet50").to_python()
    # one class per structure: the first block of each layer (a projection shortcut,
    # stride 1 in layer1 and 2 after: spelled out, so they share a class) and the plain
    # blocks everywhere; names from the block and what tells them apart, no numbers
    assert text.count("class Bottleneck") == 2 and "class Bottleneck2" not in text
    assert "class BottleneckDownsample(nn.Module):" in text
    assert "def __init__(self, in_channels, c, stride):" in text
    assert "def __init__(self, c):" in text  # the plain block: its input is 4c wide
    assert "nn.Conv2d(4 * c, c, kernel_size=1, bias=False)" in text
    assert "nn.Conv2d(c, 4 * c, kernel_size=1, bias=False)" in text
    assert ("self.downsample1 = nn.Conv2d(in_channels, 4 * c, kernel_size=1, stride=stride, "
            "bias=False)") in text
    assert "= BottleneckDownsample(in_channels=256, c=128, stride=2)" in text
    densenet = cnndsl.compile("densenet121").to_python()
    assert densenet.count("\nclass ") <= 8


def test_shared_classes_build_the_same_module():
    torch = pytest.importorskip("torch")
    net = cnndsl.compile("googlenet", input="3x64x64")
    model = net.to_torch().eval()
    assert sum(p.numel() for p in model.parameters()) == net.params_count
    names = {n for n, _ in model.named_modules()}
    assert {n.path for n in net.graph.nodes if n.op == "conv"} <= names
    assert tuple(model(torch.randn(1, 3, 64, 64)).shape) == (1, 1000)


def test_named_tensors_are_shared_not_copied():
    src = """block l(c) = conv(c) - bn - relu
network frac:
    input 3x16x16
    mean(mean(l(8) - l(8) | l(8)) as j - l(8) - l(8) | j - l(8) | l(8))
"""
    net = cnndsl.compile(src)
    assert sum(n.op == "conv" for n in net.graph.nodes) == 7  # j is computed once
    final = net.graph[net.graph.output]
    assert final.op == "mean" and len(final.inputs) == 3
    j = net.graph["mean1"]
    assert sum(j.name in n.inputs for n in net.graph.nodes) == 2  # two branches read j


def test_named_tensor_as_a_skip_connection():
    src = "input 3x16x16\nconv(8) as skip - maxpool - conv(8) - concat(id | skip - maxpool)"
    assert cnndsl.compile(src).output_shape == (16, 8, 8)


def test_named_tensor_errors(capsys):
    assert main(["check", "network n(k=2):\n input 3x8x8\n conv as k"]) == 1
    assert "[E0112]" in capsys.readouterr().err
    assert main(["check", "input 3x8x8\nconv as t - fc(t)"]) == 1
    assert "names a tensor, not a number" in capsys.readouterr().err


AUX = """network t(aux=1):
    input 3x16x16
    block_in = conv(8) - relu
    block_in - if(aux, aux(gap - fc(10)), id) - conv(16, stride=2) - gap - fc(10)
"""


def test_auxiliary_heads_are_extra_outputs():
    net = cnndsl.compile(AUX)
    assert net.graph.aux == ("aux1_fc1",) and net.output_shape == (10,)
    assert net.params_count == cnndsl.compile(AUX, bindings={"aux": 0}).params_count + 8 * 10 + 10
    assert net.dump_ir().endswith("return %fc1, aux %aux1_fc1")
    from cnndsl.ir.graph import Graph
    assert Graph.from_json(net.graph.to_json()).aux == net.graph.aux


def test_auxiliary_heads_run_only_while_training():
    torch = pytest.importorskip("torch")
    model = cnndsl.compile(AUX).to_torch()
    x = torch.randn(2, 3, 16, 16)
    main_out, head = model.train()(x)
    assert main_out.shape == head.shape == (2, 10)
    assert model.eval()(x).shape == (2, 10)


def test_aux_head_inside_a_block_is_emitted_inline():
    torch = pytest.importorskip("torch")
    src = "block b = conv(8) - aux(gap - fc(3)) - relu\ninput 3x8x8\nb - b - gap - fc(4)"
    net = cnndsl.compile(src)
    assert len(net.graph.aux) == 2
    out = net.to_torch().train()(torch.randn(2, 3, 8, 8))
    assert [tuple(t.shape) for t in out] == [(2, 4), (2, 3), (2, 3)]


def test_empty_aux_head_is_an_error(capsys):
    assert main(["check", "input 3x8x8\nconv - aux(id) - fc(2)"]) == 1
    assert "[E0113]" in capsys.readouterr().err


def test_layers_that_never_reach_the_output_are_dropped_with_a_warning():
    src = "block b = (concat(dropout as t | id) - t) * 2\ninput 1x8x8\nb - b"
    net = cnndsl.compile(src)
    assert [d.code for d in net.warnings] == ["W0701"]
    assert not any(n.op == "concat" for n in net.graph.nodes)
    assert not net.graph.lint()
    torch = pytest.importorskip("torch")
    assert tuple(net.to_torch().eval()(torch.randn(2, 1, 8, 8)).shape) == (2, 1, 8, 8)
