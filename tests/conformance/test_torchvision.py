"""Conformance: every zoo network with a torchvision counterpart computes what torchvision
computes, once torchvision's (random) weights are ported across.

Run by the conformance job (``.ci/conformance``) with torchvision installed:
``python -m pytest -m conformance tests/conformance``. Skipped where torchvision is absent.
The counterpart of a zoo file is the ``torchvision.models.NAME`` its header names.
"""

from __future__ import annotations

import re

import pytest

import cnndsl
from cnndsl.api import ZOO_DIR
from cnndsl.port import torchvision_key_map, translate_state_dict

pytestmark = pytest.mark.conformance

torch = pytest.importorskip("torch")
models = pytest.importorskip("torchvision.models")

REL_TOL = 1e-5
# Smaller inputs where the architecture allows (global or adaptive pooling before the
# classifier); VGG (a fixed 7x7x512 flatten) and the 299 Inception stay at full size.
INPUT = {"googlenet": 112, "resnet18": 112, "resnet34": 112, "resnet50": 112,
         "resnet101": 112, "resnet152": 112, "resnext50_32x4d": 112,
         "wide_resnet50_2": 112, "densenet121": 112, "densenet161": 112,
         "densenet169": 112, "densenet201": 112, "squeezenet1_0": 112,
         "squeezenet1_1": 112, "mobilenet_v2": 112}
# Builder options: the zoo files leave their auxiliary classifiers out unless `--set aux=1`
# (test_auxiliary_heads_equal_torchvision covers them).
KWARGS = {"googlenet": {"aux_logits": False, "init_weights": True},
          "inception_v3": {"aux_logits": False, "init_weights": True}}
EXPECTED = {"alexnet", "vgg11", "vgg13", "vgg16", "vgg19", "vgg16_bn", "googlenet",
            "inception_v3", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
            "resnext50_32x4d", "wide_resnet50_2", "densenet121", "densenet161",
            "densenet169", "densenet201", "squeezenet1_0", "squeezenet1_1", "mobilenet_v2"}


def counterparts() -> dict[str, str]:
    """zoo name -> torchvision model name, from the zoo files' headers."""
    out = {}
    for p in sorted(ZOO_DIR.glob("*.cnn")):
        found = re.findall(r"torchvision\.models\.(\w+)", p.read_text(encoding="utf-8"))
        if found:
            out[p.stem] = found[0]
    return out


CASES = counterparts()


def test_every_torchvision_model_of_the_acceptance_list_has_a_zoo_file():
    assert set(CASES.values()) == EXPECTED


def randomize_norm_layers(model) -> None:
    """Give every BN non-trivial statistics and affine parameters, so that porting them
    matters (torchvision initializes them to 0/1)."""
    g = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            n = m.num_features
            m.running_mean.copy_(torch.rand(n, generator=g) * 0.2 - 0.1)
            m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
            if m.affine:
                m.weight.data.copy_(torch.rand(n, generator=g) + 0.5)
                m.bias.data.copy_(torch.rand(n, generator=g) * 0.2 - 0.1)


def relative_error(ours, ref) -> float:
    return ((ours - ref).abs().max() / ref.abs().max().clamp_min(1e-30)).item()


def build_pair(zoo_name: str):
    tv_name = CASES[zoo_name]
    torch.manual_seed(0)
    ref = getattr(models, tv_name)(weights=None, **KWARGS.get(tv_name, {})).eval()
    with torch.no_grad():
        randomize_norm_layers(ref)
    size = INPUT.get(tv_name)
    net = cnndsl.compile(zoo_name, input=f"3x{size}x{size}" if size else None)
    ours = net.to_torch().eval()
    return ref, ours, net


@pytest.mark.parametrize("zoo_name", sorted(CASES))
def test_outputs_equal_torchvision_after_porting(zoo_name):
    ref, ours, net = build_pair(zoo_name)
    pairs = cnndsl.port_weights(ref, ours)
    assert len(pairs) == len(ref.state_dict())
    x = torch.randn(2, *net.input_shape, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        want, got = ref(x), ours(x)
    assert got.shape == want.shape == (2, 1000)
    err = relative_error(got, want)
    print(f"{zoo_name}: max relative error {err:.2e}")
    assert err <= REL_TOL


@pytest.mark.parametrize("zoo_name", ["resnet50", "googlenet", "densenet121"])
def test_torchvision_checkpoint_loads_with_load_state_dict(zoo_name):
    """A torchvision checkpoint (here: a state_dict, auxiliary heads included where the
    model has them) renamed by torchvision_key_map loads with strict load_state_dict."""
    ref, ours, net = build_pair(zoo_name)
    tv_name = CASES[zoo_name]
    sd = ref.state_dict()
    if tv_name == "googlenet":  # torchvision's published weights carry aux1/aux2
        sd = getattr(models, tv_name)(weights=None, aux_logits=True,
                                      init_weights=True).state_dict()
        sd.update(ref.state_dict())
    mapping = torchvision_key_map(sd, ours)
    ours.load_state_dict(translate_state_dict(sd, mapping), strict=True)
    x = torch.randn(1, *net.input_shape)
    with torch.no_grad():
        assert relative_error(ours(x), ref(x)) <= REL_TOL


# ---------------------------------------------------------------- timm, where installed
TIMM = {"seresnet50": "seresnet50", "inception_v4": "inception_v4",
        "inception_resnet_v2": "inception_resnet_v2"}


@pytest.mark.parametrize("zoo_name", sorted(TIMM))
def test_outputs_equal_timm_after_porting(zoo_name):
    timm = pytest.importorskip("timm")
    torch.manual_seed(0)
    ref = timm.create_model(TIMM[zoo_name], pretrained=False).eval()
    with torch.no_grad():
        randomize_norm_layers(ref)
    size = 112 if zoo_name == "seresnet50" else None
    net = cnndsl.compile(zoo_name, input=f"3x{size}x{size}" if size else None)
    ours = net.to_torch().eval()
    cnndsl.port_weights(ref, ours)
    x = torch.randn(2, *net.input_shape, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        err = relative_error(ours(x), ref(x))
    print(f"{zoo_name}: max relative error {err:.2e}")
    assert err <= REL_TOL


@pytest.mark.parametrize("zoo_name", ["googlenet", "inception_v3"])
def test_auxiliary_heads_equal_torchvision(zoo_name):
    """With --set aux=1 the zoo file has torchvision's aux_logits=True structure: the
    same parameter count, and in training the same main and auxiliary outputs."""
    tv_name = CASES[zoo_name]
    torch.manual_seed(0)
    ref = getattr(models, tv_name)(weights=None, aux_logits=True, init_weights=True)
    size = 299 if zoo_name == "inception_v3" else 112
    net = cnndsl.compile(zoo_name, params={"aux": 1}, input=f"3x{size}x{size}")
    ours = net.to_torch()
    assert net.params_count == sum(p.numel() for p in ref.parameters())
    x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(2))
    for m in (*ref.modules(), *ours.modules()):  # compare the training graph without noise
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0
    ref.train(), ours.train()  # the heads run in training only: port in forward order
    cnndsl.port_weights(ref, ours, example_input=x)
    with torch.no_grad():
        want, got = ref(x), ours(x)
    want = (want.logits, want.aux_logits1, want.aux_logits2) if tv_name == "googlenet" \
        else (want.logits, want.aux_logits)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert relative_error(g, w) <= REL_TOL
