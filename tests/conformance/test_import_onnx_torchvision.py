"""Conformance: torchvision's models exported by torch.onnx (random weights, eval mode,
the TorchScript exporter's defaults: batch norms folded into the convolutions, a dynamic
batch) are read by the ONNX front end and compute what onnxruntime computes from the
file, within a relative error of 1e-5.

Run by the conformance job (``.ci/conformance``); skipped where torchvision, onnx or
onnxruntime is absent.
"""

from __future__ import annotations

import io
import warnings

import pytest

pytestmark = pytest.mark.conformance

torch = pytest.importorskip("torch")
models = pytest.importorskip("torchvision.models")
pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from cnndsl.importer.onnx_check import REL_TOL, check_onnx  # noqa: E402
from cnndsl.importer.onnx_read import import_onnx  # noqa: E402

# The families' representatives (Inception-v3 at its 299, VGG and AlexNet at 224, which
# their 7x7 and 6x6 adaptive pools need; the rest at 64), and a few more members.
MODELS = ["resnet18", "mobilenet_v2", "densenet121", "squeezenet1_0", "shufflenet_v2_x0_5",
          "efficientnet_b0", "regnet_y_400mf", "convnext_tiny", "googlenet", "inception_v3",
          "mnasnet0_5", "vgg11", "alexnet", "mobilenet_v3_small", "resnext50_32x4d",
          "regnet_x_400mf", "squeezenet1_1", "shufflenet_v2_x1_0", "efficientnet_v2_s",
          "vgg11_bn", "wide_resnet50_2", "mobilenet_v3_large"]
SIZE = {"inception_v3": 299, "vgg11": 224, "vgg11_bn": 224, "alexnet": 224}
KWARGS = {"googlenet": {"aux_logits": False, "init_weights": True},
          "inception_v3": {"aux_logits": False, "init_weights": True}}


def randomized(name: str):
    """The model in eval mode with non-trivial batch-norm statistics, affine parameters
    and layer scales (torchvision initializes them to 0/1 and 1e-6)."""
    torch.manual_seed(0)
    model = models.get_model(name, weights=None, **KWARGS.get(name, {})).eval()
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.running_mean.copy_(torch.rand(m.num_features, generator=g) * 0.2 - 0.1)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            if isinstance(m, (torch.nn.modules.batchnorm._BatchNorm, torch.nn.LayerNorm)):
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
                m.bias.copy_(torch.rand(m.bias.shape, generator=g) * 0.2 - 0.1)
        for key, p in model.named_parameters():
            if key.endswith("layer_scale"):
                p.copy_(torch.rand(p.shape, generator=g) + 0.5)
    return model


def exported(model, size: int, opset: int = 17) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.zeros(1, 3, size, size),), buffer,
                          input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "batch"}}, opset_version=opset,
                          dynamo=False)
    return buffer.getvalue()


@pytest.mark.parametrize("name", MODELS)
def test_torchvision_onnx_imports_and_computes_the_same(name):
    model = randomized(name)
    data = exported(model, SIZE.get(name, 64))
    imported = import_onnx(data, name)
    assert imported.unsupported == []
    assert str(imported.graph.output_type) == "1000"
    err = check_onnx(data, imported)
    print(f"{name}: {len(imported.graph)} nodes, max relative error {err:.2e}")
    assert err <= REL_TOL


@pytest.mark.parametrize("opset", [11, 13, 18, 20])
def test_other_opsets(opset):
    """Layer norm written out before opset 17 (ConvNeXt), hard swish as x * HardSigmoid
    (MobileNetV3), channel shuffle's shape arithmetic (ShuffleNetV2)."""
    for name in ("convnext_tiny", "mobilenet_v3_small", "shufflenet_v2_x0_5"):
        data = exported(randomized(name), 64, opset)
        imported = import_onnx(data, name)
        assert imported.unsupported == [], name
        assert check_onnx(data, imported) <= REL_TOL, name
