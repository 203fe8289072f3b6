"""airbench94 with ``--preset airbench94`` on CIFAR-10: test accuracy and training time.

The original reaches 94.0% mean test accuracy in 3.83 s on an A100 (3.09 s compiled;
Jordan 2024). Each run trains ``zoo/airbench94.cnn`` with the preset on ``cifar10:DIR``
(the "python version" files; nothing is downloaded) and evaluates the test set with the
preset's flip-and-translate test-time augmentation. Time is the training steps' wall
time (the sum of the epochs' ``epoch_time``: data on the device, augmentation, forward,
backward, update; not the start-up, the whitening's statistics or the evaluation), as
the original counts it. The first run is a warm-up (cuDNN autotuning, compilation) and
is not counted.

    python benchmarks/gpu/airbench.py --data ~/cifar-10-batches-py [--runs 5] [--compile]
    python benchmarks/gpu/airbench.py --smoke   # CPU, tiny synthetic set: the script runs
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import cnndsl  # noqa: E402

TARGET_ACCURACY = 0.94
ORIGINAL_SECONDS = {False: 3.83, True: 3.09}  # A100, eager / torch.compile


def one_run(net: cnndsl.Network, data: str, seed: int, a: argparse.Namespace) -> dict:
    h = cnndsl.train(net, data, preset="airbench94", seed=seed, device=a.device,
                     compile=a.compile, progress="none", plots=False, out=None,
                     **({"epochs": 1, "batch_size": 32} if a.smoke else {}))
    return {"seed": seed, "test_acc": h.last["val_acc"],
            "train_seconds": sum(r["epoch_time"] for r in h.records)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", metavar="DIR", help="the CIFAR-10 python-version folder")
    ap.add_argument("--runs", type=int, default=5, help="counted runs (after one warm-up)")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--compile", action="store_true", help="torch.compile the network")
    ap.add_argument("--smoke", action="store_true",
                    help="CPU, airbench94 at 1/8 width on 128 synthetic images, 1 epoch")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    if a.smoke:
        a.device, a.runs = "cpu", 1
        data = "synthetic:N=128,shape=3x32x32,classes=10,seed=1"
        net = cnndsl.compile("airbench94", bindings={"w1": 8, "w2": 32, "w3": 32})
    else:
        if a.data is None:
            ap.error("--data DIR (the CIFAR-10 python-version files) is needed")
        if a.device.startswith("cuda") and not torch.cuda.is_available():
            print("no CUDA device: run on a GPU machine (or --smoke on the CPU)",
                  file=sys.stderr)
            return 2
        data = f"cifar10:{a.data}"
        net = cnndsl.compile("airbench94")
    runs = [one_run(net, data, seed, a) for seed in range(a.runs + (0 if a.smoke else 1))]
    counted = runs if a.smoke else runs[1:]
    acc = statistics.fmean(r["test_acc"] for r in counted)
    seconds = statistics.median(r["train_seconds"] for r in counted)
    device = torch.cuda.get_device_name() if a.device.startswith("cuda") else "cpu"
    summary = {"device": device, "compile": a.compile, "runs": len(counted),
               "mean_test_acc": acc, "median_train_seconds": seconds,
               "target_acc": TARGET_ACCURACY, "original_seconds_a100": ORIGINAL_SECONDS[a.compile],
               "runs_detail": counted}
    if a.json:
        print(json.dumps(summary))
    else:
        print(f"{device}{', compiled' if a.compile else ''}: mean test accuracy "
              f"{100 * acc:.2f}% over {len(counted)} runs (target {100 * TARGET_ACCURACY:.0f}%), "
              f"median training time {seconds:.2f} s (the original: "
              f"{ORIGINAL_SECONDS[a.compile]} s on an A100)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
