"""Parameters, MACs and activations against the slides' tables and torchvision/fvcore.

Reference figures live in tests/data/refs/*.json with their source; nothing here needs
fvcore or torchvision (torch, where present, is the oracle for per-layer activations).
"""

import json
import re
from pathlib import Path

import pytest

import cnndsl
from cnndsl.api import ZOO_DIR
from cnndsl.commands.zoo import preset_fields
from cnndsl.passes.cost import cost

from .conftest import needs_torch

DATA = Path(__file__).parent / "data"
REFS = DATA / "refs"
NETS = DATA / "cost"

VGG16 = """input 3x224x224
[conv3-64]*2 - maxpool - [conv3-128]*2 - maxpool - [conv3-256]*3 - maxpool - [conv3-512]*3 \
- maxpool - [conv3-512]*3 - maxpool - FC-4096 - relu - FC-4096 - relu - FC-1000"""


def ref(name: str) -> dict:
    return json.loads((REFS / name).read_text())


def net_of(name: str) -> cnndsl.Network:
    return cnndsl.compile(NETS / f"{name}.cnn")


def table_nodes(net, ops=("input", "conv", "maxpool", "fc")):
    return [n for n in net.graph.nodes if n.op in ops]


# ---------------------------------------------------------------- the slides' VGG16 table
def test_vgg16_every_row_of_the_slides_table():
    table = ref("vgg16_cs231n.json")
    net = cnndsl.compile(VGG16)
    c = net.cost
    nodes = table_nodes(net)
    assert nodes[0].type.dims == tuple(table["input"])
    assert len(nodes) - 1 == len(table["rows"]) == 21
    for node, row in zip(nodes[1:], table["rows"]):
        nc = c.nodes[node.name]
        assert node.type.dims == tuple(row["output"]), row["layer"]
        assert nc.activations == row["activations"], row["layer"]
        assert nc.params.weights == row["params_no_bias"], row["layer"]
        assert nc.params.total == row["params"], row["layer"]
        assert nc.macs == row["macs"], row["layer"]


def test_vgg16_totals():
    t = ref("vgg16_cs231n.json")["totals"]
    c = cnndsl.compile(VGG16).cost
    assert c.params.total == t["params"] == 138_357_544
    assert c.params.weights == t["params_no_bias"] == 138_344_128
    assert c.macs == t["macs"] == 15_470_264_320
    assert c.macs_by_kind["conv"] == t["conv_macs"] and c.macs_by_kind["linear"] == t["fc_macs"]
    assert c.flops == 2 * 15_470_264_320
    # input + every CONV/POOL/FC output: the slides' rows, not their "24M" total
    assert c.activations == t["activations_with_input"] == 15_237_608


def test_vgg16_with_relu_after_every_conv_counts_the_same_activations():
    """In-place ReLU, flatten and dropout create no tensor: the total is still the table's."""
    src = VGG16.replace("conv3-64]", "conv3-64 - relu]").replace("conv3-128]", "conv3-128 - relu]")
    src = src.replace("conv3-256]", "conv3-256 - relu]").replace("conv3-512]", "conv3-512 - relu]")
    c = cnndsl.compile(src).cost
    assert c.activations == 15_237_608
    relus = ref("vgg16_cs231n.json")["totals"]["relu_outputs_if_not_inplace"]  # FC's too
    assert c.activations_all == 15_237_608 + relus + 25_088  # + the flatten view


def test_zoo_vgg16_if_present():
    if not (ZOO_DIR / "vgg16.cnn").is_file():
        pytest.skip("zoo/vgg16.cnn not written yet")
    c = cnndsl.compile("vgg16").cost
    assert (c.params.total, c.macs, c.activations) == (138_357_544, 15_470_264_320, 15_237_608)


# ---------------------------------------------------------------- inception modules
@pytest.mark.parametrize("name, macs", [("inception_naive", 854_196_224),
                                        ("inception_dimred", 271_351_808)])
def test_inception_module_on_28x28x256(name, macs):
    r = ref("inception.json")[name]
    net = net_of(name)
    c = net.cost
    assert net.output_shape == tuple(r["output"])
    assert c.macs_by_kind["conv"] == r["conv_macs"] == macs
    assert c.params.total == r["params"] and c.params.weights == r["params_no_bias"]
    per_conv = sorted(c.nodes[n.name].macs for n in net.graph.nodes if n.op == "conv")
    assert per_conv == sorted(int(v.rsplit(" ", 1)[1]) for v in r["per_conv_macs"].values())


def test_inception_slides_358m_is_the_3x3_term_counted_twice():
    r = ref("inception.json")["inception_dimred"]
    three = int(r["per_conv_macs"]["b3"].rsplit(" ", 1)[1])
    assert r["conv_macs"] + three == 358_055_936  # the slides print "358M"


# ---------------------------------------------------------------- AlexNet
@pytest.mark.parametrize("name, key, params, macs", [
    ("alexnet_227", "single_tower", 62_378_344, 1_135_256_096),
    ("alexnet_2tower", "two_tower", 60_965_224, 724_406_816),
])
def test_alexnet_slides_table(name, key, params, macs):
    r = ref("alexnet_cs231n.json")[key]
    net = net_of(name)
    c = net.cost
    assert (c.params.total, c.macs) == (r["params"], r["macs"]) == (params, macs)
    nodes = table_nodes(net, ("conv", "maxpool", "lrn", "fc"))
    assert [n.type.dims for n in nodes] == [tuple(row["output"]) for row in r["rows"]]
    assert [c.nodes[n.name].params.total for n in nodes] == [row["params"] for row in r["rows"]]
    assert [c.nodes[n.name].macs for n in nodes] == [row["macs"] for row in r["rows"]]


# ---------------------------------------------------------------- torchvision and fvcore
TORCHVISION = ref("torchvision.json")["models"]
TV_FIXTURES = [("tv_alexnet", "alexnet"), ("tv_vgg16", "vgg16"), ("tv_resnet18", "resnet18"),
               ("tv_resnet50", "resnet50")]


def assert_matches_torchvision(c, r, same_pooling: bool = True) -> None:
    fv = r["fvcore_by_operator"]
    assert c.params.total == r["params_total"]
    assert c.params.weights == r["params_no_bias"]  # BN gamma is a weight, beta a bias
    assert c.params.buffers == r["bn_running_stat_elems"]
    assert c.macs_by_kind["conv"] == pytest.approx(fv.get("conv", 0), rel=1e-3)
    assert c.macs_by_kind["linear"] == pytest.approx(fv.get("linear", 0), rel=1e-3)
    assert c.macs_by_kind["conv"] == r["hook_conv_macs"]  # in fact exact
    assert c.macs_by_kind["linear"] == r["hook_linear_macs"]
    norms = sum(fv.get(k, 0) for k in ("batch_norm", "layer_norm", "group_norm"))
    assert c.macs_by_kind["norm"] == norms  # BN, LN, GN reported apart
    assert c.macs_fvcore == pytest.approx(r["fvcore_total"], rel=1e-3)
    if same_pooling:
        assert c.macs_by_kind["pool"] == fv.get("adaptive_avg_pool2d", 0)
        assert c.macs_fvcore == r["fvcore_total"]


@pytest.mark.parametrize("fixture, model", TV_FIXTURES)
def test_torchvision_architectures_match_torchvision_and_fvcore(fixture, model):
    assert_matches_torchvision(net_of(fixture).cost, TORCHVISION[model])


@pytest.mark.parametrize("fixture, model", TV_FIXTURES)
def test_conv_and_linear_outputs_match_torchvision(fixture, model):
    net = net_of(fixture)
    total = sum(net.cost.nodes[n.name].activations for n in net.graph.nodes
                if n.op in ("conv", "fc"))
    assert total == TORCHVISION[model]["act_elems_conv_linear"]


def torchvision_counterpart(path: Path) -> str | None:
    """The torchvision model a zoo file says it reproduces (its header comments)."""
    found = re.findall(r"(?:torchvision\.models\.|equals torchvision's )(\w+)", path.read_text())
    return next((m for m in found if m in TORCHVISION), None)


def zoo_counterparts() -> list[tuple[str, str]]:
    """(zoo name, torchvision model) for every zoo network or family member with
    reference figures: a family's members are named as torchvision names them."""
    out = []
    for path in sorted(ZOO_DIR.glob("*.cnn")):
        members = preset_fields(path.read_text())
        if members:
            out += [(name, name) for name, _ in members if name in TORCHVISION]
        elif torchvision_counterpart(path):
            out.append((path.stem, torchvision_counterpart(path)))
    return out


@pytest.mark.parametrize("name, model", zoo_counterparts(), ids=lambda v: str(v))
def test_zoo_networks_with_a_torchvision_counterpart(name, model):
    net = cnndsl.compile(name)
    r = TORCHVISION[model]
    # the zoo's VGG16 follows the paper (no 7x7 adaptive pool): fvcore's total is 25,088
    # more; a global mean written x.mean((2, 3)) (ShuffleNetV2, MNASNet) fvcore skips
    has_pool = any(n.op == "adaptiveavgpool" or n.op == "gap" for n in net.graph.nodes)
    same = has_pool == ("adaptive_avg_pool2d" in r["fvcore_by_operator"])
    assert_matches_torchvision(net.cost, r, same_pooling=same)


def test_every_family_member_with_reference_figures_is_compared():
    assert {m for _, m in zoo_counterparts()} >= {
        "mobilenet_v3_small", "mobilenet_v3_large", "efficientnet_b0", "shufflenet_v2_x1_0",
        "regnet_y_400mf", "mnasnet1_0", "vgg11", "resnet50"}


# ---------------------------------------------------------------- conventions per operator
def costs(src: str) -> dict:
    return cnndsl.compile(src).cost.nodes


def test_zero_mac_operators():
    c = costs("input 8x16x16\nconv(8, 3) - relu - maxpool - avgpool(2) - "
              "add(id | conv(8, 1)) - concat(id | id) - dropout - flatten")
    for name, nc in c.items():
        if not name.startswith("conv"):
            assert nc.macs == 0 and nc.params.total == 0, name


def test_batch_norm_parameters_buffers_and_macs():
    c = costs("input 16x8x8\nbn - bn(affine=false)")
    assert (c["bn1"].params.weights, c["bn1"].params.bias, c["bn1"].params.buffers) == (16, 16, 32)
    assert (c["bn1"].macs, c["bn1"].macs_kind) == (2 * 16 * 8 * 8, "norm")
    assert c["bn2"].params.total == 0 and c["bn2"].params.buffers == 32
    assert c["bn2"].macs == 16 * 8 * 8


def test_grouped_depthwise_and_biasless_convolution():
    c = costs("input 32x8x8\nconv(64, 3, groups=4) - conv(64, 3, groups=64, bias=false)")
    assert c["conv1"].params.weights == 64 * 8 * 9 and c["conv1"].params.bias == 64
    assert c["conv1"].macs == 64 * 8 * 8 * 8 * 9
    assert c["conv2"].params.total == 64 * 9 and c["conv2"].macs == 64 * 8 * 8 * 9


def test_global_and_adaptive_average_pools_count_their_input_like_fvcore():
    c = costs("input 8x12x12\nadaptiveavgpool(3) - gap")
    assert (c["avgpool1"].macs, c["avgpool1"].macs_kind) == (8 * 12 * 12, "pool")
    assert c["gap1"].macs == 8 * 3 * 3


def test_totals_split_by_kind():
    c = cnndsl.compile("input 3x8x8\nconv(4, 3) - bn - relu - gap - fc(2)").cost
    assert c.macs_by_kind == {"conv": 4 * 64 * 27, "linear": 8, "norm": 2 * 4 * 64,
                              "pool": 4 * 64, "resize": 0}
    assert c.macs == 4 * 64 * 27 + 8
    assert c.macs_fvcore == c.macs + 2 * 4 * 64 + 4 * 64


def test_in_place_only_where_the_input_has_no_other_use():
    c = costs("input 4x8x8\nconv(4, 3) - add(relu | id)")
    assert c["input"].new_tensor  # the input is a tensor of its own
    assert c["relu1"].new_tensor  # conv1 is also read by the add: relu cannot overwrite it
    c = costs("input 4x8x8\nrelu - conv(4, 3) - relu")
    assert c["relu1"].new_tensor  # never overwrite the caller's input
    assert not c["relu2"].new_tensor


def test_cost_is_pure():
    net = cnndsl.compile(VGG16)
    before = net.graph.dump()
    assert cost(net.graph) == cost(net.graph)
    assert net.graph.dump() == before


# ---------------------------------------------------------------- torch as the oracle
def module_outputs(net) -> dict[str, int]:
    """Element count per image of every module output, by module path (a forward hook)."""
    import torch

    model = net.to_torch().eval()
    seen: dict[str, int] = {}
    for path, module in model.named_modules():
        if path:
            module.register_forward_hook(
                lambda m, i, o, path=path: seen.__setitem__(path, o[0].numel()))
    with torch.no_grad():
        model(torch.zeros((1,) + net.input_shape))
    return seen


ORACLE_NETS = [
    "tv_resnet18", "tv_alexnet", "inception_dimred", "alexnet_2tower",
    "input 3x32x32\nconv(16, 3) - bn - relu - residual(conv(32, 3, 2, bias=false) - bn - relu - "
    "conv(32, 3, bias=false) - bn, shortcut=pad) - relu - residual(conv(32, 3) - bn - se(32)) - "
    "relu - adaptiveavgpool(2) - dropout - fc(10)",
    "input 3x32x32\nconv(24, 3) - concat(conv(8, 1) | conv(8, 3, dilation=2) | "
    "avgpool(3, stride=1, pad=1)) - maxpool(3, stride=2, ceil_mode=true) - gap - fc(10)",
]


@needs_torch
@pytest.mark.parametrize("src", ORACLE_NETS, ids=lambda s: s.split("\n")[0][:24])
def test_predicted_activations_equal_the_built_module_outputs(src):
    assert_activations_match_module(net_of(src) if "\n" not in src else cnndsl.compile(src))


def assert_activations_match_module(net) -> None:
    seen = module_outputs(net)
    c = net.cost
    checked = 0
    for node in net.graph.nodes:
        if node.path in seen:
            assert seen[node.path] == c.nodes[node.name].activations, node.name
            checked += 1
    assert checked >= sum(n.op in ("conv", "fc", "bn", "maxpool") for n in net.graph.nodes)


@needs_torch
@pytest.mark.parametrize("src", ORACLE_NETS[:2] + ORACLE_NETS[4:], ids=lambda s: s[:12])
def test_parameters_and_buffers_equal_the_built_module(src):
    net = net_of(src) if "\n" not in src else cnndsl.compile(src)
    model = net.to_torch()
    assert sum(p.numel() for p in model.parameters()) == net.cost.params.total
    stats = sum(b.numel() for n, b in model.named_buffers() if "running" in n)
    assert stats == net.cost.params.buffers


def _zoo_case(name: str):
    heavy = cnndsl.compile(name).cost.macs > 1e9  # a CPU forward of seconds: -m slow
    return pytest.param(name, marks=[pytest.mark.slow] if heavy else [], id=name)


@needs_torch
@pytest.mark.parametrize("name", [_zoo_case(p.stem) for p in sorted(ZOO_DIR.glob("*.cnn"))])
def test_zoo_activations_equal_the_built_module_outputs(name):
    assert_activations_match_module(cnndsl.compile(name))


def test_group_and_layer_norm_count_five_per_element_like_fvcore():
    c = costs("input 8x4x4\ngroupnorm(2) - layernorm - gap - layernorm")
    assert (c["groupnorm1"].macs, c["groupnorm1"].macs_kind) == (5 * 8 * 16, "norm")
    assert c["layernorm1"].macs == 5 * 8 * 16 and c["layernorm2"].macs == 5 * 8


def test_upsampling_costs_what_fvcore_counts():
    c = costs("input 4x5x5\nupsample(2) - upsample(3, mode=bilinear)")
    assert (c["upsample1"].macs, c["upsample1"].macs_kind) == (4 * 10 * 10, "resize")
    assert c["upsample2"].macs == 4 * 4 * 30 * 30
    net = cnndsl.compile("input 4x5x5\nupsample(2)")
    assert net.cost.macs == 0 and net.cost.macs_fvcore == 4 * 10 * 10
