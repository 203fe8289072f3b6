"""The training device, and the switches that make it fast."""

from __future__ import annotations

import torch

from cnndsl.diagnostics import UserError

DEVICE_HELP = "--device auto | cpu | cuda | cuda:N"


def resolve_device(spec: str = "auto", local_rank: int = 0) -> torch.device:
    """``auto``: the GPU of this process when CUDA is there, else the CPU.

    >>> resolve_device("cpu")
    device(type='cpu')
    """
    s = (spec or "auto").strip().lower()
    if s == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", local_rank % torch.cuda.device_count())
        return torch.device("cpu")
    if s == "cpu":
        return torch.device("cpu")
    if s == "mps":
        if not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
            raise UserError("--device mps: Apple's Metal backend is not available here",
                            exit_code=2)
        return torch.device("mps")
    if s == "cuda" or s.startswith("cuda:"):
        if not torch.cuda.is_available():
            build = torch.__version__
            raise UserError(f"--device {spec}: CUDA is not available (torch {build}"
                            f"{', a CPU-only build' if '+cpu' in build else ''})",
                            help="use --device cpu, or install a CUDA build of torch",
                            exit_code=2)
        index = local_rank if s == "cuda" else s.partition(":")[2]
        try:
            n = int(index)
        except ValueError:
            raise UserError(f"--device {spec}: bad GPU number", help=DEVICE_HELP,
                            exit_code=2) from None
        if not 0 <= n < torch.cuda.device_count():
            raise UserError(f"--device {spec}: there are {torch.cuda.device_count()} GPU(s) "
                            f"(cuda:0..cuda:{torch.cuda.device_count() - 1})", exit_code=2)
        return torch.device("cuda", n)
    raise UserError(f"--device {spec}: unknown device", help=DEVICE_HELP, exit_code=2)


def configure_backends(device: torch.device, deterministic: bool) -> None:
    """cuDNN autotuning on GPUs unless the run must be deterministic; TF32 matmuls."""
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = not deterministic
        torch.backends.cuda.matmul.allow_tf32 = not deterministic
        torch.backends.cudnn.allow_tf32 = not deterministic
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)


def sum_dtype(device: torch.device) -> torch.dtype:
    """The widest float the device has, for running sums (Apple's MPS lacks float64)."""
    return torch.float32 if device.type == "mps" else torch.float64
