"""The zoo: every file compiles cleanly, its header tells the truth, its figures equal the
references (tests/data/zoo_refs.json, each with its source), and weights port across
from hand-written PyTorch models of the same architecture.

The comparison with torchvision's and timm's own models (outputs after porting) is in
tests/conformance (needs torchvision; run by .ci/conformance).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

import cnndsl
from cnndsl.api import ZOO_DIR
from cnndsl.commands.zoo import entries, preset_fields

from .conftest import needs_torch

HEADERS = dict(entries())  # every name: a file's network, or a member of a family file
ZOO = sorted(HEADERS)
FILES = sorted(ZOO_DIR.glob("*.cnn"))
LIBS = sorted((ZOO_DIR / "lib").glob("*.cnn"))
# torchvision 0.29.1's 68 classification CNNs (ViT, Swin, MaxViT aside), weights=None:
# their parameter counts, measured from the real implementations.
CATALOGUE = json.loads((Path(__file__).parent / "data" / "refs" /
                        "torchvision_catalogue.json").read_text())["params"]
# Where a zoo name means the slides' network, torchvision's keeps a suffix.
TV_SUFFIXED = {"alexnet": "alexnet_tv"}
# torchvision's weights=None builders of GoogLeNet and Inception-v3 carry the auxiliary
# classifiers, which the zoo adds with `--set aux=1` (by default it leaves them out, as
# torchvision's pretrained models do).
TV_OPTIONS = {"googlenet": ["--set", "aux=1"], "inception_v3": ["--set", "aux=1"]}
REFS = json.loads((Path(__file__).parent / "data" / "zoo_refs.json").read_text())["networks"]
# Zoo files with no outside figure: checked by the hand counts below instead.
NO_REFERENCE = {"cs231n", "nin", "fractalnet"}
MAX_LINES = 40


def header(name: str) -> dict[str, str]:
    return HEADERS[name]


def number(text: str) -> int:
    return int(text.replace(",", ""))


@pytest.fixture(scope="module")
def compiled():
    cache: dict[str, cnndsl.Network] = {}

    def get(name: str) -> cnndsl.Network:
        if name not in cache:
            cache[name] = cnndsl.compile(name)
        return cache[name]
    return get


# ---------------------------------------------------------------- every file
@pytest.mark.parametrize("name", ZOO)
def test_compiles_without_warnings(name, compiled):
    net = compiled(name)
    assert [d for d in net.diagnostics if d.severity != "note"] == []


@pytest.mark.parametrize("path", FILES + LIBS,
                         ids=lambda p: str(p.relative_to(ZOO_DIR)))
def test_at_most_40_lines(path):
    """A network in at most 40 lines; a family's preset lines (its members' table of
    values and figures) are data beside it."""
    lines = path.read_text(encoding="utf-8").splitlines()
    members = [i for i, ln in enumerate(lines) if ln.startswith("preset ")]
    body = lines[:members[0]] if members else lines
    assert len(body) <= MAX_LINES


@pytest.mark.parametrize("name", ZOO)
def test_header_totals_equal_the_compiled_figures(name, compiled):
    net, h = compiled(name), header(name)
    assert {"title", "source", "input", "params", "macs"} <= set(h), sorted(h)
    assert number(h["params"]) == net.params_count
    assert number(h["macs"]) == net.cost.macs
    assert h["input"] == "x".join(map(str, net.input_shape))
    assert h["params"] == f"{net.params_count:,}" and h["macs"] == f"{net.cost.macs:,}"


@pytest.mark.parametrize("name", ZOO)
def test_summary_json_totals_equal_the_header(name, capsys):
    from cnndsl.cli import main
    assert main(["summary", name, "--format", "json"]) == 0
    totals = json.loads(capsys.readouterr().out)["totals"]
    h = header(name)
    assert (totals["params"], totals["macs"]) == (number(h["params"]), number(h["macs"]))


def test_every_network_has_a_reference_or_a_hand_count():
    assert set(ZOO) - NO_REFERENCE <= set(REFS), sorted(set(ZOO) - NO_REFERENCE - set(REFS))
    assert set(REFS) <= set(ZOO)
    assert all(r.get("source") for r in REFS.values())


def test_every_library_file_parses_and_defines_blocks():
    for path in LIBS:
        program = cnndsl.parse(path.read_text(encoding="utf-8"), str(path))
        assert program.blocks and program.network is None, path.name


# ---------------------------------------------------------------- reference figures
@pytest.mark.parametrize("name", sorted(REFS))
def test_parameters_and_macs_equal_the_reference(name, compiled):
    ref, net = REFS[name], compiled(name)
    if ref.get("params") is not None:
        assert net.params_count == ref["params"], ref["source"]
    if ref.get("macs") is not None:
        assert net.cost.macs == ref["macs"], ref["source"]


@pytest.mark.parametrize("name", sorted(n for n in REFS if "paper" in REFS[n]))
def test_parameters_round_to_the_published_figure(name, compiled):
    """The papers' (and the slides') figures, to the precision they are given in."""
    figure = REFS[name]["paper"]
    assert figure.endswith("M")
    digits = len(figure[:-1].partition(".")[2])
    assert round(compiled(name).params_count / 1e6, digits) == float(figure[:-1])


def cifar_resnet_params(n: int, classes: int = 10) -> int:
    """He et al.'s CIFAR ResNet with option A shortcuts, counted by hand: a 3x3 conv to 16
    maps with BN, three stages of n basic blocks (two bias-free 3x3 convs with BN each) at
    16, 32, 64 maps, and a fully connected layer."""
    total = 3 * 9 * 16 + 2 * 16
    c_in = 16
    for c in (16, 32, 64):
        for _ in range(n):
            total += c_in * 9 * c + 2 * c + c * 9 * c + 2 * c
            c_in = c
    return total + 64 * classes + classes


def test_cifar_resnet_formula_reproduces_the_measured_references():
    for n, name in ((3, "resnet20"), (5, "resnet32"), (7, "resnet44"), (9, "resnet56"),
                    (18, "resnet110")):
        assert cifar_resnet_params(n) == REFS[name]["params"]


def test_resnet1202_has_the_exact_count_of_its_architecture(compiled):
    assert compiled("resnet1202").params_count == cifar_resnet_params(200) == 19_421_274


def test_nin_by_hand(compiled):
    """Lin et al.'s CIFAR-10 model: (conv 5x5 192, 1x1 160, 1x1 96), (5x5 192, 1x1 192,
    1x1 192), (3x3 192, 1x1 192, 1x1 10), all with bias; no fully connected layer."""
    def conv(cin, cout, k):
        return cin * k * k * cout + cout
    want = (conv(3, 192, 5) + conv(192, 160, 1) + conv(160, 96, 1)
            + conv(96, 192, 5) + conv(192, 192, 1) * 2
            + conv(192, 192, 3) + conv(192, 192, 1) + conv(192, 10, 1))
    assert compiled("nin").params_count == want == 966_986


def test_fractalnet_by_hand(compiled):
    """Per block of C=3 columns: 3 convs read the block input and 4 read its own width
    (2^C - 1 = 7 convs, bias-free, each with BN), then a fully connected layer."""
    total, c_in = 0, 3
    for c in (64, 128, 256, 512, 512):
        total += 3 * (c_in * 9 * c) + 4 * (c * 9 * c) + 7 * 2 * c
        c_in = c
    want = total + 512 * 10 + 10
    net = compiled("fractalnet")
    assert net.params_count == want
    joins = [n for n in net.graph.nodes if n.op == "mean"]
    assert len(joins) == 5 * 2  # the figure's joins: a shared 2-way, then a 3-way
    assert sorted(len(n.inputs) for n in joins) == [2] * 5 + [3] * 5
    assert sum(n.op == "conv" for n in net.graph.nodes) == 5 * 7


def test_stochastic_depth_decays_linearly(compiled):
    ps = [n.attr_map["p"] for n in compiled("resnet110_sd").graph.nodes if n.op == "droppath"]
    assert len(ps) == 54
    assert ps == pytest.approx([block / 54 * 0.5 for block in range(1, 55)])


def test_the_vgg_family_follows_the_table(compiled):
    convs = {name: [n.attr_map["kernel"][0] for n in compiled(name).graph.nodes if n.op == "conv"]
             for name in ("vgg11", "vgg11_lrn", "vgg13", "vgg16c", "vgg16", "vgg19")}
    assert [len(k) + 3 for k in convs.values()] == [11, 11, 13, 16, 16, 19]
    assert convs["vgg16c"].count(1) == 3 and set(convs["vgg16"]) == {3}
    assert sum(n.op == "lrn" for n in compiled("vgg11_lrn").graph.nodes) == 1


# ---------------------------------------------------------------- torchvision's catalogue
@pytest.mark.parametrize("tv_name", sorted(CATALOGUE))
def test_every_torchvision_cnn_compiles_by_its_name_with_its_parameter_count(tv_name, capsys):
    """`cnndsl summary NAME --format json` for each of torchvision's 68 CNNs."""
    from cnndsl.cli import main
    name = TV_SUFFIXED.get(tv_name, tv_name)
    options = TV_OPTIONS.get(tv_name, [])
    assert main(["summary", name, "--format", "json", *options]) == 0
    assert json.loads(capsys.readouterr().out)["totals"]["params"] == CATALOGUE[tv_name]


def test_families_are_one_file_each_with_their_members_as_presets():
    families = {p.stem: [n for n, _ in preset_fields(p.read_text())] for p in FILES}
    families = {k: v for k, v in families.items() if v}
    assert families["efficientnet"] == [f"efficientnet_b{i}" for i in range(8)]
    assert len(families["regnet"]) == 15 and len(families["convnext"]) == 4
    assert sum(map(len, families.values())) >= 45
    for name in CATALOGUE:  # no member shadows a file, no name is defined twice
        assert sum(TV_SUFFIXED.get(name, name) in v for v in families.values()) + \
            (ZOO_DIR / f"{TV_SUFFIXED.get(name, name)}.cnn").is_file() == 1, name


# ---------------------------------------------------------------- cnndsl zoo list
def test_zoo_list_prints_every_network_sorted_without_torch():
    code = ("import sys, time\n"
            "t = time.perf_counter()\n"
            "from cnndsl.cli import main\n"
            "rc = main(['zoo', 'list'])\n"
            "print('#', rc, 'torch' in sys.modules, time.perf_counter() - t)\n")
    env = dict(os.environ, PYTHONPATH=str(Path(cnndsl.__file__).parent.parent))
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, check=True).stdout
    wall = time.perf_counter() - start
    lines = out.splitlines()
    _, rc, imported_torch, inside = lines[-1].split()
    assert (rc, imported_torch) == ("0", "False")
    names = [ln.split()[0] for ln in lines[1:-1]]
    assert names == ZOO  # every file, sorted
    for ln in lines[1:-1]:
        name, params, macs, shape = ln.split()[:4]
        h = header(name)
        assert (params, macs, shape) == (h["params"], h["macs"], h["input"])
        assert ln.rstrip().endswith(h["title"])
    # Timing is reported, not asserted tightly (machines vary): the whole process,
    # interpreter start included, must stay well under a few seconds.
    print(f"cnndsl zoo list: {float(inside):.3f} s in process, {wall:.3f} s wall")
    assert wall < 5


# ---------------------------------------------------------------- weight transfer
def _torch():
    return pytest.importorskip("torch")


def _randomize(model) -> None:
    """Random BN statistics and affine parameters, so that porting them matters."""
    torch = _torch()
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.copy_(torch.rand(m.num_features, generator=g) - 0.5)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.weight.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.bias.copy_(torch.rand(m.num_features, generator=g) - 0.5)


def _rel_err(a, b) -> float:
    return ((a - b).abs().max() / b.abs().max()).item()


def cifar_resnet_reference(n: int, first_conv_bias: bool = False):
    """He et al.'s CIFAR ResNet (option A), written by hand in plain PyTorch."""
    torch = _torch()
    nn, F = torch.nn, torch.nn.functional

    class Basic(nn.Module):
        def __init__(self, c_in, c, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(c_in, c, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(c)
            self.conv2 = nn.Conv2d(c, c, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(c)
            self.stride, self.extra = stride, c - c_in

        def forward(self, x):
            y = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
            s = x[:, :, ::self.stride, ::self.stride]
            s = F.pad(s, (0, 0, 0, 0, self.extra // 2, self.extra - self.extra // 2))
            return F.relu(y + s)

    class CifarResNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 16, 3, 1, 1, bias=first_conv_bias)
            self.bn = nn.BatchNorm2d(16)
            blocks, c_in = [], 16
            for c, stride in ((16, 1), (32, 2), (64, 2)):
                for i in range(n):
                    blocks.append(Basic(c_in, c, stride if i == 0 else 1))
                    c_in = c
            self.blocks = nn.Sequential(*blocks)
            self.fc = nn.Linear(64, 10)

        def forward(self, x):
            x = self.blocks(F.relu(self.bn(self.conv(x))))
            return self.fc(x.mean((2, 3)))

    return CifarResNet().eval()


def alphago_reference(k: int = 192):
    """The AlphaGo policy network as the paper describes it, in plain PyTorch."""
    torch = _torch()
    nn = torch.nn

    class PositionBias(nn.Module):
        def __init__(self):
            super().__init__()
            self.bias = nn.Parameter(torch.randn(1, 19, 19))

        def forward(self, x):
            return x + self.bias

    layers = [nn.Conv2d(48, k, 5, padding=2), nn.ReLU()]
    for _ in range(11):
        layers += [nn.Conv2d(k, k, 3, padding=1), nn.ReLU()]
    layers += [nn.Conv2d(k, 1, 1, bias=False), PositionBias(), nn.Flatten()]
    return nn.Sequential(*layers).eval()


@needs_torch
def test_port_from_a_hand_written_cifar_resnet_gives_the_same_outputs():
    torch = _torch()
    ref = cifar_resnet_reference(3)
    _randomize(ref)
    ours = cnndsl.compile("resnet20").to_torch().eval()
    pairs = cnndsl.port_weights(ref, ours)
    assert len(pairs) == len(ref.state_dict()) == len(ours.state_dict())
    assert pairs[0] == ("conv.weight", "conv1.weight")
    for ref_key, our_key in pairs:
        assert torch.equal(ref.state_dict()[ref_key], ours.state_dict()[our_key])
    x = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        assert _rel_err(ours(x), ref(x)) < 1e-5


@needs_torch
def test_port_from_a_hand_written_alphago_policy_network():
    torch = _torch()
    ref = alphago_reference()
    ours = cnndsl.compile("alphago_policy").to_torch().eval()
    cnndsl.port_weights(ref, ours)
    x = torch.randn(2, 48, 19, 19)
    with torch.no_grad():
        got, want = ours(x), ref(x)
    assert got.shape == (2, 361)
    assert _rel_err(got, want) < 1e-5


@needs_torch
def test_a_mismatching_reference_names_the_first_difference():
    ref = alphago_reference(k=128)
    ours = cnndsl.compile("alphago_policy").to_torch()
    before = {k: v.clone() for k, v in ours.state_dict().items()}
    with pytest.raises(cnndsl.UserError) as e:
        cnndsl.port_weights(ref, ours)
    msg = str(e.value)
    assert "entry 0" in msg and "shapes differ" in msg
    assert "`0.weight` (128, 48, 5, 5)" in msg and "`conv1.weight` (192, 48, 5, 5)" in msg
    _torch()
    assert all(v.equal(before[k]) for k, v in ours.state_dict().items())  # nothing copied


@needs_torch
def test_an_extra_tensor_is_named_with_its_index():
    ref = cifar_resnet_reference(3, first_conv_bias=True)
    ours = cnndsl.compile("resnet20").to_torch()
    with pytest.raises(cnndsl.UserError) as e:
        cnndsl.port_weights(ref, ours)
    msg = str(e.value)
    assert "entry 1" in msg and "`conv.bias` (16,)" in msg and "compiled nothing" in msg
    assert "module `conv` holds weight (16, 3, 3, 3), bias (16,)" in msg


@needs_torch
def test_a_deeper_reference_is_refused():
    ref = cifar_resnet_reference(5)  # ResNet-32 into ResNet-20: stage 1 has 5 blocks, not 3
    # entries counted without BN's num_batches_tracked: stem 1 + 4, each block 10
    with pytest.raises(cnndsl.UserError, match=r"entry 35 differs \(shapes differ\): "
                       r"reference `blocks.3.conv1.weight` \(16, 16, 3, 3\), compiled "
                       r"`cifar_stage2.cifar_basic1.conv1.weight` \(32, 16, 3, 3\)"):
        cnndsl.port_weights(ref, cnndsl.compile("resnet20").to_torch())


@needs_torch
def test_registration_order_differs_from_execution_order():
    torch = _torch()
    from cnndsl import port
    nn = torch.nn

    class HeadFirst(nn.Module):  # registers the classifier before the features
        def __init__(self):
            super().__init__()
            self.head = nn.Linear(8 * 4 * 4, 10)
            self.c1 = nn.Conv2d(3, 8, 3, padding=1)
            self.c2 = nn.Conv2d(8, 8, 3, padding=1)

        def forward(self, x):
            x = torch.relu(self.c2(torch.relu(self.c1(x))))
            return self.head(x.flatten(1))

    ref = HeadFirst().eval()
    ours = cnndsl.compile("input 3x4x4\nconv(8, 3) - relu - conv(8, 3) - relu - fc(10)"
                          ).to_torch().eval()
    with pytest.raises(cnndsl.UserError, match="entry 0 differs"):
        cnndsl.port_weights(ref, ours)
    x = torch.randn(2, 3, 4, 4)
    pairs = port.port_weights(ref, ours, example_input=x)
    assert pairs[0] == ("c1.weight", "conv1.weight")
    with torch.no_grad():
        assert torch.equal(ours(x), ref(x))


@needs_torch
def test_names_pair_when_a_module_registers_them_in_another_order():
    torch = _torch()
    nn = torch.nn

    class Affine(nn.Module):  # bias registered before weight
        def __init__(self):
            super().__init__()
            self.bias = nn.Parameter(torch.randn(5))
            self.weight = nn.Parameter(torch.randn(5, 7))

        def forward(self, x):
            return x @ self.weight.t() + self.bias

    ref = nn.Sequential(Affine())
    ours = cnndsl.compile("input 7\nfc(5)").to_torch()
    cnndsl.port_weights(ref, ours)
    x = torch.randn(3, 7)
    with torch.no_grad():
        assert torch.allclose(ours(x), ref(x), atol=1e-6)


@needs_torch
def test_a_state_dict_without_batch_counters_ports():
    torch = _torch()
    ref = cifar_resnet_reference(3)
    _randomize(ref)
    old = {k: v for k, v in ref.state_dict().items() if not k.endswith("num_batches_tracked")}
    ours = cnndsl.compile("resnet20").to_torch().eval()
    pairs = cnndsl.port_weights(old, ours)
    assert len(pairs) == len(old)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert _rel_err(ours(x), ref(x)) < 1e-5


@needs_torch
def test_key_map_renames_a_checkpoint_for_load_state_dict():
    torch = _torch()
    from cnndsl.port import key_map, translate_state_dict
    ref = cifar_resnet_reference(3)
    _randomize(ref)
    ours = cnndsl.compile("resnet20").to_torch().eval()
    sd = ref.state_dict()
    mapping = key_map(sd, ours)
    assert mapping["blocks.3.conv1.weight"] == "cifar_stage2.cifar_basic1.conv1.weight"
    ours.load_state_dict(translate_state_dict(sd, mapping), strict=True)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert _rel_err(ours(x), ref(x)) < 1e-5


@needs_torch
def test_lenient_port_skips_a_new_classifier_head():
    torch = _torch()
    ref = cifar_resnet_reference(3)  # 10 classes
    ours = cnndsl.compile("resnet20", bindings={"classes": 100}).to_torch()
    with pytest.raises(cnndsl.UserError, match=r"\(100, 64\)"):
        cnndsl.port_weights(ref, ours)
    pairs = dict(cnndsl.port_weights(ref, ours, strict=False))
    assert "fc.weight" not in pairs and "fc.bias" not in pairs
    assert len(pairs) == len(ref.state_dict()) - 2
    assert torch.equal(ours.state_dict()[pairs["conv.weight"]], ref.conv.weight)


@needs_torch
def test_a_1x1_conv_ports_into_a_fully_connected_layer():
    torch = _torch()
    nn = torch.nn
    ref = nn.Sequential(nn.Conv2d(16, 4, 1), nn.ReLU(), nn.Conv2d(4, 16, 1)).eval()
    ours = cnndsl.compile("input 16\nfc(4) - relu - fc(16)").to_torch().eval()
    cnndsl.port_weights(ref, ours)
    x = torch.randn(3, 16)
    with torch.no_grad():
        want = ref(x[:, :, None, None]).flatten(1)
        assert torch.allclose(ours(x), want, atol=1e-6)


@needs_torch
def test_port_refuses_what_is_not_a_module_or_state_dict():
    with pytest.raises(cnndsl.UserError, match="cannot port weights from a int"):
        cnndsl.port_weights(3, cnndsl.compile("input 4\nfc(2)").to_torch())


def test_the_zoo_page_lists_every_network_with_its_figures():
    doc = (Path(__file__).resolve().parent.parent / "docs" / "zoo.md").read_text()
    rows = {m[0]: m[1:] for m in re.findall(
        r"^\| `(\w+)` \| ([\d,]+) \| ([\d,]+) \| (\S+) \|", doc, re.M)}
    assert sorted(rows) == ZOO
    for name, (params, macs, shape) in rows.items():
        h = header(name)
        assert (params, macs, shape) == (h["params"], h["macs"], h["input"]), name
