"""cnndsl enumerate FILE: every member of a family with its figures; filters, sorting,
the Pareto front and a scatter plot."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ..diagnostics import CnnError, UserError
from ..family.formats import FORMATS, render
from ..family.members import Family
from ..family.space import parse_bindings
from ..family.table import METRICS, Bounds, Counts, pareto, parse_amount, sort_rows, walk
from ..limits import Limits
from . import _refuse_missing, _refuse_trained, add_binding_args, add_force_arg, int_at_least


def add_family_args(p: argparse.ArgumentParser) -> None:
    """FILE, the bindings (where a value may range) and the filters on the figures."""
    p.add_argument("file", metavar="FILE", help="a .cnn file, a zoo name, or source text")
    add_binding_args(p)
    for action in p._actions:  # --limit N: the first N members; NAME=N: a compiler bound
        if "--limit" in action.option_strings:
            action.metavar = "N | NAME=N"
            action.help = ("show the first N members only; NAME=N raises a bound of the "
                           "compiler, as elsewhere (--limit nodes=200000)")
    p.description += (" The free dimensions are the network's ranged parameters "
                      "(`N=2 in 1..5`), those --set gives a range or choices (--set "
                      "N=1..3, --set K=0,1,2, --set 'w={32,64}') and every optional part "
                      "(`POOL?`: on and off); --set N=2 or --set POOL?=on fixes one.")
    g = p.add_argument_group("filters (amounts take k, M, G, T: 1M, 2.5G, 64MiB)")
    g.add_argument("--max-params", type=parse_amount, metavar="N",
                   help="at most N parameters (weights and biases, as the params column; "
                   "buffers apart)")
    g.add_argument("--max-macs", type=parse_amount, metavar="N",
                   help="at most N multiply-accumulates per image (conv and linear)")
    g.add_argument("--max-activations", type=parse_amount, metavar="N",
                   help="at most N activation elements created per image")
    g.add_argument("--max-memory", type=parse_amount, metavar="BYTES",
                   help="peak live activations, fp32 bytes per image")
    g.add_argument("--min-rf", type=int_at_least(1), metavar="PIXELS",
                   help="the receptive field of the last feature map")
    g.add_argument("--valid-only", action="store_true",
                   help="hide the members that fail shape checking")
    g.add_argument("--sample", type=int_at_least(1), metavar="N",
                   help="draw N bindings at random instead of walking them all")
    g.add_argument("--seed", type=int, default=0, help="the sample's seed (default 0)")


def add_parser(sub) -> None:
    p = sub.add_parser("enumerate", description="List every member of a family (the "
                       "product of its parameters' ranges and choices) with its parameters, "
                       "MACs, activations, peak memory, receptive field and output shape, "
                       "without building any. Members that fail shape checking are listed "
                       "as invalid with their error codes; members with the same graph are "
                       "listed once with all their bindings.")
    add_family_args(p)
    p.add_argument("--sort", metavar="KEY", help="sort by a figure (params, macs, "
                   "activations, memory, rf) or a parameter; --sort=-KEY sorts descending")
    p.add_argument("--pareto", metavar="A,B", help="keep the members no other member "
                   "beats on all these figures (e.g. params,macs; rf counts larger as better)")
    p.add_argument("--plot", type=Path, metavar="FILE.png", help="draw the members on the "
                   "first two --pareto figures (default params,macs) with their front")
    p.add_argument("--format", choices=FORMATS, default="table", help="table (default), "
                   "json, csv or markdown")
    add_force_arg(p, "the --plot file")


def family_from_args(args: argparse.Namespace, strict: bool = False) -> Family:
    """The family FILE and the bindings name (a file on the command line is the file);
    ``strict``: a member with a warning is invalid."""
    name = args.file
    _refuse_trained(name)
    if os.path.isfile(name):
        name = Path(name)
    else:
        _refuse_missing(name)
    bounds = [item for item in args.limit or () if "=" in item]
    return Family(name, parse_bindings(args.set), input=args.input, preset=args.preset,
                  include=args.include, limits=Limits.parse(bounds), strict=strict)


def max_rows(args: argparse.Namespace) -> int | None:
    """The N of ``--limit N`` (the last one given), if any."""
    counts = [item for item in args.limit or () if "=" not in item]
    if not counts:
        return None
    n = counts[-1]
    if not n.isdigit() or int(n) < 1:
        raise UserError(f"--limit takes a number of members or NAME=N, got {n!r}",
                        exit_code=2, help="e.g. --limit 20")
    return int(n)


def bounds_from_args(args: argparse.Namespace) -> Bounds:
    return Bounds(args.max_params, args.max_macs, args.max_activations, args.max_memory,
                  args.min_rf)


def every_member_invalid(family: Family, rows: list) -> CnnError:
    """No member compiles: the first one's diagnostics say why (an unknown preset, a
    parameter with no value, an empty range, ...), as `cnndsl check` would."""
    try:
        family.compile(family.space.bindings(rows[0].index))
    except CnnError as e:
        return e
    return CnnError([])  # unreachable: that member failed while walking


def metric_list(text: str | None, default: str = "params,macs") -> list[str]:
    names = [m.strip().lower() for m in (text or default).split(",") if m.strip()]
    unknown = [m for m in names if m not in METRICS]
    if unknown or len(names) < 2:
        raise UserError(f"--pareto takes two or more figures, got {text!r}", exit_code=2,
                        help="choose from " + ", ".join(METRICS) + ", e.g. params,macs")
    return names


def run(args) -> int:
    metrics = metric_list(args.pareto) if args.pareto or args.plot else []
    limit = max_rows(args)
    family = family_from_args(args, strict=args.strict)
    admitted, counts = walk(family, bounds_from_args(args), args.sample, args.seed,
                            keep_invalid=True)
    if counts.invalid and not counts.valid:
        raise every_member_invalid(family, admitted)
    from ..cli import print_diagnostics
    print_diagnostics(family.unused_bindings)
    if args.valid_only:
        admitted = [r for r in admitted if r.valid]
    rows = admitted
    if args.pareto:
        rows = pareto(rows, metrics) + [r for r in rows if not r.valid]
    if args.sort is not None:
        rows = sort_rows(rows, args.sort)
    if args.plot:
        from ..family.plot import plot_family
        plot_family(admitted, metrics, args.plot, title=_title(family, counts),
                    force=args.force)
    shown = rows[:limit] if limit else rows
    counts = Counts(counts.bindings, counts.space, counts.valid, counts.invalid,
                    counts.duplicates, len(shown))
    dims = [d.name for d in family.space.dims]
    print(render(shown, dims, counts, args.format, name=_title(family, None)))
    return 0


def _title(family: Family, counts: Counts | None) -> str:
    net = family.program.network
    name = (net.name if net and net.name else family.program.source.name)
    return name if counts is None else f"{name}: {counts.valid:,} valid members"
