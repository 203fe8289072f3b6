"""Transform (resize, channels, normalisation), augmentation, splits, batches,
schedules, recipes and presets."""

from __future__ import annotations

import math

import pytest
import torch

from cnndsl.diagnostics import UserError
from cnndsl.train.config import make_recipe
from cnndsl.train.data import Augment, Feeder, ImageSet, Transform, prepare
from cnndsl.train.data.split import stratified_split
from cnndsl.train.schedule import Schedule


def test_transform_resizes_and_replicates_channels() -> None:
    t = Transform.fit((1, 8, 8), (3, 32, 32), 16.0)
    x = torch.full((2, 1, 8, 8), 8, dtype=torch.uint8)
    y = t(x)
    assert y.shape == (2, 3, 32, 32)
    assert torch.allclose(y, torch.full_like(y, 0.5))  # 8/16, constant image stays constant
    assert t.describe() == ("input: data 1x8x8 -> network 3x32x32: 1 channel replicated to "
                            "3; resized 8x8 -> 32x32 (bilinear)")


def test_transform_averages_rgb_and_downsizes_with_antialias() -> None:
    t = Transform.fit((3, 4, 4), (1, 2, 2), 255.0)
    x = torch.zeros((1, 3, 4, 4), dtype=torch.uint8)
    x[0, 0] = 255  # pure red
    assert torch.allclose(t(x), torch.full((1, 1, 2, 2), 1 / 3))
    assert "3 channels averaged to 1; resized 4x4 -> 2x2 (bilinear, antialiased)" in t.describe()
    with pytest.raises(UserError, match="the data has 3 channels but the network's input has 2"):
        Transform.fit((3, 4, 4), (2, 4, 4), 255.0)
    with pytest.raises(UserError, match="needs an input CxHxW"):
        Transform.fit((3, 4, 4), (48,), 255.0)


def test_normalisation_gives_zero_mean_unit_variance() -> None:
    g = torch.Generator().manual_seed(0)
    x = (torch.rand((200, 3, 6, 6), generator=g) * torch.tensor([50.0, 120, 250]).view(1, 3, 1, 1))
    images = ImageSet(x.round().to(torch.uint8), torch.zeros(200, dtype=torch.int64))
    t = Transform.fit((3, 6, 6), (3, 6, 6), 255.0).with_stats(images)
    z = t(images.pixels)
    assert torch.allclose(z.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-4)
    assert torch.allclose(z.std(dim=(0, 2, 3)), torch.ones(3), atol=1e-2)
    assert Transform.from_json(t.to_json()) == t


def test_random_crop_is_a_shift_with_zero_padding() -> None:
    a = Augment.parse("crop:2")
    x = torch.arange(1 * 1 * 5 * 5, dtype=torch.float32).view(1, 1, 5, 5) + 1
    out = a.apply(x, torch.tensor([[0, 4]]), torch.tensor([False]))
    # offset (0, 4) in the padded image: two rows of padding above, shift left by 2
    expect = torch.zeros(5, 5)
    expect[2:, :3] = x[0, 0, :3, 2:]
    assert torch.equal(out[0, 0], expect)
    centred = a.apply(x, torch.tensor([[2, 2]]), torch.tensor([False]))
    assert torch.equal(centred, x)


def test_flip_and_draw() -> None:
    a = Augment.parse("crop:1,flip")
    assert a == Augment(pad=1, flip=True) and a.spec() == "crop:1,flip"
    x = torch.arange(8, dtype=torch.float32).view(2, 1, 1, 4)
    out = Augment(flip=True).apply(x, torch.zeros(2, 2, dtype=torch.long),
                                   torch.tensor([True, False]))
    assert out[0, 0, 0].tolist() == [3, 2, 1, 0] and out[1, 0, 0].tolist() == [4, 5, 6, 7]
    o1, f1 = a.draw(1000, torch.Generator().manual_seed(5))
    o2, f2 = a.draw(1000, torch.Generator().manual_seed(5))
    assert torch.equal(o1, o2) and torch.equal(f1, f2)
    assert set(o1.unique().tolist()) == {0, 1, 2} and 400 < int(f1.sum()) < 600
    with pytest.raises(UserError, match="unknown augmentation 'rotate'"):
        Augment.parse("rotate")


def test_stratified_split_keeps_class_balance() -> None:
    y = torch.tensor([0] * 50 + [1] * 30 + [2] * 20)
    tr, va = stratified_split(y, 0.2, seed=1)
    assert torch.bincount(y[va]).tolist() == [10, 6, 4]
    assert sorted(torch.cat([tr, va]).tolist()) == list(range(100))
    tr2, va2 = stratified_split(y, 0.2, seed=1)
    assert torch.equal(va, va2)
    assert not torch.equal(va, stratified_split(y, 0.2, seed=2)[1])


def test_prepare_default_split_and_labels() -> None:
    p = prepare("digits", (1, 16, 16), 10)
    assert len(p.val) == 359 and len(p.train) == 1438 and p.val_name.startswith("20%")
    p0 = prepare("digits", (1, 8, 8), 10, val_split=0)
    assert p0.val is None and len(p0.train) == 1797
    with pytest.raises(UserError, match="out of range for 5 classes"):
        prepare("digits", (1, 8, 8), 5)
    with pytest.raises(UserError, match="12 class scores but digits has 10 classes"):
        prepare("digits", (1, 8, 8), 12)


def test_feeder_shards_the_global_batch() -> None:
    images = ImageSet(torch.arange(10, dtype=torch.float32).view(10, 1, 1, 1),
                      torch.arange(10), scale=1.0)
    t = Transform.fit((1, 1, 1), (1, 1, 1), 1.0)
    cpu = torch.device("cpu")
    single = [b.y.tolist() for b in Feeder(images, t, cpu).batches(4, seed=3, shuffle=True,
                                                                    train=True)]
    shards = [[b.y.tolist() for b in Feeder(images, t, cpu, world=2, rank=r).batches(
        4, seed=3, shuffle=True, train=True)] for r in (0, 1)]
    assert [len(b) for b in single] == [4, 4, 2]
    assert len(shards[0]) == len(shards[1]) == 2  # 2 samples cannot give each process two
    for step, batch in enumerate(single[:2]):
        assert sorted(shards[0][step] + shards[1][step]) == sorted(batch)
        assert shards[0][step] == batch[0::2]
    # an epoch's order depends on (seed, epoch) only; later steps can be replayed alone
    f = Feeder(images, t, cpu)
    assert [b.y.tolist() for b in f.batches(4, seed=3, shuffle=True, start=1)] == single[1:]
    assert single != [b.y.tolist() for b in f.batches(4, seed=3, epoch=1, shuffle=True)]
    # a last batch too small for two samples per process is dropped in training only
    assert Feeder(images, t, cpu, world=2).steps(4, train=True) == 2
    assert Feeder(images, t, cpu, world=2).steps(4, train=False) == 3


def test_schedules() -> None:
    cos = Schedule("cosine", 1.0, epochs=10, steps_per_epoch=10)
    assert cos.lr(0, 0) == 1.0 and math.isclose(cos.lr(5, 0), 0.5)
    assert cos.lr(9, 9) < 0.001
    one = Schedule("onecycle", 1.0, epochs=10, steps_per_epoch=10)
    assert math.isclose(one.lr(0, 0), 0.04) and math.isclose(one.lr(3, 0), 1.0)
    assert one.lr(9, 9) < 1e-3
    warm = Schedule("none", 0.1, epochs=5, steps_per_epoch=4, warmup=1)
    assert [round(warm.lr(0, s), 4) for s in range(4)] + [warm.lr(1, 0)] == \
        [0.025, 0.05, 0.075, 0.1, 0.1]
    p = Schedule("plateau", 0.1, epochs=20, steps_per_epoch=1, patience=2)
    dropped = [p.end_epoch(a) for a in (0.5, 0.6, 0.6, 0.59, 0.7, 0.7, 0.7)]
    assert dropped == [False, False, False, True, False, False, True]
    assert math.isclose(p.lr(7, 0), 0.001)
    q = Schedule("plateau", 0.1, epochs=20, steps_per_epoch=1, patience=2)
    q.load_state_dict(p.state_dict())
    assert q.lr(0, 0) == p.lr(0, 0) and q.best == 0.7


def test_recipes_and_presets() -> None:
    a = make_recipe("alexnet2012").resolved()
    assert (a.optimizer, a.momentum, a.lr, a.weight_decay, a.batch_size, a.schedule) == \
        ("sgd", 0.9, 1e-2, 5e-4, 128, "plateau")
    assert a.network_bindings == {"dropout": 0.5}
    r = make_recipe("resnet2015", lr=0.05).resolved()
    assert (r.optimizer, r.momentum, r.lr, r.batch_size, r.schedule, r.init) == \
        ("sgd", 0.9, 0.05, 256, "plateau", "he")
    d = make_recipe(optimizer="adadelta").resolved()
    assert (d.lr, d.weight_decay, d.momentum, d.epochs, d.batch_size) == (1.0, 0.0, 0.0, 10, 64)
    assert make_recipe(optimizer="adamw").resolved().weight_decay == 0.01
    assert make_recipe(optimizer="Adam, SGD").optimizers == ["adam", "sgd"]


@pytest.mark.parametrize("kwargs,message", [
    ({"optimizer": "adma"}, "did you mean 'adam'"),
    ({"optimizer": "adam,adam"}, "named twice"),
    ({"schedule": "cosin"}, "did you mean 'cosine'"),
    ({"epochs": 0}, "--epochs 0: must be >= 1"),
    ({"lr": -1.0}, "--lr -1.0: must be > 0"),
    ({"label_smoothing": 1.0}, "must be in \\[0, 1\\)"),
    ({"nesterov": True, "optimizer": "adam"}, "applies to sgd only"),
    ({"nesterov": True, "optimizer": "sgd", "momentum": 0.0}, "needs momentum > 0"),
])
def test_bad_recipe_values(kwargs: dict, message: str) -> None:
    with pytest.raises(UserError, match=message) as e:
        make_recipe(**kwargs)
    assert e.value.exit_code == 2
