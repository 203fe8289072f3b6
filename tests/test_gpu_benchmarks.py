"""The GPU benchmarks (benchmarks/gpu/) stay runnable: each has a ``--smoke`` mode that
runs its whole path on the CPU at toy sizes. Their figures come from a GPU machine."""

from __future__ import annotations

import json

import pytest

import cnndsl

from .conftest import needs_torch


@needs_torch
def test_resnet50_throughput_script_measures_the_generated_model(capsys):
    from benchmarks.gpu import resnet50

    assert resnet50.main(["--smoke", "--json"]) == 0
    row = json.loads(capsys.readouterr().out.splitlines()[0])
    assert row["macs_per_image"] == cnndsl.compile("resnet50", input="3x64x64").cost.macs
    assert row["generated_images_per_s"] > 0 and (row["batch"], row["size"]) == (2, 64)
    assert resnet50.peak_tflops(__import__("torch").device("cpu"), 312.0) == 312.0


@needs_torch
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_airbench_script_trains_with_the_preset(capsys):
    from benchmarks.gpu import airbench

    assert airbench.main(["--smoke", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["runs"] == 1 and out["target_acc"] == 0.94
    run = out["runs_detail"][0]
    assert 0 <= run["test_acc"] <= 1 and run["train_seconds"] > 0
