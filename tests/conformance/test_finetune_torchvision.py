"""Fine-tuning from torchvision's ResNet-18 weights (``--init FILE``): a state dict saved
from ``torchvision.models.resnet18()`` (random weights, saved here: nothing is
downloaded) loads onto the zoo's ``resnet18`` with 3 classes; every layer but the head
equals torchvision's after loading, and the head is replaced and reported."""

from __future__ import annotations

import pytest

import cnndsl
from cnndsl.port import torchvision_key_map

pytestmark = pytest.mark.conformance

torch = pytest.importorskip("torch")
models = pytest.importorskip("torchvision.models")


def test_resnet18_weights_load_onto_three_classes(tmp_path):
    from cnndsl.train.finetune import load_init

    torch.manual_seed(0)
    ref = models.resnet18()
    path = tmp_path / "resnet18.pth"
    torch.save(ref.state_dict(), path)
    names = torchvision_key_map(ref, cnndsl.compile("resnet18").to_torch())
    ours = cnndsl.compile("resnet18", bindings={"classes": 3}, input="3x64x64").to_torch()
    notes = load_init(ours, str(path))
    assert notes == [f"init: weights from {path}; the classifier (head1.fc1) starts afresh: the "
                     "file's has 1000 classes"]
    state, theirs = ours.state_dict(), ref.state_dict()
    head = [k for k in names if k.startswith("fc.")]
    assert head == ["fc.weight", "fc.bias"] and state[names["fc.weight"]].shape == (3, 512)
    for key, mine in names.items():
        if key not in head:
            assert torch.equal(state[mine], theirs[key]), key


def test_train_from_torchvision_weights_reports_the_new_head(tmp_path):
    from cnndsl.train import train

    path = tmp_path / "resnet18.pth"
    torch.save(models.resnet18().state_dict(), path)
    h = train(cnndsl.compile("resnet18", input="3x32x32"),
              "synthetic:N=48,shape=3x32x32,classes=3", init=str(path), epochs=1,
              batch_size=16, progress="none", plots=False)
    assert any("compiled with classes=3 (was 1000)" in n for n in h.notes)
    assert any("the classifier (head1.fc1) starts afresh" in n for n in h.notes)
    assert h.model.head1.fc1.out_features == 3
