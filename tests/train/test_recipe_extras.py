"""The parts of airbench94's recipe (``--preset airbench94``), each checked on its own on
tiny data, then together on a narrow airbench94 with an exact resume.

The preset's target (94% CIFAR-10 test accuracy in 3.83 s on an A100) needs a GPU and
the CIFAR-10 files: ``benchmarks/gpu/airbench.py`` runs it where both are present.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import cnndsl
from cnndsl.diagnostics import UserError
from cnndsl.train import train
from cnndsl.train.config import make_recipe
from cnndsl.train.data.augment import Augment
from cnndsl.train.evaluate import tta_logits
from cnndsl.train.initialize import apply_init
from cnndsl.train.lookahead import DECAY, Lookahead
from cnndsl.train.optim import make_optimizer, set_lr
from cnndsl.train.whitening import EPS, patches, whiten, whitening_layer

FAST = dict(progress="none", plots=False)
# airbench94 at a tenth of its widths, on CIFAR-shaped synthetic data
NARROW = {"w1": 8, "w2": 16, "w3": 16}
SYN = "synthetic:N=192,shape=3x32x32,classes=10,seed=2,noise=0.5"


def narrow():
    return cnndsl.compile("airbench94", bindings=NARROW)


def test_preset_is_airbench94s_steps_for_a_mean_loss():
    r = make_recipe("airbench94").resolved()
    # airbench94.py sums the loss; its lr 11.5 and decay 0.0153 are divided by
    # 1024 * (1 + 1 / (1 - 0.85)); per mean loss the rate is 1024 times as large and the
    # decay 1024 times as small, so that the step lr * (grad + decay * w) is the same.
    kilostep = 1024 * (1 + 1 / (1 - 0.85))
    assert r.lr == pytest.approx(11.5 / kilostep * 1024)
    assert r.lr * r.weight_decay == pytest.approx(11.5 / kilostep * 0.0153 * 1024 / kilostep)
    assert (r.optimizer, r.momentum, r.nesterov, r.batch_size) == ("sgd", 0.85, True, 1024)
    assert (r.label_smoothing, r.schedule, r.warmup_start, r.lr_end) == (0.2, "linear", 0.2, 0.07)
    assert r.warmup / r.epochs == pytest.approx(0.23)
    assert (r.whiten, r.whiten_bias_epochs, r.lookahead, r.tta) == (True, 3.0, True,
                                                                   "flip-translate")


def test_whitening_decorrelates_the_patches():
    g = torch.Generator().manual_seed(0)
    mix = torch.randn(3, 3, generator=g)  # correlated channels, smooth in space
    x = torch.einsum("dc,bchw->bdhw", mix, torch.randn(64, 3, 16, 16, generator=g))
    x = F.avg_pool2d(x, 3, 1, padding=1)
    conv = nn.Conv2d(3, 24, 2)
    whiten(conv, x)
    assert not conv.weight.requires_grad
    w = conv.weight.detach().double()
    assert torch.equal(w[12:], -w[:12])  # each filter and its negative
    p = patches(x.double(), 2, 2)
    y = p @ w[:12].reshape(12, -1).T
    cov = y.T @ y / len(y)
    # uncorrelated, each of variance l / (l + eps) for the patches' eigenvalues l,
    # largest first (eps = 5e-4 keeps near-empty directions finite)
    values = torch.linalg.eigvalsh(p.T @ p / len(p)).flip(0)
    assert torch.allclose(cov, torch.diag(values / (values + EPS)), atol=1e-4)
    assert (torch.diag(cov)[:6] > 0.99).all()


def test_whitening_needs_a_first_conv_of_twice_the_patch_size():
    model = nn.Sequential(nn.Conv2d(3, 16, 3), nn.ReLU())
    with pytest.raises(UserError, match=r"16 filters of 3x3x3.*2 x 3\*3\*3 = 54") as e:
        whitening_layer(model)
    assert "conv(54, 3x3)" in e.value.help
    assert whitening_layer(nn.Sequential(nn.Conv2d(3, 54, 3))).out_channels == 54


def test_dirac_init_passes_the_first_channels_through():
    conv = nn.Conv2d(4, 6, 3, padding=1, bias=False)
    assert apply_init(nn.Sequential(conv), "dirac") == 1
    x = torch.randn(2, 4, 5, 5)
    assert torch.allclose(conv(x)[:, :4], x, atol=1e-6)  # filters 4, 5 stay random
    assert conv.weight[4:].abs().sum() > 0


def test_norm_biases_get_their_own_rate_and_decay():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Linear(4, 2))
    r = make_recipe(optimizer="sgd", lr=0.5, weight_decay=0.01, norm_bias_lr=64.0,
                    freeze_norm_weight=True).resolved()
    model[1].weight.requires_grad_(False)
    opt = make_optimizer(model, r, torch.device("cpu"))
    set_lr(opt, 0.25)
    rest, norm = opt.param_groups
    assert [p.shape for p in norm["params"]] == [torch.Size([4])]
    assert norm["params"][0] is model[1].bias
    assert (rest["lr"], norm["lr"]) == (0.25, 16.0)
    assert norm["weight_decay"] == pytest.approx(0.01 / 64)
    assert all(p is not model[1].weight for g in opt.param_groups for p in g["params"])


def test_lookahead_pulls_the_weights_to_their_average():
    model = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(1.0)
    la = Lookahead(model, total_steps=10)
    with torch.no_grad():
        model.weight.fill_(3.0)
    la.after_step(4)  # not a multiple of 5: nothing happens
    assert model.weight.flatten().tolist() == [3.0, 3.0]
    la.after_step(5)
    d = DECAY * 0.5 ** 3
    assert model.weight[0, 0].item() == pytest.approx(d * 1 + (1 - d) * 3)
    avg = model.weight[0, 0].item()
    with torch.no_grad():
        model.weight.fill_(7.0)
    la.after_step(10)  # the last step: the weights become the average
    assert model.weight[0, 0].item() == pytest.approx(avg)


def test_test_time_augmentation_averages_mirrored_and_shifted_copies():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.LazyLinear(3))
    x = torch.randn(2, 1, 6, 6)
    model(x)
    assert torch.equal(tta_logits(model, x, "none"), model(x))
    flip = 0.5 * (model(x) + model(x.flip(3)))
    assert torch.allclose(tta_logits(model, x, "flip"), flip)
    p = F.pad(x, (1, 1, 1, 1), mode="reflect")
    ups = [p[..., :6, :6], p[..., 2:, 2:]]
    want = 0.5 * flip + 0.25 * sum(0.5 * (model(u) + model(u.flip(3))) for u in ups)
    assert torch.allclose(tta_logits(model, x, "flip-translate"), want)


def test_translate_pads_with_the_reflection():
    aug = Augment.parse("translate:2")
    assert (aug.pad, aug.reflect, aug.spec()) == (2, True, "translate:2")
    x = torch.arange(1.0, 17.0).view(1, 1, 4, 4)
    out = aug.apply(x, torch.tensor([[0, 4]]), torch.tensor([False]))  # up 2, right 2
    assert torch.equal(out, F.pad(x, (2, 2, 2, 2), mode="reflect")[..., 0:4, 4:8])
    assert (out > 0).all()  # no black border
    crop = Augment.parse("crop:2").apply(x, torch.tensor([[0, 4]]), torch.tensor([False]))
    assert (crop == 0).sum() == 12


def test_frozen_weights_stay_and_the_whitening_bias_trains_only_at_first(tmp_path: Path):
    seen: list[torch.Tensor] = []

    def whitening_bias(ev) -> None:
        if ev.kind == "epoch":
            seen.append(ev.trainer.whitening.bias.detach().clone())

    h = train(narrow(), SYN, epochs=3, batch_size=32, preset="airbench94",
              whiten_bias_epochs=1, callback=whitening_bias, **FAST)
    model = h.model
    first = whitening_layer(model)
    assert not first.weight.requires_grad and not first.bias.requires_grad
    assert torch.equal(seen[0], seen[1]) and torch.equal(seen[1], seen[2])
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert bns and all(torch.equal(b.weight, torch.ones_like(b.weight)) for b in bns)
    assert all(not torch.equal(b.bias, torch.zeros_like(b.bias)) for b in bns)
    assert all(b.eps == 1e-12 and b.momentum == pytest.approx(0.4) for b in bns)
    assert len(h) == 3 and all(r["train_loss"] == r["train_loss"] for r in h.records)


def test_preset_resumes_exactly_inside_an_epoch(tmp_path: Path):
    kw = dict(epochs=2, batch_size=32, preset="airbench94", seed=5, **FAST)
    full = train(narrow(), SYN, out=tmp_path / "full", **kw).model.state_dict()

    def stop(ev) -> None:  # Ctrl-C during step 2 of epoch 2
        if ev.kind == "step" and ev.epoch == 2 and ev.step == 2:
            os.kill(os.getpid(), signal.SIGINT)

    part = tmp_path / "part"
    h1 = train(narrow(), SYN, out=part, callback=stop, **kw)
    assert h1.stopped == "interrupted"
    h2 = train(narrow(), resume=part, **FAST)
    got = h2.model.state_dict()
    assert got.keys() == full.keys() and all(torch.equal(got[k], full[k]) for k in got)


def test_preset_on_the_command_line_says_what_it_does(tmp_path: Path, capfd):
    from cnndsl.cli import main

    code = main(["train", "airbench94", "--preset", "airbench94", "--data", SYN,
                 "--epochs", "1", "--batch-size", "64", "--set", "w1=8", "--set", "w2=8",
                 "--set", "w3=8", "--out", str(tmp_path / "run"), "--progress", "lines",
                 "--no-plots"])
    text = capfd.readouterr().out
    assert code == 0
    assert "augmentation: translate:2,flip" in text
    assert "first conv whitened from 154 images" in text
    assert "test-time augmentation flip-translate" in text
    assert "sgd lr 1.5 momentum 0.85 nesterov" in text


@pytest.mark.parametrize("name,values", [
    ("alexnet", {"lr": 1e-2, "weight_decay": 5e-4, "batch_size": 128, "epochs": 90,
                 "schedule": "plateau"}),
    ("vgg", {"lr": 1e-2, "weight_decay": 5e-4, "batch_size": 256, "epochs": 74}),
    ("resnet-cifar", {"lr": 0.1, "weight_decay": 1e-4, "batch_size": 128, "epochs": 164,
                      "schedule": "multistep", "milestones": "82,123", "init": "he",
                      "augment": "crop:4,flip"}),
    ("resnet-imagenet", {"lr": 0.1, "weight_decay": 1e-4, "batch_size": 256, "init": "he"}),
])
def test_paper_presets_carry_the_papers_values(name, values):
    r = make_recipe(name).resolved()
    assert (r.optimizer, r.momentum) == ("sgd", 0.9)
    assert {k: getattr(r, k) for k in values} == values
    assert make_recipe(name, lr=0.5).lr == 0.5  # an explicit value wins


def test_multistep_schedule_and_bad_milestones():
    from cnndsl.train.schedule import Schedule

    s = Schedule("multistep", 0.1, epochs=164, steps_per_epoch=391, milestones=(82, 123))
    assert [round(s.lr(e, 0), 6) for e in (0, 81, 82, 122, 123, 163)] == \
        [0.1, 0.1, 0.01, 0.01, 0.001, 0.001]
    assert make_recipe(schedule="multistep", milestones=[3, 6]).milestones == "3,6"
    for bad in ("", "6,3", "x", "0,2"):
        with pytest.raises(UserError, match="--milestones"):
            make_recipe(schedule="multistep", milestones=bad or None)


def test_weight_average_is_validated_kept_and_resumed(tmp_path: Path):
    from cnndsl.train.ema import WeightAverage
    from cnndsl.train.export import load_run

    model = nn.Linear(2, 1)
    avg = WeightAverage(model, 0.9)
    with torch.no_grad():
        w0 = model.weight.clone()
        model.weight.add_(1.0)
    avg.update(model)
    assert torch.allclose(avg.model.weight, 0.9 * w0 + 0.1 * (w0 + 1))

    data = "synthetic:N=64,shape=1x8x8,classes=4,seed=1"
    net = cnndsl.compile("input 1x8x8\nconv(8, 3) - bn - relu - gap - fc(4)")
    kw = dict(epochs=2, batch_size=16, optimizer="sgd", lr=0.1, ema=0.9, seed=1, **FAST)
    full = train(net, data, out=tmp_path / "full", **kw)
    ckpt = torch.load(tmp_path / "full" / "last.pt", weights_only=True)
    ema = ckpt["ema"]
    assert all(torch.equal(full.model.state_dict()[k], v) for k, v in ema.items())
    assert any(not torch.equal(ckpt["state_dict"][k], ema[k]) for k in ema)  # raw weights kept
    run = load_run(tmp_path / "full" / "last.pt")
    assert all(torch.equal(run.module.state_dict()[k], v) for k, v in ema.items())

    def stop(ev) -> None:
        if ev.kind == "epoch" and ev.epoch == 1:
            ev.stop()

    train(net, data, out=tmp_path / "part", callback=stop, **kw)
    resumed = train(net, resume=tmp_path / "part", **FAST)
    assert all(torch.equal(resumed.model.state_dict()[k], v) for k, v in ema.items())
