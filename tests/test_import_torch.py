"""The PyTorch import front end (cnndsl.importer.torch_trace): a module and an input shape
to a graph of the language's operators.

Every zoo network's own PyTorch emission imports to the graph it was emitted from (names
aside: cnndsl.ir.canon) and, rebuilt from that graph with the original's weights
copied in, computes what the original computes. Modules written the way torchvision and
timm write them (functional relu, ``out += identity``, ``x * se``, chunk - cat - channel
shuffle, permute - LayerNorm - Linear - permute with a layer scale, drop path, a batch
norm subclass with its own forward, dynamic 'same' padding) import to the operators they
are; what the language has no counterpart for is reported by name, module path and
count. torchvision's and timm's own models: tests/conformance/test_import_torch_models.py.
"""

from __future__ import annotations

import math

import pytest

import cnndsl
from cnndsl.commands.zoo import entries
from cnndsl.ir.canon import first_difference
from cnndsl.ir.graph import Graph

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional

from cnndsl.importer.common import ImportFailure  # noqa: E402
from cnndsl.importer.torch_check import CheckFailure, rebuild, self_check  # noqa: E402
from cnndsl.importer.torch_trace import import_module  # noqa: E402

REL_TOL = 1e-5
ZOO = sorted(name for name, _ in entries())
# A dozen networks that hold every operator the zoo uses, on small inputs: the default
# suite; the whole zoo runs with -m slow.
QUICK = {"resnet18": 32, "resnet20": 16, "shufflenet_v2_x0_5": 32, "convnext_tiny": 32,
         "efficientnet_b0": 32, "mobilenet_v3_small": 32, "mobilenet_v2": 32,
         "fractalnet": 32, "airbench94": 32, "alphago_policy": None, "lenet5": None,
         "squeezenet1_1": 64, "vgg11_lrn": 32}


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small tensors: threads only add overhead
    yield
    torch.set_num_threads(threads)


def randomize(model: nn.Module, seed: int = 1) -> nn.Module:
    """Non-trivial statistics, norm parameters and scales (defaults are 0, 1 and 1e-6),
    so that reading them wrongly shows in the outputs."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.running_mean is not None:
                m.running_mean.copy_(torch.rand(m.num_features, generator=g) * 0.2 - 0.1)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
        for name, p in model.named_parameters():
            if p.dim() == 1 or name.endswith(("gamma", "layer_scale")) or "LayerScale" in name:
                p.copy_(torch.rand(p.shape, generator=g) + 0.5)
    return model.eval()


def without_head(graph: Graph) -> Graph:
    """The graph without its classifier softmax: the emitted module returns the logits,
    so that softmax is not in the module (the language's choice, not the model's)."""
    last = graph[graph.output]
    if last.op != "softmax" or not dict(last.attrs).get("head"):
        return graph
    return Graph(graph.name, tuple(n for n in graph.nodes if n is not last), last.inputs[0],
                 graph.num_classes, graph.aux)


def compile_small(name: str, size: int | None) -> cnndsl.Network:
    net = cnndsl.compile(name)
    if size is None:
        return net
    c = net.input_shape[0]
    return cnndsl.compile(name, input=f"{c}x{size}x{size}")


def check_zoo(name: str, size: int | None) -> None:
    net = compile_small(name, size)
    torch.manual_seed(0)
    model = randomize(net.to_torch())
    imported = import_module(model, net.input_shape, name)
    assert imported.unsupported == []
    assert first_difference(imported.graph, without_head(net.graph)) is None
    assert self_check(model, imported) <= REL_TOL


@pytest.mark.parametrize("name", sorted(QUICK))
def test_zoo_networks_import_to_their_own_graph(name):
    check_zoo(name, QUICK[name])


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in ZOO if n not in QUICK])
def test_every_zoo_network_imports_to_its_own_graph(name):
    net = cnndsl.compile(name)
    size = 64 if net.input_shape[1] > 64 else None
    try:
        compile_small(name, size)
    except cnndsl.CnnError:  # a fixed-size head (VGG's flatten, AlexNet's)
        size = None
    check_zoo(name, size)


# Every operator the zoo's networks use (checked against the zoo with -m slow).
ZOO_OPS = {"input", "conv", "bn", "relu", "maxpool", "avgpool", "gap", "gmp", "fc", "add",
           "mul", "mean", "concat", "slice", "shuffle", "shortcut_pad", "layernorm",
           "layerscale", "droppath", "dropout", "gelu", "silu", "sigmoid", "tanh",
           "hardswish", "hardsigmoid", "relu6", "lrn", "posbias", "scale", "flatten",
           "adaptiveavgpool", "softmax"}


def test_the_quick_dozen_holds_every_operator_of_the_zoo():
    quick = {n.op for name in QUICK for n in compile_small(name, QUICK[name]).graph}
    assert ZOO_OPS <= quick


@pytest.mark.slow
def test_the_zoo_uses_those_operators():
    assert {n.op for name in ZOO for n in cnndsl.compile(name).graph} == ZOO_OPS


# ---------------------------------------------------------------- torchvision's style
class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None if stride == 1 and cin == cout else nn.Sequential(
            nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        identity = x
        out = F.relu(self.bn1(self.conv1(x)), inplace=True)
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return F.relu(out)


class TinyResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(8), nn.ReLU(inplace=True))
        self.layer1 = nn.Sequential(BasicBlock(8, 8), BasicBlock(8, 16, 2))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        x = self.avgpool(self.layer1(self.stem(x)))
        return self.fc(torch.flatten(x, 1))


def ops_of(imported) -> list[tuple[str, str]]:
    return [(n.op, n.path) for n in imported.graph][1:]


def test_a_resnet_in_torchvisions_style():
    model = randomize(TinyResNet())
    model.train()
    imported = import_module(model, (3, 16, 16), "tiny")
    assert model.training and model.layer1[0].bn1.training  # flags restored
    assert imported.unsupported == []
    assert ops_of(imported)[3:10] == [
        ("conv", "layer1.0.conv1"), ("bn", "layer1.0.bn1"), ("relu", "layer1.0.relu"),
        ("conv", "layer1.0.conv2"), ("bn", "layer1.0.bn2"), ("add", "layer1.0.add"),
        ("relu", "layer1.0.relu_2")]
    assert ops_of(imported)[-2:] == [("gap", "avgpool"), ("fc", "fc")]  # pool + flatten
    add = imported.graph["layer1_0_add"]
    assert sorted(add.inputs) == ["layer1_0_bn2", "stem_2"]
    assert imported.classes["layer1.0"] == "BasicBlock" and imported.classes[""] == "TinyResNet"
    # weights in the emitted module's state_dict order, the step counter left out
    bn = imported.weights["layer1_0_bn1"]
    assert len(bn) == 4 and torch.equal(bn[2], model.layer1[0].bn1.running_mean)
    assert [tuple(t.shape) for t in imported.weights["fc"]] == [(10, 16), (10,)]
    assert self_check(model, imported) <= REL_TOL


class SqueezeExcite(nn.Module):
    """torchvision's SqueezeExcitation: a Cx1x1 map scales the input."""

    def __init__(self, c: int, r: int):
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(c, r, 1)
        self.fc2 = nn.Conv2d(r, c, 1)

    def forward(self, x):
        s = self.fc2(F.relu(self.fc1(self.avgpool(x))))
        return x * torch.sigmoid(s)


class OldSqueezeExcite(nn.Module):
    """The original implementation: a vector of C, viewed as Cx1x1, expanded."""

    def __init__(self, c: int, r: int):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Sequential(nn.Linear(c, r), nn.ReLU(inplace=True), nn.Linear(r, c),
                                nn.Sigmoid())

    def forward(self, x):
        b, c, _, _ = x.size()
        y = self.fc(self.pool(x).view(b, c)).view(b, c, 1, 1)
        return x * y.expand_as(x)


def test_squeeze_and_excitation_both_ways():
    model = randomize(nn.Sequential(nn.Conv2d(3, 16, 3), SqueezeExcite(16, 4),
                                    OldSqueezeExcite(16, 4)))
    imported = import_module(model, (3, 10, 10))
    assert imported.unsupported == []
    assert [op for op, _ in ops_of(imported)] == [
        "conv", "adaptiveavgpool", "conv", "relu", "conv", "sigmoid", "mul",
        "gap", "fc", "relu", "fc", "sigmoid", "mul"]
    mul = imported.graph["2_mul"]
    assert [str(imported.graph[i].type) for i in mul.inputs] == ["16x8x8", "16"]
    assert self_check(model, imported) <= REL_TOL


def channel_shuffle(x, groups: int):
    n, c, h, w = x.size()
    x = x.view(n, groups, c // groups, h, w)
    x = torch.transpose(x, 1, 2).contiguous()
    return x.view(n, -1, h, w)


class ShuffleUnit(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.branch = nn.Sequential(nn.Conv2d(c // 2, c // 2, 1), nn.ReLU())

    def forward(self, x):
        a, b = x.chunk(2, dim=1)
        return channel_shuffle(torch.cat((a, self.branch(b)), dim=1), 2)


def test_chunk_cat_and_channel_shuffle():
    model = randomize(nn.Sequential(nn.Conv2d(3, 8, 1), ShuffleUnit(8)))
    imported = import_module(model, (3, 5, 5))
    assert imported.unsupported == []
    got = [(n.op, dict(n.attrs)) for n in imported.graph][1:]
    assert got == [("conv", dict(imported.graph["0"].attrs)),
                   ("slice", {"start": 0, "stop": 4}), ("slice", {"start": 4, "stop": 8}),
                   ("conv", dict(imported.graph["1_branch_0"].attrs)), ("relu", {}),
                   ("concat", {}), ("shuffle", {"groups": 2})]
    assert self_check(model, imported) <= REL_TOL


class DropPath(nn.Module):
    """timm's: per sample, survivors scaled."""

    def __init__(self, drop_prob: float = 0.0):
        super().__init__()
        self.drop_prob, self.scale_by_keep = drop_prob, True

    def forward(self, x):
        if self.drop_prob == 0.0 or not self.training:
            return x
        keep = 1 - self.drop_prob
        mask = x.new_empty((x.shape[0], 1, 1, 1)).bernoulli_(keep)
        return x * mask / keep


class ConvNeXtBlock(nn.Module):
    """torchvision's CNBlock: the MLP in channels-last code, a layer scale of Cx1x1."""

    def __init__(self, c: int, p: float):
        super().__init__()
        self.dw = nn.Conv2d(c, c, 7, padding=3, groups=c)
        self.norm = nn.LayerNorm(c, eps=1e-6)
        self.pw1, self.act, self.pw2 = nn.Linear(c, 4 * c), nn.GELU(), nn.Linear(4 * c, c)
        self.layer_scale = nn.Parameter(torch.full((c, 1, 1), 1e-6))
        self.drop_path = DropPath(p)

    def forward(self, x):
        y = self.dw(x).permute(0, 2, 3, 1)
        y = self.pw2(self.act(self.pw1(self.norm(y)))).permute(0, 3, 1, 2)
        return x + self.drop_path(self.layer_scale * y)


class TimmConvNeXtBlock(nn.Module):
    """timm's: F.layer_norm, a gamma of C reshaped, F.gelu."""

    def __init__(self, c: int):
        super().__init__()
        self.dw = nn.Conv2d(c, c, 3, padding=1, groups=c)
        self.weight, self.bias = nn.Parameter(torch.ones(c)), nn.Parameter(torch.zeros(c))
        self.fc = nn.Linear(c, c)
        self.gamma = nn.Parameter(torch.ones(c))

    def forward(self, x):
        y = self.dw(x).permute(0, 2, 3, 1)
        y = F.gelu(self.fc(F.layer_norm(y, (y.shape[-1],), self.weight, self.bias, 1e-6)))
        return x + y.permute(0, 3, 1, 2).mul(self.gamma.reshape(1, -1, 1, 1))


def test_channels_last_layer_norm_linear_and_layer_scale():
    model = randomize(nn.Sequential(nn.Conv2d(3, 8, 1), ConvNeXtBlock(8, 0.1),
                                    TimmConvNeXtBlock(8)))
    imported = import_module(model, (3, 6, 6))
    assert imported.unsupported == []
    assert ops_of(imported) == [
        ("conv", "0"), ("conv", "1.dw"), ("layernorm", "1.norm"), ("conv", "1.pw1"),
        ("gelu", "1.act"), ("conv", "1.pw2"), ("layerscale", "1.layer_scale"),
        ("droppath", "1.drop_path"), ("add", "1.add"),
        ("conv", "2.dw"), ("layernorm", "2"), ("conv", "2.fc"), ("gelu", "2.gelu"),
        ("layerscale", "2.layerscale"), ("add", "2.add")]
    g = imported.graph
    assert dict(g["1_pw1"].attrs)["kernel"] == (1, 1) and dict(g["1_norm"].attrs)["eps"] == 1e-6
    assert dict(g["1_drop_path"].attrs)["p"] == 0.1
    w = imported.weights["1_pw1"][0]  # the Linear's weight as a 1x1 conv's
    assert tuple(w.shape) == (32, 8, 1, 1) and torch.equal(w[:, :, 0, 0], model[1].pw1.weight)
    assert tuple(imported.weights["2_layerscale"][0].shape) == (8, 1, 1)
    assert self_check(model, imported) <= REL_TOL


class BatchNormAct(nn.BatchNorm2d):
    """timm's BatchNormAct2d: a batch norm subclass with a forward of its own."""

    def __init__(self, c: int):
        super().__init__(c)
        self.act = nn.SiLU()

    def forward(self, x):
        x = F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                         self.training, self.momentum, self.eps)
        return self.act(x)


class Conv2dSame(nn.Conv2d):
    """timm's dynamic 'same' padding: F.pad from the input's size (a branch on a shape,
    in max(), takes the way the real run takes), then the conv."""

    def forward(self, x):
        ih, iw = x.size()[-2:]
        kh, kw = self.weight.shape[-2:]
        ph = max((math.ceil(ih / self.stride[0]) - 1) * self.stride[0] + kh - ih, 0)
        pw = max((math.ceil(iw / self.stride[1]) - 1) * self.stride[1] + kw - iw, 0)
        x = F.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2])
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


def test_subclasses_with_a_forward_of_their_own_are_traced_through():
    model = randomize(nn.Sequential(Conv2dSame(3, 8, 4, stride=2), BatchNormAct(8)))
    imported = import_module(model, (3, 9, 9))
    assert imported.unsupported == []
    assert ops_of(imported) == [("conv", "0"), ("bn", "1"), ("silu", "1.act")]
    conv = dict(imported.graph["0"].attrs)
    assert conv["pad"] == (1, 2, 1, 2) and conv["kernel"] == (4, 4)  # the pad folded in
    assert len(imported.weights["1"]) == 4
    assert self_check(model, imported) <= REL_TOL


class PlainConv(nn.Conv2d):
    def __init__(self, cin: int, cout: int):  # only a constructor: still a Conv2d
        super().__init__(cin, cout, 3, padding=1)


def test_a_subclass_adding_only_a_constructor_reads_as_its_base():
    imported = import_module(nn.Sequential(PlainConv(3, 4)), (3, 5, 5))
    assert ops_of(imported) == [("conv", "0")] and imported.unsupported == []


def test_settings_the_language_cannot_say_are_reported_by_the_operator():
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, padding_mode="reflect"),
                          nn.BatchNorm2d(4, track_running_stats=False), nn.GELU("tanh"),
                          nn.Dropout2d(0.1))
    imported = import_module(model, (3, 5, 5))
    assert [str(u) for u in imported.unsupported] == [
        "Conv2d: padding_mode='reflect': conv pads with zeros only at 0",
        "BatchNorm2d: track_running_stats=False: batch norm here keeps running statistics "
        "for inference at 1",
        "GELU: approximate='tanh': gelu is the exact (erf) form at 2", "Dropout2d at 3"]
    imported = import_module(nn.Sequential(nn.Conv2d(3, 4, 1), nn.LayerNorm(5)), (3, 5, 5))
    assert [str(u) for u in imported.unsupported] == [
        "LayerNorm: nn.LayerNorm on a 4x5x5 input: over the last axis (width), not the "
        "channels at 1"]


class SelectiveKernel(nn.Module):
    """timm's SKNet: branches stacked, summed, a softmax across them weighs them."""

    def __init__(self, c: int):
        super().__init__()
        self.paths = nn.ModuleList([nn.Conv2d(c, c, 3, padding=1),
                                    nn.Conv2d(c, c, 3, padding=2, dilation=2)])
        self.reduce, self.select = nn.Conv2d(c, 4, 1), nn.Conv2d(4, 2 * c, 1)

    def forward(self, x):
        x = torch.stack([p(x) for p in self.paths], dim=1)
        a = self.select(F.relu(self.reduce(x.sum(1).mean((2, 3), keepdim=True))))
        b, c, h, w = a.shape
        a = torch.softmax(a.view(b, 2, c // 2, h, w), dim=1)
        return torch.sum(x * a, dim=1)


def test_a_softmax_across_stacked_branches():
    model = randomize(nn.Sequential(nn.Conv2d(3, 6, 1), SelectiveKernel(6)))
    imported = import_module(model, (3, 5, 5))
    assert imported.unsupported == []
    assert [op for op, _ in ops_of(imported)] == [
        "conv", "conv", "conv", "concat", "slice", "slice", "add", "adaptiveavgpool",
        "conv", "relu", "conv", "groupsoftmax", "mul", "slice", "slice", "add"]
    assert dict(imported.graph["1_groupsoftmax"].attrs) == {"groups": 2}
    assert self_check(model, imported) <= REL_TOL


def test_a_final_softmax_is_computed_and_noted():
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 3), nn.Softmax(dim=1))
    imported = import_module(model, (3, 2, 2))
    last = imported.graph[imported.graph.output]
    assert (last.op, dict(last.attrs)) == ("softmax", {"head": False})
    assert any("ends with a softmax" in note for note in imported.notes)
    assert self_check(model, imported) <= REL_TOL


# ---------------------------------------------------------------- unsupported
class Clip(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x.clamp(-1, 1)

    @staticmethod
    def backward(ctx, g):
        return g


class Odd(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 1)
        self.attn = nn.MultiheadAttention(4, 2, batch_first=True)

    def forward(self, x):
        x = self.conv(x)
        x = torch.where(x > 0, x, 0.1 * x)
        x = torch.where(x > 1, x, x * 2)
        tokens = x.flatten(2).transpose(1, 2)
        x = x + self.attn(tokens, tokens, tokens)[0].mean()
        return Clip.apply(x[:, :, 0])


def test_what_has_no_counterpart_is_reported_by_name_path_and_count():
    imported = import_module(Odd(), (4, 3, 3))
    found = {(u.what, u.path): u.count for u in imported.unsupported}
    assert found == {("operator.gt", ""): 2, ("torch.where", ""): 2,
                     ("MultiheadAttention", "attn"): 1, ("indexing [:, :, 0]", ""): 1,
                     ("autograd.Function Clip", ""): 1}
    # the part that could be read: the conv (the output depends on what could not)
    assert ops_of(imported)[0] == ("conv", "conv")


class LayerScale(nn.Module):
    """Named as the emission's helper, but it shifts too: not a layer scale."""

    def __init__(self, c: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(c, 1, 1))

    def forward(self, x):
        return x * self.weight + 1


def test_a_class_named_as_an_emitted_helper_must_compute_as_it():
    imported = import_module(nn.Sequential(nn.Conv2d(3, 4, 1), LayerScale(4)), (3, 3, 3))
    assert [str(u) for u in imported.unsupported] == [
        "LayerScale: named as the emission's layerscale but computes otherwise at 1"]


class Branchy(nn.Module):
    def __init__(self):
        super().__init__()
        self.head = nn.Conv2d(3, 4, 1)
        self.gate = Gate()
        self.tail = nn.Conv2d(4, 2, 1)

    def forward(self, x):
        return self.tail(self.gate(self.head(x)))


class Gate(nn.Module):
    def forward(self, x):
        if x.sum() > 0:  # data-dependent: fx cannot trace it
            return x
        return -x


def test_data_dependent_control_flow_is_reported_at_its_module():
    imported = import_module(Branchy(), (3, 4, 4))
    assert [(u.what, u.path, u.count) for u in imported.unsupported] == [
        ("data-dependent control flow (fx cannot trace it)", "gate", 1)]
    assert ops_of(imported) == [("conv", "head")]  # read as far as it goes


def test_shared_weights_and_bad_inputs():
    conv = nn.Conv2d(3, 3, 1)
    imported = import_module(nn.Sequential(conv, nn.ReLU(), conv), (3, 4, 4))
    assert [str(u) for u in imported.unsupported] == [
        "Conv2d called 2 times (shared weights) at 0"]
    with pytest.raises(ImportFailure, match="not CxHxW"):
        import_module(nn.ReLU(), (1, 3, 8, 8))
    with pytest.raises(ImportFailure, match="fails on an input of 3x4x4"):
        import_module(nn.Sequential(nn.Conv2d(3, 3, 7)), (3, 4, 4))


def test_the_self_check_catches_a_wrong_weight():
    model = randomize(TinyResNet())
    imported = import_module(model, (3, 8, 8))
    imported.weights["fc"][0] = imported.weights["fc"][0] * 2
    assert self_check(model, imported) > 0.01
    imported.weights["fc"] = imported.weights["fc"][:1]
    with pytest.raises(CheckFailure, match="1 tensors for 2"):
        rebuild(imported)
