"""cnndsl summary FILE [FILE ...]: per-layer shapes, parameters, MACs, activations, RF.

With two or more files it compares their totals side by side, with ratios to the first.
"""

from __future__ import annotations

from .. import api
from ..diagnostics import CnnError
from ..passes.memory import OPTIMIZER_STATE
from ..report import FORMATS, format_compare
from . import int_at_least


def add_parser(sub) -> None:
    p = sub.add_parser("summary", help="per-layer shapes, parameters and costs; compare "
                       "networks", description="Per-layer output shapes, activations, "
                       "parameters, MACs and receptive fields, with totals and memory "
                       "estimates. Give two or more FILEs to compare their totals.")
    p.add_argument("file", metavar="FILE", nargs="+",
                   help="a .cnn file, a zoo name, or source text (two or more: compare)")
    p.add_argument("--set", dest="set", action="append", default=[], metavar="K=V",
                   help="bind a network parameter (repeatable), e.g. --set N=2")
    p.add_argument("--input", metavar="CxHxW", help="override the input shape")
    p.add_argument("--strict", action="store_true", help="treat warnings as errors")
    p.add_argument("--format", choices=tuple(FORMATS), default="table")
    p.add_argument("--batch", type=int_at_least(1), default=1, metavar="N",
                   help="batch size of the memory estimates (default 1)")
    p.add_argument("--dtype", default="fp32", choices=("fp32", "bf16", "fp16"),
                   help="activation dtype of the memory figures (default fp32)")
    p.add_argument("--depth", type=int_at_least(0), default=None, metavar="N",
                   help="one row per block call at nesting level N (0: the top-level "
                   "calls), as `cnndsl draw --depth N`")
    p.add_argument("--optimizer", default="adam", type=str.lower,
                   choices=tuple(sorted(OPTIMIZER_STATE)), metavar="NAME",
                   help="optimizer of the training estimate (default adam; sgd counts a "
                   "momentum buffer)")


def run(args) -> int:
    from ..cli import print_diagnostics
    params = api.parse_params(args.set)
    sums = []
    for f in args.file:
        net = api.compile(f, params=params, input=args.input, strict=args.strict)
        s = net.summary(depth=args.depth, dtype=args.dtype, batch=args.batch,
                        optimizer=args.optimizer)
        late = [d.as_error() for d in s.diagnostics if d.code == "W0601"]
        if args.strict and late:  # found by the receptive-field pass, after compile
            raise CnnError(late)
        if args.format == "table":
            print_diagnostics(list(s.diagnostics))
        sums.append(s)
    if len(sums) == 1:
        print(FORMATS[args.format](sums[0]))
    else:
        print(format_compare(sums, args.format))
    return 0
