"""Conformance: each of torchvision's 68 classification CNNs, compiled from the zoo by its
torchvision name, has torchvision's parameter count and conv + linear MACs and computes
what torchvision computes once torchvision's (random) weights are ported across.

Run by the conformance job (``.ci/conformance``) with torchvision installed:
``python -m pytest -m conformance tests/conformance``. Skipped where torchvision is absent.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import cnndsl
from cnndsl.port import torchvision_key_map, translate_state_dict

pytestmark = pytest.mark.conformance

torch = pytest.importorskip("torch")
models = pytest.importorskip("torchvision.models")

REL_TOL = 1e-5
CATALOGUE = json.loads((Path(__file__).parents[1] / "data" / "refs" /
                        "torchvision_catalogue.json").read_text())["params"]
# Where a zoo name means the slides' network, torchvision's keeps a suffix.
ZOO_NAME = {"alexnet": "alexnet_tv"}
# Inputs: small where the architecture allows (global or adaptive pooling before the
# classifier); VGG (a fixed 7x7x512 flatten) and the 299 Inception stay at full size.
FULL_SIZE = {"inception_v3"} | {n for n in CATALOGUE if n.startswith("vgg")}
SMALL = 64
# Builder options: the zoo files leave their auxiliary classifiers out unless `--set aux=1`
# (test_auxiliary_heads_equal_torchvision covers them).
KWARGS = {"googlenet": {"aux_logits": False, "init_weights": True},
          "inception_v3": {"aux_logits": False, "init_weights": True}}
# The 68 classification CNNs of torchvision, every one a zoo network or family member.
CASES = {tv: ZOO_NAME.get(tv, tv) for tv in sorted(CATALOGUE)}


def test_the_catalogue_is_torchvisions_cnns():
    """Every classification builder of torchvision but the transformers (ViT, Swin, MaxViT)."""
    builders = {n for n in models.list_models(module=models)
                if not n.startswith(("vit_", "swin_", "maxvit_"))}
    assert builders == set(CATALOGUE)


def randomize_norm_layers(model) -> None:
    """Give every BN non-trivial statistics and affine parameters, every layer norm and
    layer scale non-trivial values, so that porting them matters (torchvision
    initializes them to 0/1 and 1e-6)."""
    g = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            n = m.num_features
            m.running_mean.copy_(torch.rand(n, generator=g) * 0.2 - 0.1)
            m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
        if isinstance(m, (torch.nn.modules.batchnorm._BatchNorm, torch.nn.LayerNorm)) \
                and m.weight is not None:
            m.weight.data.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
            m.bias.data.copy_(torch.rand(m.bias.shape, generator=g) * 0.2 - 0.1)
    for name, p in model.named_parameters():
        if name.endswith("layer_scale"):
            p.data.copy_(torch.rand(p.shape, generator=g) + 0.5)


def relative_error(ours, ref) -> float:
    return ((ours - ref).abs().max() / ref.abs().max().clamp_min(1e-30)).item()


def conv_linear_macs(model, x) -> int:
    """Conv and linear multiply-accumulates of one sample, from forward hooks (bias adds
    excluded): what fvcore counts for conv and linear."""
    total = 0

    def hook(m, inputs, out):
        nonlocal total
        if isinstance(m, torch.nn.Conv2d):
            k = m.weight.shape[1] * m.weight.shape[2] * m.weight.shape[3]
            total += out[0].numel() * k
        else:
            total += out[0].numel() * m.in_features
    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    with torch.no_grad():
        model(x[:1])
    for h in handles:
        h.remove()
    return total


def build_pair(tv_name: str):
    torch.manual_seed(0)
    ref = getattr(models, tv_name)(weights=None, **KWARGS.get(tv_name, {})).eval()
    with torch.no_grad():
        randomize_norm_layers(ref)
    size = None if tv_name in FULL_SIZE else SMALL
    net = cnndsl.compile(CASES[tv_name], input=f"3x{size}x{size}" if size else None)
    ours = net.to_torch().eval()
    return ref, ours, net


@pytest.mark.parametrize("tv_name", sorted(CASES))
def test_outputs_equal_torchvision_after_porting(tv_name):
    ref, ours, net = build_pair(tv_name)
    assert net.params_count == sum(p.numel() for p in ref.parameters())
    pairs = cnndsl.port_weights(ref, ours)
    assert len(pairs) == len(ref.state_dict())
    x = torch.randn(2, *net.input_shape, generator=torch.Generator().manual_seed(2))
    assert net.cost.macs == conv_linear_macs(ref, x)
    with torch.no_grad():
        want, got = ref(x), ours(x)
    assert got.shape == want.shape == (2, 1000)
    err = relative_error(got, want)
    print(f"{tv_name}: max relative error {err:.2e}")
    assert err <= REL_TOL


@pytest.mark.parametrize("zoo_name", ["resnet50", "googlenet", "densenet121"])
def test_torchvision_checkpoint_loads_with_load_state_dict(zoo_name):
    """A torchvision checkpoint (here: a state_dict, auxiliary heads included where the
    model has them) renamed by torchvision_key_map loads with strict load_state_dict."""
    tv_name = zoo_name
    ref, ours, net = build_pair(tv_name)
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
    net = cnndsl.compile(zoo_name, bindings={"aux": 1}, input=f"3x{size}x{size}")
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
