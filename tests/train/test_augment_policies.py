"""Each augmentation's effect on a fixed batch, and the policies end to end: the
random-resized crop, colour jitter, TrivialAugment's operations, mixup and CutMix (with
the loss weighing both labels), the named presets, and an exact resume with them on."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from cnndsl.diagnostics import UserError
from cnndsl.train import train
from cnndsl.train.data import augment_ops as ops
from cnndsl.train.data.augment import Augment, Extra

FAST = dict(progress="none", plots=False)


def batch(n: int = 4, c: int = 3, size: int = 16) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return torch.rand(n, c, size, size, generator=g)


def test_parse_presets_and_bad_values():
    assert Augment.parse("imagenet") == Augment(flip=True, rrc=0.08, jitter=0.4)
    assert Augment.parse("basic").spec() == "crop:4,flip"
    a = Augment.parse("rrc,jitter,trivial,mixup,cutmix")
    assert (a.rrc, a.jitter, a.trivial, a.mixup, a.cutmix) == (0.08, 0.4, True, 0.2, 1.0)
    assert Augment.parse(a.spec()) == a  # the spec round-trips (checkpoints store it)
    for bad in ("rrc:0", "rrc:2", "jitter:-1", "crop:1.5", "mixup:x", "blur"):
        with pytest.raises(UserError):
            Augment.parse(bad)


def test_resized_crop_of_a_box_equals_cropping_then_resizing():
    x = batch()
    box = torch.tensor([[0.25, 0.5, 0.5, 0.5]]).repeat(4, 1)  # x 4..12, y 8..16 of 16
    got = ops.resized_crop(x, box)
    want = F.interpolate(x[:, :, 8:16, 4:12], size=(16, 16), mode="bilinear",
                         align_corners=False)
    # equal inside; on the box's edge the crop reads the pixels beyond it, interpolate
    # repeats the edge
    assert torch.allclose(got[..., 1:-1, 1:-1], want[..., 1:-1, 1:-1], atol=1e-5)
    whole = ops.resized_crop(x, torch.tensor([[0.0, 0.0, 1.0, 1.0]]).repeat(4, 1))
    assert torch.allclose(whole, x, atol=1e-5)
    boxes = ops.rrc_boxes(1000, 0.08, torch.Generator().manual_seed(1))
    area = boxes[:, 2] * boxes[:, 3]
    assert area.min() >= 0.08 * 0.74 and area.max() <= 1.0 + 1e-6  # clamped to the image
    assert ((boxes[:, 0] + boxes[:, 2]) <= 1 + 1e-6).all()


def test_jitter_factors_scale_brightness_contrast_saturation():
    x = batch() * 0.5
    same = ops.jitter(x, torch.ones(4, 3))
    assert torch.allclose(same, x, atol=1e-6)
    brighter = ops.jitter(x, torch.tensor([[1.5, 1.0, 1.0]]).repeat(4, 1))
    assert torch.allclose(brighter, (x * 1.5).clamp(0, 1), atol=1e-6)
    flat = ops.jitter(x, torch.tensor([[1.0, 0.0, 1.0]]).repeat(4, 1))  # no contrast
    assert torch.allclose(ops.grey(flat).std((2, 3)), torch.zeros(4, 1), atol=1e-6)
    grey = ops.jitter(x, torch.tensor([[1.0, 1.0, 0.0]]).repeat(4, 1))  # no saturation
    assert torch.allclose(grey[:, 0], grey[:, 1], atol=1e-6)


def test_trivial_operations_do_what_they_say():
    x = batch(n=len(ops.TRIVIAL_OPS))
    kinds = torch.arange(len(ops.TRIVIAL_OPS))
    out = ops.trivial(x, kinds, torch.ones(len(kinds)), torch.ones(len(kinds)))
    name = dict(zip(ops.TRIVIAL_OPS, range(len(kinds))))
    assert torch.equal(out[name["identity"]], x[name["identity"]])
    i = name["solarize"]  # strength 1: threshold 0, everything inverted
    assert torch.allclose(out[i], 1 - x[i])
    i = name["posterize"]  # strength 1: 4 bits, 16 levels
    assert len(torch.unique(out[i])) <= 16
    i = name["autocontrast"]
    assert out[i].amin((1, 2)).allclose(torch.zeros(3)) and \
        out[i].amax((1, 2)).allclose(torch.ones(3))
    i = name["translate_x"]  # a shift left by 1/14 of the width: black comes in on the right
    assert (out[i][..., -1] == 0).all() and (out[i][..., 0] != 0).any()
    i = name["rotate"]
    assert not torch.equal(out[i], x[i]) and out[i].shape == x[i].shape
    weak = ops.trivial(x, kinds, torch.zeros(len(kinds)), torch.ones(len(kinds)))
    keep = [name[k] for k in ("brightness", "contrast", "color", "rotate", "shear_x")]
    assert torch.allclose(weak[keep], x[keep], atol=1e-5)  # strength 0: nothing changes


def test_mixup_and_cutmix_mix_with_the_mirror_batch():
    x = batch()
    mixed, lam = ops.mix(x, 0.7, None)
    assert lam == 0.7 and torch.allclose(mixed, 0.7 * x + 0.3 * x.flip(0))
    cut, lam = ops.mix(x, 0.5, (2, 4, 8, 8))
    assert lam == 1 - 64 / 256
    assert torch.equal(cut[:, :, 2:10, 4:12], x.flip(0)[:, :, 2:10, 4:12])
    assert torch.equal(cut[:, :, :2], x[:, :, :2])
    g = torch.Generator().manual_seed(3)
    box = ops.cut_box(16, 16, 0.75, g)
    assert box[2] <= 8 and box[3] <= 8  # about a quarter of the area, clipped at the edge
    a = Augment(mixup=0.2)
    out, lam = a.mix(x, torch.Generator().manual_seed(4))
    assert 0 <= lam <= 1 and torch.allclose(out, lam * x + (1 - lam) * x.flip(0))
    one, lam = a.mix(x[:1], g)  # a batch of one has no partner
    assert one is not None and torch.equal(one, x[:1]) and lam == 1.0


def test_the_loss_of_a_mixed_batch_weighs_both_labels():
    from cnndsl.train.data.feeder import Batch
    from cnndsl.train.loop import Trainer

    logits = torch.randn(4, 3)
    y = torch.tensor([0, 1, 2, 1])
    b = Batch(torch.zeros(4, 1, 2, 2), y, 4, lam=0.25)
    t = Trainer.__new__(Trainer)
    t.recipe = type("R", (), {"label_smoothing": 0.0})()
    want = 0.25 * F.cross_entropy(logits, y, reduction="sum") + \
        0.75 * F.cross_entropy(logits, y.flip(0), reduction="sum")
    assert torch.allclose(t._loss(logits, b), want)


def test_policies_train_and_resume_exactly(tmp_path):
    from fakenet import FakeNetwork

    data = "synthetic:N=96,shape=3x16x16,classes=4,seed=1"
    net = FakeNetwork("tiny", (3, 16, 16), 4, name="tiny", bindings={"bn": True})
    kw = dict(epochs=2, batch_size=16, augment="strong", optimizer="sgd", lr=0.05, seed=2,
              **FAST)
    full = train(net, data, out=tmp_path / "full", **kw)
    assert all(math.isfinite(r["train_loss"]) for r in full.records)

    def stop(ev) -> None:
        if ev.kind == "epoch" and ev.epoch == 1:
            ev.stop()

    train(net, data, out=tmp_path / "part", callback=stop, **kw)
    resumed = train(net, resume=tmp_path / "part", **FAST)
    a, b = full.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_extra_take_shards_every_row():
    e = Extra(torch.arange(8.0).view(4, 2), None, torch.arange(4), torch.arange(4.0),
              torch.ones(4))
    part = e.take(slice(1, None, 2))
    assert part.boxes.tolist() == [[2.0, 3.0], [6.0, 7.0]] and part.ops.tolist() == [1, 3]
