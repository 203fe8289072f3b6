"""The training loop: files, exact resume, NaN stop, Ctrl-C, fast paths, optimizers."""

from __future__ import annotations

import json
import math
import os
import signal
from pathlib import Path

import pytest
import torch
from fakenet import FakeNetwork

from cnndsl.diagnostics import UserError
from cnndsl.train import train
from cnndsl.train.checkpoint import load
from cnndsl.train.loop import Diverged

SYN = "synthetic:N=128,shape=1x8x8,classes=4,seed=1,noise=0.3"
FAST = dict(progress="none", plots=False)


def net(**params) -> FakeNetwork:
    return FakeNetwork("tiny", (1, 8, 8), 4, bindings=params, name="tiny")


def same_weights(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_run_writes_metrics_checkpoints_and_curves(tmp_path: Path) -> None:
    out = tmp_path / "run"
    h = train(net(), SYN, epochs=3, batch_size=16, lr=0.01, out=out, progress="none")
    assert len(h) == 3 and h.stopped == "completed" and h.out == out
    assert h["train_loss"][-1] < h["train_loss"][0]
    assert h.best["val_acc"] > 0.5  # 4 classes: chance is 0.25
    lines = (out / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["epoch"] for x in lines] == [1, 2, 3]
    assert json.loads(lines[-1])["val_acc"] == pytest.approx(h.last["val_acc"])
    csv = (out / "metrics.csv").read_text().splitlines()
    assert csv[0].startswith("epoch,train_loss,train_acc,val_loss,val_acc") and len(csv) == 4
    assert (out / "curves.png").read_bytes()[:4] == b"\x89PNG"
    assert (out / "network.cnn").read_text() == net().source
    ck = torch.load(out / "last.pt", weights_only=True)  # no pickled objects inside
    assert ck["epoch"] == 3 and ck["step"] == 0 and ck["source"] == net().source
    assert ck["input_shape"] == [1, 8, 8] and ck["bindings"] == ck["params"] == {} and ck["num_classes"] == 4
    assert {"state_dict", "optimizer", "schedule", "rng", "metrics", "transform"} <= set(ck)
    assert set(ck["rng"]) >= {"torch", "numpy", "python"}
    assert same_weights(ck["state_dict"], h.model.state_dict())
    best = load(out / "best.pt")
    assert best["metrics"][-1]["val_acc"] == h.best["val_acc"]
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


def test_out_directory_with_a_run_is_not_overwritten(tmp_path: Path) -> None:
    train(net(), SYN, epochs=1, out=tmp_path, **FAST)
    with pytest.raises(UserError, match="already holds a run") as e:
        train(net(), SYN, epochs=1, out=tmp_path, **FAST)
    assert "--resume" in e.value.help
    train(net(), SYN, epochs=1, out=tmp_path, overwrite=True, **FAST)


RECIPE = dict(epochs=4, batch_size=16, schedule="cosine", warmup=1, augment="crop:1,flip",
              optimizer="sgd", lr=0.05, seed=7)


def uninterrupted(tmp_path: Path) -> dict:
    h = train(net(dropout=0.3, bn=True), SYN, out=tmp_path / "full", **RECIPE, **FAST)
    return h.model.state_dict()


def test_resume_after_epochs_is_bitwise_exact(tmp_path: Path) -> None:
    full = uninterrupted(tmp_path)

    def stop_after_two(ev) -> None:
        if ev.kind == "epoch" and ev.epoch == 2:
            ev.stop()

    part = tmp_path / "part"
    h1 = train(net(dropout=0.3, bn=True), SYN, out=part, callback=stop_after_two,
               **RECIPE, **FAST)
    assert h1.stopped == "interrupted" and len(h1) == 2
    assert load(part)["epoch"] == 2
    h2 = train(net(dropout=0.3, bn=True), resume=part, **FAST)
    assert len(h2) == 4 and h2.stopped == "completed"
    assert same_weights(h2.model.state_dict(), full)
    full_metrics = (tmp_path / "full" / "metrics.jsonl").read_text().splitlines()
    resumed = (part / "metrics.jsonl").read_text().splitlines()
    drop_time = [{k: v for k, v in json.loads(x).items()
                  if k not in ("images_per_s", "epoch_time", "time")} for x in full_metrics]
    assert drop_time == [{k: v for k, v in json.loads(x).items()
                          if k not in ("images_per_s", "epoch_time", "time")} for x in resumed]


def test_resume_inside_an_epoch_is_bitwise_exact(tmp_path: Path) -> None:
    full = uninterrupted(tmp_path)

    def stop_mid_epoch(ev) -> None:  # Ctrl-C during step 3 of epoch 2
        if ev.kind == "step" and ev.epoch == 2 and ev.step == 3:
            os.kill(os.getpid(), signal.SIGINT)

    part = tmp_path / "part"
    h1 = train(net(dropout=0.3, bn=True), SYN, out=part, callback=stop_mid_epoch,
               **RECIPE, **FAST)
    assert h1.stopped == "interrupted" and len(h1) == 1
    ck = load(part)
    assert (ck["epoch"], ck["step"]) == (1, 3) and ck["partial"]["seen"] == 48
    h2 = train(net(dropout=0.3, bn=True), resume=part, **FAST)
    assert same_weights(h2.model.state_dict(), full)


def test_resume_can_extend_a_finished_run(tmp_path: Path) -> None:
    kw = dict(batch_size=16, optimizer="adam", seed=3)
    full = train(net(), SYN, epochs=3, **kw, **FAST).model.state_dict()
    train(net(), SYN, epochs=2, out=tmp_path, **kw, **FAST)
    h = train(net(), epochs=3, resume=tmp_path, **FAST)
    assert len(h) == 3 and same_weights(h.model.state_dict(), full)


def test_resume_refuses_another_network(tmp_path: Path) -> None:
    train(net(), SYN, epochs=1, out=tmp_path, **FAST)
    other = FakeNetwork("tiny", (1, 8, 8), 4, bindings={"dropout": 0.1}, name="tiny")
    with pytest.raises(UserError, match="trained from a different network"):
        train(other, epochs=2, resume=tmp_path, **FAST)


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path: Path) -> None:
    def poison(ev) -> None:  # after epoch 1, break the weights
        if ev.kind == "epoch" and ev.epoch == 1:
            with torch.no_grad():
                next(ev.trainer.base.parameters()).fill_(math.inf)

    with pytest.raises(Diverged, match="loss became NaN or infinite at epoch 2, step 1") as e:
        train(net(), SYN, epochs=3, batch_size=16, out=tmp_path, callback=poison, **FAST)
    assert f"last good checkpoint is {tmp_path / 'last.pt'} (epoch 1)" in e.value.message
    assert "--lr" in e.value.help and e.value.history.stopped == "diverged"
    ck = load(tmp_path)
    assert ck["epoch"] == 1
    assert all(torch.isfinite(v).all() for v in ck["state_dict"].values())


def test_same_seed_same_weights_other_seed_other_weights() -> None:
    a = train(net(), SYN, epochs=1, seed=5, **FAST).model.state_dict()
    b = train(net(), SYN, epochs=1, seed=5, **FAST).model.state_dict()
    c = train(net(), SYN, epochs=1, seed=6, **FAST).model.state_dict()
    assert same_weights(a, b) and not same_weights(a, c)


@pytest.mark.parametrize("optimizer,lr", [("sgd", 0.05), ("adam", 0.01), ("adamw", 0.01),
                                          ("adadelta", 1.0), ("rmsprop", 0.003)])
def test_every_optimizer_learns(optimizer: str, lr: float) -> None:
    h = train(net(), SYN, epochs=4, batch_size=16, optimizer=optimizer, lr=lr,
              nesterov=optimizer == "sgd" or None, **FAST)
    assert h["train_loss"][-1] < 0.8 * h["train_loss"][0], h["train_loss"]


def test_he_and_xavier_initialisation() -> None:
    big = FakeNetwork("lenet", (1, 32, 32), 10)

    def capture(init: str) -> torch.Tensor:
        h = train(big, "synthetic:N=8,classes=10", epochs=1, batch_size=8, init=init,
                  lr=1e-12, optimizer="sgd", momentum=0.0, val_split=0, **FAST)
        return h.model[9].weight.detach()  # Linear(400, 120)

    w_he, w_xavier = capture("he"), capture("xavier")
    assert w_he.std().item() == pytest.approx(math.sqrt(2 / 400), rel=0.05)
    bound = math.sqrt(6 / (400 + 120))
    assert w_xavier.abs().max().item() <= bound
    assert w_xavier.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.05)


def test_label_smoothing_raises_the_loss_floor() -> None:
    kw = dict(epochs=5, batch_size=16, lr=0.01, **FAST)
    plain = train(net(), SYN, **kw)
    smooth = train(net(), SYN, label_smoothing=0.3, **kw)
    # the smoothed targets (0.775, 0.075 x 3) have entropy 0.78: the loss cannot go lower
    assert plain["train_loss"][-1] < 0.3 and smooth["train_loss"][-1] > 0.78


def test_plateau_schedule_divides_by_ten() -> None:
    # lr so small that nothing improves: after 2 epochs without progress, lr / 10
    h = train(net(), SYN, epochs=5, batch_size=16, optimizer="sgd", lr=1e-9,
              schedule="plateau", patience=2, **FAST)
    assert h["lr"] == pytest.approx([1e-9, 1e-9, 1e-9, 1e-10, 1e-10], rel=1e-9)


def test_cpu_fast_paths_give_the_same_model(tmp_path: Path) -> None:
    kw = dict(epochs=2, batch_size=16, seed=2, **FAST)
    ref = train(net(), SYN, **kw)
    cl = train(net(), SYN, channels_last=True, data_on_device=False, pin_memory=True, **kw)
    comp = train(net(), SYN, compile="eager", **kw)
    for h in (cl, comp):
        for k, v in ref.model.state_dict().items():
            assert torch.allclose(v, h.model.state_dict()[k], atol=1e-5), k


@pytest.mark.parametrize("amp", ["bf16", "fp16"])
def test_mixed_precision_on_the_cpu(amp: str) -> None:
    if amp == "fp16":
        try:
            with torch.autocast("cpu", dtype=torch.float16):
                torch.nn.functional.conv2d(torch.ones(1, 1, 3, 3), torch.ones(1, 1, 2, 2))
        except RuntimeError:
            pytest.skip("this torch has no fp16 autocast on the CPU")
    h = train(net(), SYN, epochs=3, batch_size=16, amp=amp, **FAST)
    assert all(math.isfinite(v) for v in h["train_loss"])
    assert h["train_loss"][-1] < h["train_loss"][0]


def test_optimizer_comparison_writes_three_runs_and_one_plot(tmp_path: Path) -> None:
    runs = train(net(), SYN, epochs=2, batch_size=16, optimizer="adam,adadelta,sgd",
                 out=tmp_path, progress="none")
    assert list(runs) == ["adam", "adadelta", "sgd"]
    assert runs.plot == tmp_path / "compare.png"
    assert sorted(p.name for p in tmp_path.glob("*.png")) == ["compare.png"]
    for name in runs:
        lines = (tmp_path / name / "metrics.jsonl").read_text().splitlines()
        assert len(lines) == 2 and (tmp_path / name / "last.pt").is_file()
        assert load(tmp_path / name)["recipe"]["optimizer"] == name
    assert runs["adadelta"].last["lr"] == 1.0 and runs["adam"].last["lr"] == 1e-3
    losses = {n: h["train_loss"] for n, h in runs.items()}
    assert len({tuple(v) for v in losses.values()}) == 3
    summary = json.loads((tmp_path / "compare.json").read_text())
    assert set(summary) == {"adam", "adadelta", "sgd"}


def test_comparison_starts_every_optimizer_from_the_same_weights() -> None:
    first: dict[str, dict] = {}

    def grab(ev) -> None:
        if ev.kind == "step" and ev.step == 1 and ev.trainer.recipe.optimizer not in first:
            first[ev.trainer.recipe.optimizer] = {k: v.clone() for k, v in
                                             ev.trainer.base.state_dict().items()}

    # lr tiny: after one step the weights are still (almost) the initial ones
    train(net(), SYN, epochs=1, optimizer="sgd,rmsprop", lr=1e-12, callback=grab, **FAST)
    a, b = first["sgd"], first["rmsprop"]
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


def test_labels_beyond_the_network_are_an_error() -> None:
    small = FakeNetwork("tiny", (1, 8, 8), 3, name="tiny")
    with pytest.raises(UserError, match="out of range for 3 classes"):
        train(small, SYN, epochs=1, **FAST)
    large = FakeNetwork("tiny", (1, 8, 8), 6, name="tiny")
    with pytest.raises(UserError, match="6 class scores but synthetic.* has 4 classes") as e:
        train(large, SYN, epochs=1, **FAST)
    assert "--set classes=4" in e.value.help


def test_arrays_as_data() -> None:
    x = torch.randint(0, 255, (32, 8, 8), dtype=torch.uint8)
    y = torch.arange(32) % 4
    h = train(net(), (x, y), epochs=1, val_split=0.25, **FAST)
    assert len(h) == 1 and h.last["val_acc"] is not None


@pytest.mark.slow
def test_torch_compile_with_inductor() -> None:
    """--compile with the default backend (needs a C++ compiler on the CPU)."""
    kw = dict(epochs=2, batch_size=16, seed=2, **FAST)
    ref = train(net(), SYN, **kw)
    comp = train(net(), SYN, compile=True, **kw)
    for k, v in ref.model.state_dict().items():
        assert torch.allclose(v, comp.model.state_dict()[k], atol=1e-4), k
