"""cnndsl summary FILE [FILE ...]: per-layer shapes, parameters, MACs, activations, RF.

With two or more files it compares their totals side by side, with ratios to the first.
"""

from __future__ import annotations

from ..compare import format_compare
from ..diagnostics import CnnError, UserError
from ..passes.columns import format_summary
from ..passes.custom import analyze
from ..passes.loading import add_pass_arg, apply_pass_args
from ..passes.memory import OPTIMIZER_STATE
from ..report import FORMATS
from . import add_binding_args, compile_from_args, int_at_least


def add_parser(sub) -> None:
    p = sub.add_parser("summary", description="Per-layer output shapes, activations, "
                       "parameters, MACs and receptive fields, with totals and memory "
                       "estimates. Give two or more FILEs to compare their totals.")
    p.add_argument("file", metavar="FILE", nargs="+",
                   help="a .cnn file, a zoo name, or source text (two or more: compare)")
    add_binding_args(p)
    add_pass_arg(p)
    p.add_argument("--format", choices=tuple(FORMATS), default="table",
                   help="table (default), json (the CLI contract), markdown or csv")
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
    sums, columns = [], {}
    for f in args.file:
        net, analyses = apply_pass_args(args, compile_from_args(args, f), allow_analyses=True)
        if analyses and len(args.file) > 1:
            raise UserError("--pass: analyses add columns to one network's summary, not to "
                            "a comparison of totals", help="give one FILE", exit_code=2)
        columns = analyze(net, analyses)
        s = net.summary(depth=args.depth, dtype=args.dtype, batch=args.batch,
                        optimizer=args.optimizer)
        late = [d.as_error() for d in s.diagnostics if d.code == "W0601"]
        if args.strict and late:  # found by the receptive-field pass, after compile
            raise CnnError(late)
        if args.format == "table":
            print_diagnostics(list(s.diagnostics))
        sums.append(s)
    if len(sums) == 1:
        print(format_summary(sums[0], columns, args.format))
    else:
        print(format_compare(sums, args.format))
    return 0
