"""eval and predict: a checkpoint rebuilt, scored, and used on image files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from fakenet import FakeNetwork

from cnndsl.diagnostics import UserError
from cnndsl.train import evaluate_checkpoint, predict, train
from cnndsl.train import inference as inference_mod
from cnndsl.train.data import load_source
from cnndsl.train.data.images import write_netpbm

NET = FakeNetwork("tiny", (1, 8, 8), 10, name="tiny")


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    out = tmp_path_factory.mktemp("run")
    h = train(NET, "digits", epochs=6, batch_size=32, lr=0.01, out=out, progress="none",
              plots=False)
    return out, h


@pytest.fixture(autouse=True)
def _rebuild_fake(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inference_mod, "rebuild", lambda *args, **kwargs: NET)


def test_eval_reproduces_the_validation_score(digits_run, tmp_path: Path) -> None:
    out, h = digits_run
    ev = evaluate_checkpoint(out, confusion_png=tmp_path / "cm.png")
    assert ev.split == "20% of the training set" and ev.scores.count == 359
    assert ev.scores.accuracy == pytest.approx(h.last["val_acc"], abs=1e-12)
    assert ev.scores.loss == pytest.approx(h.last["val_loss"], rel=1e-5)
    assert ev.scores.top5 >= ev.scores.accuracy > 0.9
    cm = np.array(ev.scores.confusion)
    assert cm.shape == (10, 10) and cm.sum() == 359
    assert np.trace(cm) == round(ev.scores.accuracy * 359)
    assert (tmp_path / "cm.png").read_bytes()[:4] == b"\x89PNG"
    everything = evaluate_checkpoint(out, split="all")
    assert everything.scores.count == 1797
    with pytest.raises(UserError, match="digits has no test set"):
        evaluate_checkpoint(out, split="test")


def test_predict_classifies_image_files(digits_run, tmp_path: Path) -> None:
    out, _ = digits_run
    d = load_source("digits")
    files = []
    for i in range(40):  # 8x8 digits, saved as 0..255 grey images and upscaled 4x
        img = (d.train.pixels[i].numpy().astype(np.float64) * 255 / 16).round().astype(np.uint8)
        img = np.kron(img, np.ones((1, 4, 4), dtype=np.uint8)) if i % 2 else img
        files.append(tmp_path / f"{i}.pgm")
        write_netpbm(files[-1], img)
    preds = predict(out, files, top=3)
    assert len(preds) == 40 and all(len(p.top) == 3 for p in preds)
    assert all(1 >= p.top[0][1] >= p.top[1][1] >= p.top[2][1] >= 0 for p in preds)
    right = sum(p.index == int(d.train.labels[i]) for i, p in enumerate(preds))
    assert right >= 34, right
    assert preds[0].label == str(preds[0].index)


def test_predict_and_eval_errors(digits_run, tmp_path: Path) -> None:
    out, _ = digits_run
    with pytest.raises(UserError, match="no such image file"):
        predict(out, [tmp_path / "missing.png"])
    with pytest.raises(UserError, match="no checkpoint"):
        evaluate_checkpoint(tmp_path)
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match="cannot read the checkpoint"):
        evaluate_checkpoint(bad)
    torch.save({"format": "something else"}, bad)
    with pytest.raises(UserError, match="not a cnndsl checkpoint"):
        evaluate_checkpoint(bad)


class Evil:
    def __reduce__(self):
        return (print, ("code ran",))


def test_checkpoint_that_would_run_code_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "evil.pt"
    torch.save({"format": "cnndsl-checkpoint", "payload": Evil()}, p)
    with pytest.raises(UserError, match="refused to load"):
        evaluate_checkpoint(p)
