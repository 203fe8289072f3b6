"""cnndsl demo: the main job on an embedded default network, end to end."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from ..api import compile
from ..outputs import write_output
from ..report import format_table

DEFAULT = "lenet5"


def add_parser(sub) -> None:
    p = sub.add_parser("demo", description="Check, summarize and compile a zoo network, "
                       "build it with PyTorch and train it on the bundled digits (where torch "
                       "is installed).")
    p.add_argument("name", nargs="?", default=DEFAULT, help=f"zoo network (default {DEFAULT})")
    p.add_argument("--no-train", action="store_true", help="skip the training step")
    p.add_argument("--out", default=None, help="where to write outputs (default: a temp dir)")
    p.add_argument("--force", action="store_true",
                   help="replace files in --out that cnndsl did not write")


def run(args) -> int:
    from ..cli import print_diagnostics
    out = Path(args.out or tempfile.mkdtemp(prefix="cnndsl-demo-"))
    net = compile(args.name)
    print(f"== check: {net.source_name}")
    print_diagnostics(net.diagnostics, sys.stdout)
    print(f"ok: {net.graph.input_type} -> {net.graph.output_type}")
    print(f"\n== summary\n{format_table(net.summary())}")
    py = out / f"{net.name}.py"
    write_output(py, net.to_python(), args.force)
    print(f"\n== compile: wrote {py}")
    try:
        import torch
    except ImportError:
        print("torch is not installed: skipping the build and training steps")
        return 0
    model = net.to_torch().eval()
    with torch.no_grad():
        y = model(torch.zeros((2,) + tuple(net.input_shape)))
    n = sum(p.numel() for p in model.parameters())
    print(f"built {type(model).__name__}: (2, {'x'.join(map(str, net.input_shape))}) -> "
          f"{tuple(y.shape)}, {n:,} parameters (compiler: {net.params_count:,})")
    if args.no_train:
        return 0
    try:
        from ..train import train
    except ImportError:
        return 0
    print("\n== train on the embedded digits data")
    hist = train(net, "digits", out=str(out / "run"), overwrite=True, force=args.force)
    best = getattr(hist, "best_val_acc", None)
    if best is not None:
        print(f"best validation accuracy {best:.2%}; outputs in {out / 'run'}")
    return 0
