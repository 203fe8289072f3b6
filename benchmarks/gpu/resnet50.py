"""Training throughput on a GPU: the generated ResNet-50 beside torchvision's, images/s
and the fraction of the device's dense peak.

For each configuration (bf16 autocast and channels-last; eager, and with
``torch.compile``), both models train on the same synthetic batch resident on the device
(SGD momentum 0.9, cross-entropy), in interleaved rounds: warm-up steps, then timed
steps between CUDA events. Reported per configuration: images/s of each, their ratio
(generated / torchvision, target >= 0.99) and the fraction of the dense peak reached,
``6 x MACs per image x images/s / peak`` (a training step is about three times the
forward's two FLOPs per MAC; MACs from ``cnndsl``'s count). The peak comes from
``--peak-tflops`` or a table of known devices (bf16 dense, without sparsity).

    python benchmarks/gpu/resnet50.py [--batch 256] [--steps 30] [--rounds 3] [--json]
    python benchmarks/gpu/resnet50.py --smoke   # on the CPU, tiny: checks the script runs

Needs torchvision for the baseline (``.venv-tv``); without it only the generated model
is measured. Writes nothing; prints one line (or JSON object) per configuration.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import cnndsl  # noqa: E402

# bf16 dense tensor-core peaks in TFLOPS (vendor data sheets, without sparsity)
PEAKS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "L4": 121.0,
         "A10": 125.0, "RTX 4090": 165.0, "RTX 3090": 71.0, "V100": 125.0, "T4": 65.0}


def peak_tflops(device: torch.device, given: float | None) -> float | None:
    if given:
        return given
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((v for k, v in PEAKS.items() if k in name), None)


def step_fn(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, bf16: bool
            ) -> Callable[[], None]:
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    dtype = torch.bfloat16 if bf16 else torch.float32

    def step() -> None:
        with torch.autocast(x.device.type, dtype=dtype, enabled=bf16):
            loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return step


def timed(step: Callable[[], None], steps: int, device: torch.device) -> float:
    """Seconds per step over ``steps`` steps."""
    if device.type == "cuda":
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(steps):
            step()
        end.record()
        torch.cuda.synchronize(device)
        return start.elapsed_time(end) / 1e3 / steps
    t = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - t) / steps


def models(net: cnndsl.Network) -> dict[str, Callable[[], torch.nn.Module]]:
    made = {"generated": net.to_torch}
    if importlib.util.find_spec("torchvision") is not None:
        import torchvision

        made["torchvision"] = lambda: torchvision.models.resnet50()
    return made


def measure(a: argparse.Namespace) -> list[dict]:
    device = torch.device(a.device)
    net = cnndsl.compile("resnet50", input=f"3x{a.size}x{a.size}")
    peak = peak_tflops(device, a.peak_tflops)
    g = torch.Generator(device="cpu").manual_seed(0)
    x = torch.randn(a.batch, 3, a.size, a.size, generator=g).to(device)
    y = torch.randint(0, 1000, (a.batch,), generator=g).to(device)
    results = []
    configs = [(True, True, False), (True, True, True)] if not a.smoke else [(False, False, False)]
    for bf16, channels_last, compiled in configs:
        steps: dict[str, Callable[[], None]] = {}
        for name, make in models(net).items():
            torch.manual_seed(0)
            model = make().to(device).train()
            xin = x
            if channels_last:
                model = model.to(memory_format=torch.channels_last)
                xin = x.contiguous(memory_format=torch.channels_last)
            if compiled:
                model = torch.compile(model)
            steps[name] = step_fn(model, xin, y, bf16)
            for _ in range(a.warmup):
                steps[name]()
        times: dict[str, list[float]] = {n: [] for n in steps}
        for r in range(a.rounds):
            for name in (list(steps) if r % 2 == 0 else list(steps)[::-1]):
                times[name].append(timed(steps[name], a.steps, device))
        row = {"device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
               "bf16": bf16, "channels_last": channels_last, "compile": compiled,
               "batch": a.batch, "size": a.size}
        for name, ts in times.items():
            ips = a.batch / statistics.median(ts)
            row[f"{name}_images_per_s"] = ips
            if peak:
                row[f"{name}_peak_fraction"] = 6 * net.cost.macs * ips / (peak * 1e12)
        if "torchvision" in times:
            pairs = [t / o for o, t in zip(times["generated"], times["torchvision"])]
            row["ratio"] = statistics.median(pairs)  # generated / torchvision throughput
            row["ratio_min"] = min(pairs)
        row["macs_per_image"] = net.cost.macs
        results.append(row)
    return results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--steps", type=int, default=30, help="timed steps per round")
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--peak-tflops", type=float, help="the device's dense bf16 peak")
    ap.add_argument("--smoke", action="store_true",
                    help="CPU, batch 2 at 64x64, float32, 2 steps: that the script runs")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    if a.smoke:
        a.device, a.batch, a.size, a.steps, a.warmup, a.rounds = "cpu", 2, 64, 2, 1, 2
    elif a.device.startswith("cuda") and not torch.cuda.is_available():
        print("no CUDA device: run on a GPU machine (or --smoke on the CPU)", file=sys.stderr)
        return 2
    for row in measure(a):
        if a.json:
            print(json.dumps(row))
            continue
        what = ", ".join(k for k in ("bf16", "channels_last", "compile") if row[k]) or "fp32"
        line = f"{row['device']}, batch {row['batch']}, {what}: generated " \
               f"{row['generated_images_per_s']:.0f} img/s"
        if "torchvision_images_per_s" in row:
            line += f", torchvision {row['torchvision_images_per_s']:.0f} img/s, ratio " \
                    f"{row['ratio']:.3f} (min {row['ratio_min']:.3f}; target >= 0.99)"
        if "generated_peak_fraction" in row:
            line += f"; {100 * row['generated_peak_fraction']:.1f}% of the dense peak"
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
