"""``synthetic:N=512,shape=1x28x28,classes=10,seed=0``: learnable random data.

Each class is a fixed random pattern; a sample is its class's pattern plus noise, so a
network can learn it (accuracy well above chance) and runs are reproducible. Shape and
classes default to the network's.
"""

from __future__ import annotations

import torch

from cnndsl.diagnostics import UserError

from .types import DataSource, ImageSet

KEYS = ("n", "shape", "classes", "seed", "noise")


def parse_options(arg: str) -> dict[str, str]:
    opts: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in arg.split(","))):
        key, eq, value = part.partition("=")
        key = key.strip().lower()
        if not eq or key not in KEYS:
            raise UserError(f"synthetic:{arg}: bad option '{part}'",
                            help="synthetic:N=512,shape=1x28x28,classes=10,seed=0,noise=0.5",
                            exit_code=2)
        opts[key] = value.strip()
    return opts


def parse_shape(text: str, where: str) -> tuple[int, int, int]:
    try:
        dims = tuple(int(d) for d in text.lower().split("x"))
    except ValueError:
        dims = ()
    if len(dims) == 2:
        dims = (1, *dims)
    if len(dims) != 3 or min(dims) < 1:
        raise UserError(f"{where}: bad shape '{text}' (expected CxHxW, e.g. 1x28x28)",
                        exit_code=2)
    return dims  # type: ignore[return-value]


def load_synthetic(arg: str, input_shape: tuple[int, ...] | None = None,
                   num_classes: int | None = None) -> DataSource:
    where = f"synthetic:{arg}"
    opts = parse_options(arg)
    try:
        n = int(opts.get("n", 1024))
        classes = int(opts.get("classes", num_classes or 10))
        seed = int(opts.get("seed", 0))
        noise = float(opts.get("noise", 0.5))
    except ValueError as e:
        raise UserError(f"{where}: {e}", exit_code=2) from e
    if "shape" in opts:
        shape = parse_shape(opts["shape"], where)
    elif input_shape is not None and len(input_shape) == 3:
        shape = tuple(int(d) for d in input_shape)
    else:
        shape = (1, 28, 28)
    if n < 1 or classes < 2:
        raise UserError(f"{where}: needs N >= 1 and classes >= 2", exit_code=2)
    g = torch.Generator().manual_seed(seed)
    patterns = torch.rand((classes, *shape), generator=g)
    y = torch.randint(0, classes, (n,), generator=g)
    x = patterns[y] + noise * torch.randn((n, *shape), generator=g)
    x = (x.clamp(0, 1) * 255).round().to(torch.uint8)
    return DataSource(f"synthetic:{arg}", [str(i) for i in range(classes)],
                      ImageSet(x, y, 255.0))
