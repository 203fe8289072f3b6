"""Run by test_train_ddp.py under ``torchrun --nproc_per_node=2``: train the stand-in net.

Each process is given its own output directory (OUT/rank<R>) so the test can check that
only rank 0 writes anything.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import torch
from fakenet import FakeNetwork

from cnndsl.train import train

SPEC = "synthetic:N=128,shape=1x8x8,classes=4,seed=1,noise=0.3"
RECIPE = dict(epochs=2, batch_size=32, optimizer="sgd", lr=0.05, seed=0, val_split=0.25,
              augment="crop:1,flip", progress="none", plots=False)


def network() -> FakeNetwork:
    return FakeNetwork("tiny", (1, 8, 8), 4, name="tiny")  # no batch norm, no dropout


if __name__ == "__main__":
    torch.set_num_threads(1)
    out = Path(sys.argv[1]) / f"rank{os.environ.get('RANK', '0')}"
    train(network(), SPEC, out=out, device="cpu", **RECIPE)
