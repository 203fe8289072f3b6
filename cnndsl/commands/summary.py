"""cnndsl summary FILE: per-layer output shapes, parameters, MACs and activations."""

from __future__ import annotations

from ..report import FORMATS
from . import add_network_args, compile_from_args


def add_parser(sub) -> None:
    p = sub.add_parser("summary", help="per-layer shapes, parameters and costs")
    add_network_args(p)
    p.add_argument("--format", choices=tuple(FORMATS), default="table")


def run(args) -> int:
    from ..cli import print_diagnostics
    net = compile_from_args(args)
    if args.format == "table":
        print_diagnostics(net.diagnostics)
    print(FORMATS[args.format](net.summary()))
    return 0
