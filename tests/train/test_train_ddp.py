"""DistributedDataParallel: 2 CPU processes (gloo) under torchrun give the weights of
one process with the same global batch, and only rank 0 writes files."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from ddp_worker import RECIPE, SPEC, network

from cnndsl.train import train
from cnndsl.train.checkpoint import load

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def torchrun(nproc: int, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join([str(ROOT), str(HERE), os.environ.get("PYTHONPATH", "")]))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           f"--nproc_per_node={nproc}", *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.skipif(not torch.distributed.is_available(), reason="no torch.distributed")
def test_two_processes_equal_one(tmp_path: Path) -> None:
    t0 = time.perf_counter()
    proc = torchrun(2, str(HERE / "ddp_worker.py"), str(tmp_path / "ddp"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    took = time.perf_counter() - t0
    assert sorted(p.name for p in (tmp_path / "ddp").iterdir()) == ["rank0"]  # rank 1: nothing
    ddp = load(tmp_path / "ddp" / "rank0")
    assert ddp["world_size"] == 2 and ddp["epoch"] == 2
    assert sorted(p.name for p in (tmp_path / "ddp" / "rank0").glob("*.pt")) == \
        ["best.pt", "last.pt"]

    torch.set_num_threads(1)
    one = train(network(), SPEC, out=tmp_path / "one", device="cpu", **RECIPE)
    for k, v in one.model.state_dict().items():
        assert torch.allclose(ddp["state_dict"][k], v, atol=1e-5, rtol=0), k
    # the metrics are global too: the same training loss and validation accuracy
    for a, b in zip(ddp["metrics"], one.records):
        assert a["train_loss"] == pytest.approx(b["train_loss"], abs=1e-5)
        assert a["val_acc"] == pytest.approx(b["val_acc"])
    print(f"torchrun 2 processes: {took:.1f} s")
