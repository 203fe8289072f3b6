"""Trained models leave cleanly: ``cnndsl export`` to ONNX (checked with onnxruntime),
TorchScript and source + weights, each computing what the trained module computes;
``cnndsl.load_run`` gives the module, its classes and its normalisation."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

import cnndsl
from cnndsl.cli import main
from cnndsl.diagnostics import UserError
from cnndsl.outputs import generated_by_cnndsl
from cnndsl.train import train
from cnndsl.train.export import export, load_run

FAST = dict(progress="none", plots=False)
SMALL_RESNET = """network small_resnet(classes=3):
    input 3x16x16
    conv(8, 3, bias=false) - bn - relu
    residual(conv(8, 3, bias=false) - bn - relu - conv(8, 3, bias=false) - bn) - relu
    residual(conv(16, 3, 2, bias=false) - bn - relu - conv(16, 3, bias=false) - bn,
             shortcut=proj) - relu
    gap - fc(classes)
"""
SYN3 = "synthetic:N=96,shape=3x16x16,classes=3,seed=4"


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("runs")
    train(cnndsl.compile("lenet5"), "digits", epochs=1, out=root / "lenet5", **FAST)
    train(cnndsl.compile(SMALL_RESNET), SYN3, epochs=2, batch_size=16, out=root / "resnet",
          **FAST)
    return {"lenet5": root / "lenet5", "resnet": root / "resnet"}


def batch(m) -> torch.Tensor:
    return torch.randn(4, *m.input_shape, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("name", ["lenet5", "resnet"])
def test_load_run_gives_the_trained_module_and_its_data_facts(runs, name):
    m = load_run(runs[name])
    ckpt = torch.load(runs[name] / "best.pt", weights_only=True)
    assert m.checkpoint == runs[name] / "best.pt" and not m.module.training
    assert m.classes == ckpt["classes"] and m.input_shape == tuple(ckpt["input_shape"])
    assert list(m.mean) == ckpt["transform"]["mean"] and len(m.std) == m.input_shape[0]
    state = m.module.state_dict()
    assert all(torch.equal(state[k], v) for k, v in ckpt["state_dict"].items())
    x = torch.rand(2, *m.input_shape)
    assert torch.allclose(m.normalize(x)[:, 0], (x[:, 0] - m.mean[0]) / m.std[0])
    assert m.metrics and m.metrics[-1]["epoch"] == ckpt["epoch"]


@pytest.mark.parametrize("name", ["lenet5", "resnet"])
def test_onnx_export_computes_the_probabilities_of_the_trained_model(runs, name, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    out = tmp_path / "model.onnx"
    assert export(runs[name], out) == [out]
    m = load_run(runs[name])
    x = batch(m)
    with torch.no_grad():
        want = torch.softmax(m.module(x), dim=1).numpy()
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    got = session.run(None, {"input": x.numpy()})[0]
    assert got.shape == want.shape and abs(got - want).max() < 1e-4
    assert generated_by_cnndsl(out)


@pytest.mark.parametrize("name", ["lenet5", "resnet"])
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_torchscript_export_runs_without_cnndsl(runs, name, tmp_path):
    out = tmp_path / "model.pt"
    export(runs[name], out)
    m = load_run(runs[name])
    x = batch(m)
    scripted = torch.jit.load(str(out))
    with torch.no_grad():
        assert torch.equal(scripted(x), m.module(x))
    assert generated_by_cnndsl(out)


def test_source_export_writes_the_module_and_its_weights(runs, tmp_path):
    out = tmp_path / "resnet_model.py"
    paths = export(runs["resnet"], out)
    weights = tmp_path / "resnet_model_weights.pt"
    assert paths == [out, weights] and all(generated_by_cnndsl(p) for p in paths)
    spec = importlib.util.spec_from_file_location("resnet_model", out)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = module.build()
    model.load_state_dict(torch.load(weights, weights_only=True))
    model.eval()
    m = load_run(runs["resnet"])
    x = batch(m)
    with torch.no_grad():
        assert torch.equal(model(x), m.module(x))


def test_export_replaces_its_own_files_and_keeps_others(runs, tmp_path):
    out = tmp_path / "model.pt"
    export(runs["lenet5"], out)
    export(runs["lenet5"], out)  # its own file: replaced
    foreign = tmp_path / "other.pt"
    torch.save({"w": torch.zeros(1)}, foreign)
    assert not generated_by_cnndsl(foreign)
    with pytest.raises(UserError, match="not written by cnndsl"):
        export(runs["lenet5"], foreign)
    export(runs["lenet5"], foreign, force=True)
    with pytest.raises(UserError, match="unknown export format '.h5'"):
        export(runs["lenet5"], tmp_path / "model.h5")


def test_export_command_and_compile_of_a_run(runs, tmp_path, capsys):
    out = tmp_path / "m.onnx"
    assert main(["export", str(runs["lenet5"]), "-o", str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().err
    assert main(["compile", str(runs["lenet5"])]) == 2
    err = capsys.readouterr().err
    assert "is a training run, not .cnn source" in err and "cnndsl export" in err
    assert main(["summary", str(runs["lenet5"] / "last.pt")]) == 2
    assert "is a PyTorch file" in capsys.readouterr().err
