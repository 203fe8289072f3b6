"""The learning-rate range test: its suggestion on the bundled digits lies where LeNet-5
trains well with Adam, the rates grow geometrically, divergence stops it, and the
command prints the rate and draws the curve."""

from __future__ import annotations

import json
import math

import pytest

import cnndsl
from cnndsl.cli import main
from cnndsl.diagnostics import UserError
from cnndsl.outputs import generated_by_cnndsl
from cnndsl.train.lrfind import lr_find, suggest


def test_suggestion_is_the_steepest_descent():
    lrs = [10 ** (k / 10 - 6) for k in range(50)]  # 1e-6 .. 1e-1.1
    losses = [2.0 - math.tanh(math.log10(lr) + 3.0) for lr in lrs]  # steepest at 1e-3
    assert suggest(lrs, losses) == pytest.approx(1e-3, rel=0.3)


def test_digits_suggestion_is_where_lenet_trains_with_adam():
    r = lr_find(cnndsl.compile("lenet5"), "digits", steps=100)
    assert 1e-4 <= r.suggestion <= 1e-1  # Adam's usual 1e-3 trains LeNet-5 to 98% here
    ratios = [b / a for a, b in zip(r.lrs, r.lrs[1:])]
    assert max(ratios) == pytest.approx(min(ratios)) and r.lrs[0] == pytest.approx(1e-7)
    assert r.stopped_early and len(r.lrs) < 100  # 10 is far past the loss's blow-up
    assert min(r.losses) < r.losses[0] - 0.3  # the loss did fall on the way


def test_lr_find_command_prints_and_draws(tmp_path, capsys):
    png = tmp_path / "lr.png"
    assert main(["lr-find", "lenet5", "--steps", "30", "--end", "1", "-o", str(png),
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out["lrs"]) == len(out["losses"]) <= 30 and out["suggestion"] in out["lrs"]
    assert png.read_bytes()[:4] == b"\x89PNG" and generated_by_cnndsl(png)
    with pytest.raises(UserError, match="need 0 < start < end"):
        lr_find(cnndsl.compile("lenet5"), start=1.0, end=0.1)
