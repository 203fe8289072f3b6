"""Acceptance: LeNet-5 on the embedded digits, offline, reaches the stated accuracy.

docs/training.md states: LeNet-5 on the embedded 1,797 UCI digits reaches at least 97%
validation accuracy with the default recipe (adam, 10 epochs, batch 64, seed 0) in
well under a minute on a laptop CPU.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fakenet import FakeNetwork

from cnndsl.train import train
from cnndsl.train.checkpoint import load

STATED = 0.97


def test_lenet_on_digits_through_the_api() -> None:
    t0 = time.perf_counter()
    h = train(FakeNetwork("lenet", (1, 32, 32), 10, name="lenet5"), "digits",
              progress="none", plots=False)
    took = time.perf_counter() - t0
    assert len(h) == 10
    assert h.best["val_acc"] >= STATED, h["val_acc"]
    print(f"\nstand-in LeNet-5 on digits: best val_acc {h.best['val_acc']:.4f}, {took:.1f} s")


def test_cnndsl_train_zoo_lenet5_on_embedded_digits(tmp_path: Path, capsys) -> None:
    """`cnndsl train zoo/lenet5.cnn` with every default, through the real compiler."""
    main = pytest.importorskip("cnndsl.cli").main
    zoo = Path(__file__).resolve().parents[2] / "zoo" / "lenet5.cnn"
    if not zoo.is_file():
        pytest.skip("zoo/lenet5.cnn is not there")
    t0 = time.perf_counter()
    assert main(["train", str(zoo), "--out", str(tmp_path), "--progress", "lines"]) == 0
    took = time.perf_counter() - t0
    out = capsys.readouterr().out
    assert "data: digits: 1797 training images 1x8x8" in out
    assert "resized 8x8 -> 32x32" in out
    ck = load(tmp_path)
    best = max(m["val_acc"] for m in ck["metrics"])
    assert ck["epoch"] == 10 and best >= STATED, [m["val_acc"] for m in ck["metrics"]]
    with capsys.disabled():
        print(f"\ncnndsl train zoo/lenet5.cnn: best val_acc {best:.4f}, {took:.1f} s")
