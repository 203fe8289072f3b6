"""Conformance: torchvision's 68 classification CNNs and a sample of timm's CNN families
(one or two models each) import with the PyTorch front end (cnndsl.importer.torch_trace)
with no unsupported operation, and the graph read, rebuilt with the original's weights,
computes what the original computes (random weights, non-trivial norm statistics, eval
mode, the smallest input each model takes). timm models that hold operations the
language has no counterpart for are imported too: the report names them.

Run by the conformance job (``.ci/conformance``) where torchvision and timm are
installed: ``python -m pytest -m conformance tests/conformance``; each half skips without
its library.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.conformance

torch = pytest.importorskip("torch")

from cnndsl.importer.torch_check import self_check  # noqa: E402
from cnndsl.importer.torch_trace import import_module  # noqa: E402

REL_TOL = 1e-5
CATALOGUE = sorted(json.loads((Path(__file__).parents[1] / "data" / "refs" /
                               "torchvision_catalogue.json").read_text())["params"])
# The smallest input each model takes (32 unless listed): Inception's stems need 75.
TV_SIZE = {"alexnet": 64, "inception_v3": 75}
TV_KWARGS = {"googlenet": {"aux_logits": False, "init_weights": True},
             "inception_v3": {"aux_logits": False, "init_weights": True}}
# timm: a model or two of each CNN family, with its smallest input (VoVNet's last pool,
# 3x3 in ceil mode, would see a 2x2 map at 32: more than the language lets a window).
TIMM = dict.fromkeys([
    "resnet18", "resnet26t", "resnet50d", "seresnet50", "resnetrs50", "resnetv2_50",
    "legacy_seresnet18", "resnext26ts", "gernet_s", "repvgg_a2", "regnetz_b16",
    "cspresnet50", "cspdarknet53", "cs3darknet_s", "darknet53", "cspnext_tiny",
    "densenet121", "dla34", "dla60x", "dpn68",
    "efficientnet_b0", "tf_efficientnet_b0", "efficientnet_b0_gn", "efficientnet_lite0",
    "efficientnetv2_rw_t", "tf_efficientnetv2_b0", "mixnet_s", "tf_mixnet_s", "tinynet_a",
    "fbnetc_100", "spnasnet_100", "mnasnet_100", "semnasnet_100", "mobilenetv2_100",
    "mobilenetv3_large_100", "tf_mobilenetv3_large_100", "lcnet_050", "fbnetv3_b",
    "mobilenetv4_conv_small", "ghostnet_100", "hardcorenas_a", "hgnet_tiny",
    "hrnet_w18_small", "legacy_xception", "xception41", "regnetx_002", "regnety_002",
    "repghostnet_050", "repvit_m1", "res2net50_26w_4s", "res2next50", "resnest14d",
    "rexnet_100", "selecsls42b", "skresnet18", "vgg11", "convnext_atto",
    "convmixer_768_32", "starnet_s1", "fasternet_t0", "inception_next_atto", "rdnet_tiny",
    "lcnetv2_small"], 32) | {"ghostnetv2_100": 48, "vovnet39a": 48, "ese_vovnet19b_dw": 48,
                             "inception_v3": 75, "inception_v4": 75,
                             "inception_resnet_v2": 75}
# timm models beyond the language, each with an operation the report must name.
TIMM_BEYOND = {
    "ecaresnet26t": "Conv1d",  # ECA: a 1-D conv across the channels
    "eca_resnext26ts": "Conv1d",
    "gcresnet33ts": "operator.matmul",  # global context attention
    "densenetblur121d": "F.pad with mode='reflect'",  # the blur pool's padding
    "hgnetv2_b0": "by a learned tensor of 1",  # a learned scalar scale
    "dm_nfnet_f0": "computed or fixed weights",  # weight standardization
    "nf_resnet26": "computed or fixed weights",
    "resnetv2_50x1_bit": "computed or fixed weights",
    "resnest50d_4s2x40d": "Tensor.view from",  # a radix softmax over 4 cardinal groups
    "tresnet_m": "Tensor.view from",  # space to depth
}


def randomize(model):
    """Non-trivial statistics, norm parameters and scales (the defaults are 0, 1 and
    1e-6), so that reading them wrongly shows in the outputs."""
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm) and \
                    m.running_mean is not None:
                m.running_mean.copy_(torch.rand(m.num_features, generator=g) * 0.2 - 0.1)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
        for name, p in model.named_parameters():
            if p.dim() == 1 or name.endswith(("gamma", "layer_scale")):
                p.copy_(torch.rand(p.shape, generator=g) + 0.5)
    return model.eval()


def check(model, name: str, size: int) -> None:
    imported = import_module(randomize(model), (3, size, size), name)
    assert [str(u) for u in imported.unsupported] == []
    err = self_check(model, imported)
    print(f"{name}: {len(imported.graph.nodes)} nodes, max relative error {err:.2e}")
    assert err <= REL_TOL


@pytest.mark.parametrize("name", CATALOGUE)
def test_torchvision_models_import_and_compute_the_same(name):
    models = pytest.importorskip("torchvision.models")
    torch.manual_seed(0)
    check(getattr(models, name)(weights=None, **TV_KWARGS.get(name, {})), name,
          TV_SIZE.get(name, 32))


@pytest.mark.parametrize("name", sorted(TIMM))
def test_timm_models_import_and_compute_the_same(name):
    timm = pytest.importorskip("timm")
    torch.manual_seed(0)
    check(timm.create_model(name, pretrained=False), name, TIMM[name])


@pytest.mark.parametrize("name", sorted(TIMM_BEYOND))
def test_timm_models_beyond_the_language_name_what_stops_them(name):
    timm = pytest.importorskip("timm")
    imported = import_module(timm.create_model(name, pretrained=False), (3, 32, 32), name)
    found = [str(u) for u in imported.unsupported]
    assert any(TIMM_BEYOND[name] in f for f in found), found
