"""Fine-tuning from a weights file (``--init FILE``): a state dict written by another
implementation of the same architecture (here a hand-written PyTorch model with its own
names; torchvision's ResNet-18 in tests/conformance) loads by structure, and a data set
with another class count gets a new classifier, said out loud. Without ``--init``, a
class-count mismatch is an error that says what to change."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

import cnndsl
from cnndsl.cli import main
from cnndsl.diagnostics import UserError
from cnndsl.train import train
from cnndsl.train.finetune import load_init, read_state_dict

FAST = dict(progress="none", plots=False)
NET = """network small(classes=10):
    input 3x16x16
    conv(8, 3, bias=false) - bn - relu - maxpool(2)
    conv(16, 3) - relu - gap
    fc(classes)
"""
SYN3 = "synthetic:N=60,shape=3x16x16,classes=3,seed=1"


class Reference(nn.Module):
    """The same architecture written by hand, with other names."""

    def __init__(self, classes: int = 10) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8))
        self.body = nn.Conv2d(8, 16, 3, padding=1)
        self.head = nn.Linear(16, classes)

    def forward(self, x):
        x = nn.functional.max_pool2d(torch.relu(self.stem(x)), 2)
        return self.head(torch.relu(self.body(x)).mean((2, 3)))


def saved(tmp_path: Path, classes: int = 10, wrap: str | None = None) -> tuple[Path, dict]:
    torch.manual_seed(3)
    ref = Reference(classes)
    with torch.no_grad():
        ref.stem[1].running_mean.uniform_(-1, 1)
    state = ref.state_dict()
    path = tmp_path / "ref.pth"
    torch.save({wrap: {f"module.{k}": v for k, v in state.items()}} if wrap else state, path)
    return path, state


def test_every_weight_loads_by_structure(tmp_path):
    path, state = saved(tmp_path, wrap="state_dict")  # DDP names inside a checkpoint
    model = cnndsl.compile(NET).to_torch()
    assert load_init(model, str(path)) == [f"init: every weight from {path}"]
    ours = model.state_dict()
    assert torch.equal(ours["conv1.weight"], state["stem.0.weight"])
    assert torch.equal(ours["bn1.running_mean"], state["stem.1.running_mean"])
    assert torch.equal(ours["fc1.weight"], state["head.weight"])


def test_a_new_class_count_replaces_only_the_classifier(tmp_path):
    path, state = saved(tmp_path)
    model = cnndsl.compile(NET, bindings={"classes": 3}).to_torch()
    fresh = model.fc1.weight.detach().clone()
    notes = load_init(model, str(path))
    assert notes == [f"init: weights from {path}; the classifier (fc1) starts afresh: "
                     "the file's has 10 classes"]
    assert torch.equal(model.conv2.weight, state["body.weight"])
    assert torch.equal(model.fc1.weight, fresh)


def test_train_with_init_compiles_the_data_classes_and_says_so(tmp_path, capsys):
    path, state = saved(tmp_path)
    src = tmp_path / "small.cnn"
    src.write_text(NET)
    assert main(["train", str(src), "--data", SYN3, "--init", str(path), "--epochs", "1",
                 "--batch-size", "20", "--lr", "1e-9", "--out", str(tmp_path / "run"),
                 "--progress", "lines", "--no-plots"]) == 0
    out = capsys.readouterr().out
    assert "the data has 3 classes: the network is compiled with classes=3 (was 10)" in out
    assert "the classifier (fc1) starts afresh: the file's has 10 classes" in out
    ckpt = torch.load(tmp_path / "run" / "last.pt", weights_only=True)
    assert ckpt["bindings"]["classes"] == 3 and ckpt["num_classes"] == 3
    # a rate of 1e-9 leaves the loaded weights as they were, to float precision
    assert torch.allclose(ckpt["state_dict"]["conv2.weight"], state["body.weight"], atol=1e-6)


def test_a_class_count_mismatch_without_init_is_an_error(tmp_path):
    with pytest.raises(UserError, match="10 class scores but synthetic.* has 3 classes") as e:
        train(cnndsl.compile(NET), SYN3, epochs=1, **FAST)
    assert e.value.exit_code == 1 and "--set classes=3" in e.value.help


def test_weights_of_another_architecture_are_refused(tmp_path):
    other = tmp_path / "other.pt"
    torch.save(nn.Sequential(nn.Conv2d(3, 4, 5), nn.Linear(4, 10)).state_dict(), other)
    with pytest.raises(UserError, match="its weights do not fit this network"):
        load_init(cnndsl.compile(NET).to_torch(), str(other))
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a zip")
    with pytest.raises(UserError, match="cannot read it as a PyTorch weights file"):
        read_state_dict(bad)
    with pytest.raises(UserError, match="no such file"):
        train(cnndsl.compile(NET, bindings={"classes": 3}), SYN3, init=str(tmp_path / "x.pt"),
              epochs=1, **FAST)


RESNET = """block basic(c, s=1) = residual(conv(c, 3, s, bias=false) - bn - relu
    - conv(c, 3, bias=false) - bn, shortcut=proj) - relu

network small_resnet(classes=3):
    input 3x16x16
    conv(8, 3, bias=false) - bn - relu
    basic(8) - basic(16, 2)
    gap - fc(classes)
"""


def test_freeze_up_to_a_block_keeps_its_weights_and_statistics():
    net = cnndsl.compile(RESNET)
    before = {k: v.clone() for k, v in net.to_torch().state_dict().items()}
    seen: dict = {}

    def grab(ev) -> None:
        if ev.kind == "step" and ev.step == 1:
            seen["start"] = {k: v.clone() for k, v in ev.trainer.base.state_dict().items()}

    h = train(net, SYN3, epochs=2, batch_size=16, freeze="basic1", callback=grab,
              optimizer="sgd", lr=0.1, **FAST)
    start, after = seen["start"], h.model.state_dict()
    frozen = [k for k in after if k.startswith(("conv1.", "bn1.", "basic1."))]
    trained = [k for k in after if k.startswith(("basic2.", "fc1."))
               and not k.endswith("num_batches_tracked")]
    assert frozen and trained and before.keys() == after.keys()
    assert all(torch.equal(after[k], start[k]) for k in frozen)  # weights and BN statistics
    assert all(not torch.equal(after[k], start[k]) for k in trained if "running" not in k)


def test_freeze_names_and_the_head_rate(tmp_path):
    from cnndsl.train.config import make_recipe
    from cnndsl.train.freeze import frozen_paths, head_parameters
    from cnndsl.train.optim import make_optimizer, set_lr

    net = cnndsl.compile(RESNET)
    assert frozen_paths(net, "bn1") == ["conv1", "bn1"]
    assert frozen_paths(net, "basic1_conv2")[-1] == "basic1.conv2"
    assert frozen_paths(net, "basic1.bn1")[-1] == "basic1.bn1"
    assert frozen_paths(net, "basic1")[-1].startswith("basic1.")
    with pytest.raises(UserError, match="--freeze basc1: no layer") as e:
        frozen_paths(net, "basc1")
    assert "did you mean basic1" in e.value.help
    model = net.to_torch()
    head = head_parameters(net, model)
    assert [p.shape for p in head] == [torch.Size([3, 16]), torch.Size([3])]
    opt = make_optimizer(model, make_recipe(optimizer="sgd", lr=0.1, head_lr=10.0).resolved(),
                         torch.device("cpu"), head)
    set_lr(opt, 0.1)
    assert [g["lr"] for g in opt.param_groups] == [0.1, pytest.approx(1.0)]
    assert opt.param_groups[1]["params"][0] is model.fc1.weight
    with pytest.raises(UserError, match="nothing is left to train"):
        train(net, SYN3, epochs=1, freeze="fc1", **FAST)
