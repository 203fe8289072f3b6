"""Shape inference and the slides' numbers for plain networks."""

import pytest

import cnndsl
from cnndsl.diagnostics import CnnError


def shapes(net, ops=("conv", "maxpool", "avgpool", "lrn", "fc")):
    return [str(n.type) for n in net.graph.nodes if n.op in ops]


def test_general_form_counts():
    net = cnndsl.compile("[(CONV-RELU)*N-POOL?]*M-(FC-RELU)*K,SOFTMAX",
                         bindings={"N": 2, "M": 3, "K": 1}, input="3x32x32")
    count = {}
    for n in net.graph.nodes:
        count[n.op] = count.get(n.op, 0) + 1
    assert count["conv"] == 6 and count["maxpool"] == 3 and count["fc"] == 2
    assert net.output_shape == (10,) and net.num_classes == 10
    assert [d.code for d in net.diagnostics] == ["N0401"]  # the class-score fc was added


def test_optional_part_can_be_turned_off():
    src = "[(CONV-RELU)*N-POOL?]*M-(FC-RELU)*K,SOFTMAX"
    on = cnndsl.compile(src, bindings={"N": 1, "M": 2, "K": 1}, input="3x32x32")
    off = cnndsl.compile(src, bindings={"N": 1, "M": 2, "K": 1, "POOL?": False}, input="3x32x32")
    assert sum(n.op == "maxpool" for n in on.graph.nodes) == 2
    assert sum(n.op == "maxpool" for n in off.graph.nodes) == 0


def test_alexnet_matches_slides_table():
    net = cnndsl.compile("alexnet")
    assert shapes(net, ("conv", "maxpool", "lrn", "fc")) == [
        "96x55x55", "96x27x27", "96x27x27", "256x27x27", "256x13x13", "256x13x13",
        "384x13x13", "384x13x13", "256x13x13", "256x6x6", "4096", "4096", "1000"]
    assert net.cost.nodes["conv1"].params.total == (11 * 11 * 3) * 96 + 96 == 34_944
    assert net.params_count == 62_378_344


def test_vgg16_parameters():
    net = cnndsl.compile("vgg16")
    assert net.params_count == 138_357_544  # torchvision vgg16
    assert net.cost.params.weights == 138_344_128  # without biases


def test_mnist_task():
    net = cnndsl.compile("mnist_task")
    assert net.params_count == 1_191_338
    assert shapes(net, ("conv", "maxpool", "flatten", "fc")) == [
        "64x13x13", "32x13x13", "32x12x12", "4608", "256", "10"]
    conv2 = net.graph["conv2"]
    assert conv2.attr_map["pad"] == (0, 1, 0, 1)  # 'same' with an even kernel pads after


def test_lenet5():
    assert cnndsl.compile("lenet5").params_count == 61_706


@pytest.mark.parametrize("stride, pad, size", [(1, 0, 5), (2, 0, 3), (1, 1, 7)])
def test_window_fits_silently(stride, pad, size):
    net = cnndsl.compile(f"input 3x7x7\nconv(10, 3, stride={stride}, pad={pad})")
    assert net.output_shape == (10, size, size)
    assert net.diagnostics == []


def test_window_that_does_not_fit_warns_with_arithmetic():
    net = cnndsl.compile("input 3x7x7\nconv(10, 3, stride=3, pad=0)")
    (d,) = net.diagnostics
    assert d.code == "W0301" and d.span.line == 2
    assert "(7 - 3 + 2*0)/3 + 1 = 2.33" in d.label
    assert "pad=1" in d.help
    with pytest.raises(CnnError) as e:
        cnndsl.compile("input 3x7x7\nconv(10, 3, stride=3, pad=0)", strict=True)
    assert e.value.diagnostics[0].code == "W0301"
    assert e.value.diagnostics[0].is_error


def test_alexnet_stem_on_224_warns_resnet_stem_does_not():
    alex = cnndsl.compile("input 3x224x224\nconv(96, 11, stride=4, pad=0)")
    assert [d.code for d in alex.diagnostics] == ["W0301"]
    resnet = cnndsl.compile("input 3x224x224\nconv(64, 7, stride=2, pad=3)")
    assert resnet.diagnostics == [] and resnet.output_shape == (64, 112, 112)


def test_allow_comment_silences_a_warning():
    net = cnndsl.compile("input 3x7x7\nconv(10, 3, stride=3, pad=0)  # allow W0301")
    assert net.diagnostics == []


def test_fc_after_map_flattens():
    net = cnndsl.compile("input 3x8x8\nconv(4, 3) - fc(10)")
    assert [n.op for n in net.graph.nodes] == ["input", "conv", "flatten", "fc"]
    assert net.graph["flatten1"].type.dims == (256,)


def test_defaults_are_overridable():
    net = cnndsl.compile("input 3x8x8\nCONV - FC - RELU", bindings={"channels": 5, "hidden": 7})
    assert net.graph["conv1"].type.dims == (5, 8, 8) and net.output_shape == (7,)


def test_a_trailing_bare_fc_is_the_classifier():
    net = cnndsl.compile("input 3x8x8\nCONV - FC - RELU - FC", bindings={"hidden": 7, "classes": 4})
    assert net.graph["fc1"].type.dims == (7,) and net.output_shape == (4,)
    note = [d for d in net.diagnostics if d.code == "N0402"]
    assert len(note) == 1 and "`classes` = 4" in note[0].message and note[0].span.col == 20


def test_bare_pool_is_2x2_stride_2():
    net = cnndsl.compile("input 3x8x8\npool")
    assert net.output_shape == (3, 4, 4)


def test_expressions_in_arguments_and_counts():
    net = cnndsl.compile("network n(k=4, d=3):\n input 3x16x16\n conv(16*k, 3) * (d-1) - fc(k*k+1)")
    assert sum(n.op == "conv" for n in net.graph.nodes) == 2
    assert net.graph["conv1"].type.dims[0] == 64 and net.output_shape == (17,)


def test_ir_json_round_trip_and_dump_is_deterministic():
    from cnndsl.ir.graph import Graph
    a = cnndsl.compile("vgg16").graph
    b = Graph.from_json(a.to_json())
    assert a.dump() == b.dump() == cnndsl.compile("vgg16").graph.dump()


UNET = """block double(c) = conv(c, 3, bias=false) - bn - relu - conv(c, 3, bias=false) - bn - relu
network unet(classes=2):
    input 1x64x64
    double(16) as s1 - maxpool - double(32) as s2 - maxpool - double(64)
    deconv(32) - concat(id | s2) - double(32)
    upsample(2, mode=bilinear) - conv(16, 1) - concat(id | s1) - double(16)
    conv(classes, 1)
"""


def test_a_small_unet():
    net = cnndsl.compile(UNET)
    assert net.output_shape == (2, 64, 64)
    assert net.diagnostics == []  # skips and upsampled paths are aligned (no W0601)
    assert net.graph["deconv1"].type.dims == (32, 32, 32)
    assert net.cost.nodes["deconv1"].params.total == 64 * 32 * 2 * 2 + 32
    assert net.cost.nodes["deconv1"].macs == 64 * 16 * 16 * 32 * 4
    pytest.importorskip("torch")
    from .torch_oracle import module_params, observed_shapes
    seen = observed_shapes(net)
    assert seen["<output>"] == (2, 2, 64, 64)
    assert all(seen[n.path] == n.type.dims for n in net.graph.nodes if n.path in seen)
    assert module_params(net) == net.params_count


@pytest.mark.parametrize("src, shape", [
    ("input 8x5x5\ndeconv(4, 3, stride=2, pad=1, output_pad=1)", (4, 10, 10)),
    ("input 8x5x5\nupsample(3)", (8, 15, 15)),
    ("input 8x5x5\nzeropad(1x2)", (8, 7, 9)),
    ("input 8x5x5\ngroupnorm(4) - prelu - shuffle(4)", (8, 5, 5)),
])
def test_upsampling_family_shapes(src, shape):
    assert cnndsl.compile(src).output_shape == shape


@pytest.mark.parametrize("src, code", [
    ("input 6x5x5\ngroupnorm(4)", "E0303"),
    ("input 6x5x5\ndeconv(4, 3, stride=2, output_pad=2)", "E0305"),
    ("input 6x5x5\nshuffle(4)", "E0303"),
])
def test_upsampling_family_errors(src, code):
    with pytest.raises(CnnError) as e:
        cnndsl.compile(src)
    assert e.value.diagnostics[0].code == code
