"""The CUDA fast paths (run with -m gpu on a machine with a GPU)."""

from __future__ import annotations

import math

import pytest
import torch
from fakenet import FakeNetwork

from cnndsl.train import train

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]

SYN = "synthetic:N=512,shape=3x16x16,classes=4,seed=1,noise=0.3"
FAST = dict(epochs=3, batch_size=64, lr=0.01, device="cuda", progress="none", plots=False)


def net() -> FakeNetwork:
    return FakeNetwork("tiny", (3, 16, 16), 4, bindings={"bn": True}, name="tiny")


@pytest.mark.parametrize("amp", ["off", "bf16", "fp16"])
def test_amp_trains(amp: str) -> None:
    if amp == "bf16" and not torch.cuda.is_bf16_supported():
        pytest.skip("no bf16 on this GPU")
    h = train(net(), SYN, amp=amp, **FAST)
    assert all(math.isfinite(v) for v in h["train_loss"])
    assert h["train_loss"][-1] < h["train_loss"][0] and h.best["val_acc"] > 0.5


def test_resident_and_pinned_data_give_the_same_model() -> None:
    kw = dict(FAST, amp="off", channels_last=False, deterministic=True)
    a = train(net(), SYN, data_on_device=True, **kw).model.state_dict()
    b = train(net(), SYN, data_on_device=False, pin_memory=True, **kw).model.state_dict()
    for k in a:
        assert torch.allclose(a[k], b[k], atol=1e-5), k


def test_channels_last_and_augmentation_on_the_gpu() -> None:
    h = train(net(), SYN, channels_last=True, augment="crop:2,flip", **FAST)
    assert next(h.model.parameters()).is_cuda
    assert h.model[0].weight.is_contiguous(memory_format=torch.channels_last)
