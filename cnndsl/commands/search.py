"""cnndsl search FILE --data SPEC: train a family's cheapest (or sampled) members for a
short schedule each, in parallel, resumably; print the accuracy-cost front."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..diagnostics import CnnError, UserError
from ..family.formats import FORMATS, render
from ..family.members import Family
from ..family.table import Counts, Row, bindings_text
from . import add_force_arg, int_at_least
from .enumerate import (
    add_family_args,
    bounds_from_args,
    every_member_invalid,
    family_from_args,
    max_rows,
)

DATA_HELP = ("digits (embedded) | mnist:DIR | cifar10:DIR | folder:DIR | npz:FILE | "
             "synthetic:N=512,shape=1x28x28,classes=10")
EXTRA = ("accuracy", "seconds", "front")
# json and csv are read by programs: a failed trial's status and error, not just a null
RECORD_EXTRA = (*EXTRA, "status", "error")


def add_parser(sub) -> None:
    p = sub.add_parser("search", description="Train the cheapest (or a sample of the) "
                       "valid members of a family for a short schedule each, in parallel "
                       "worker processes (--jobs) or on a Ray cluster (--ray), record each "
                       "member's accuracy, time and costs in a results file, and print the "
                       "front of accuracy against MACs. Run the same command again to resume: "
                       "members already in the results file are not trained again. Each "
                       "trial is one process; to train one member on several GPUs, use "
                       "`torchrun ... -m cnndsl train FILE --set ...` on the member found.")
    add_family_args(p)
    s = p.add_argument_group("search")
    s.add_argument("--data", required=True, metavar="SPEC", help=DATA_HELP)
    s.add_argument("--trials", type=int_at_least(1), default=8, metavar="N",
                   help="how many members to train (default 8)")
    s.add_argument("--strategy", choices=("cheapest", "sample"), default="cheapest",
                   help="cheapest: the N members with the fewest MACs (default); sample: "
                   "N drawn at random with --seed, among those the filters admit")
    s.add_argument("--budget", metavar="DURATION", help="start no trial after this long "
                   "(90s, 30m, 1h, 1h30m, 1.5h, or seconds); running trials finish")
    s.add_argument("--results", type=Path, metavar="FILE.jsonl", help="the results file, "
                   "created as the first trial starts, appended as trials finish and "
                   "read to resume (default search-NETWORK.jsonl here)")
    s.add_argument("--retry-failed", action="store_true",
                   help="train again the members whose trial failed")
    r = p.add_argument_group("recipe (each trial, as cnndsl train)")
    r.add_argument("--epochs", type=int_at_least(1), default=2, help="default 2")
    r.add_argument("--batch-size", type=int_at_least(1), metavar="N", help="default 64")
    r.add_argument("--optimizer", metavar="NAME", help="default adam")
    r.add_argument("--lr", type=float, metavar="RATE", help="the optimizer's default")
    w = p.add_argument_group("workers")
    w.add_argument("--jobs", type=int_at_least(1), metavar="N", help="trials at once: "
                   "worker processes (default 1); with --ray, tasks (default: the cluster's "
                   "CPUs / --threads-per-job)")
    w.add_argument("--threads-per-job", type=int_at_least(1), metavar="N",
                   help="torch threads per trial (default: the cores / --jobs; 1 on Ray)")
    w.add_argument("--device", default="auto", help="auto (default) | cpu | cuda | cuda:N")
    w.add_argument("--ray", metavar="ADDRESS", help="run the trials on the Ray cluster at "
                   "HOST:PORT (pip install 'cnndsl[ray]'); with --device cuda each takes "
                   "one GPU")
    o = p.add_argument_group("output")
    o.add_argument("--format", choices=FORMATS, default="table", help="table (default), "
                   "json, csv or markdown")
    o.add_argument("--plot", type=Path, metavar="FILE.png",
                   help="draw accuracy against MACs with the front")
    add_force_arg(p, "the --plot file")


def run(args: argparse.Namespace) -> int:
    from ..cli import print_diagnostics
    from ..family.search import Interrupted, search
    from ..outputs import check_target

    limit = max_rows(args)
    if args.plot:
        check_target(args.plot, args.force)  # before the training, which takes a while
    family = family_from_args(args, strict=args.strict)
    results = args.results or Path(f"search-{_name(family)}.jsonl")
    try:
        rows = search(family, args.data, trials=args.trials, strategy=args.strategy,
                      epochs=args.epochs, jobs=args.jobs, threads=args.threads_per_job,
                      results=results, budget=args.budget, bounds=bounds_from_args(args),
                      sample=args.sample, seed=args.seed, device=args.device,
                      ray_address=args.ray, retry_failed=args.retry_failed,
                      report=_report, warn=print_diagnostics, batch_size=args.batch_size,
                      optimizer=args.optimizer, lr=args.lr)
    except Interrupted as e:
        print(f"interrupted; run the same command again to resume ({e.done} of {e.total} "
              f"trials done, in {e.path})", file=sys.stderr)
        return 130
    for note in rows.notes:
        print(f"note: {note}", file=sys.stderr)
    if not rows.selected and rows.counts.invalid and not rows.counts.valid:
        raise _no_member_compiles(family, args.sample, args.seed)
    if not rows.selected:
        raise UserError("no valid member passes the filters", exit_code=1,
                        help="loosen --max-params/--max-macs/..., or check the family with "
                             "cnndsl enumerate")
    if args.plot:
        from ..family.plot import plot_family
        plot_family(rows, ["macs", "accuracy"], args.plot, title=f"{rows.name}: search",
                    force=args.force)
    shown = rows[:limit] if limit else rows
    c = rows.counts
    counts = Counts(c.bindings, c.space, c.valid, c.invalid, c.duplicates, len(shown))
    dims = [d.name for d in family.space.dims]
    extra = RECORD_EXTRA if args.format in ("json", "csv") else EXTRA
    print(render(shown, dims, counts, args.format, extra=extra, name=rows.name))
    if args.format == "table":
        print(_footer(rows))
    return 0


def _no_member_compiles(family: Family, sample: int | None, seed: int) -> CnnError:
    """The first member walked fails, as every one did: its own error says why (an
    error in the file, an unknown preset), as `cnndsl enumerate` says it."""
    first = next(family.space.indices(sample, seed))
    return every_member_invalid(family, [Row(first, family.space.bindings(first), False)])


def _name(family) -> str:
    """NETWORK in the default search-NETWORK.jsonl: the network's name, else the file's
    stem; never anything of source text given on the command line (its display name is
    ``<input>``), which could hold slashes or newlines."""
    net = family.program.network
    if net and net.name:
        return net.name
    source = family.program.source.name
    stem = Path(source).stem
    if source.startswith("<") or not stem.isprintable() or stem in ("", ".", ".."):
        return "network"
    return stem


def _report(record: dict, done: int, total: int) -> None:
    what = bindings_text(record["bindings"]) or "the network"
    if record.get("status") == "ok":
        acc = record.get("accuracy")
        result = (f"accuracy {100 * acc:.1f}%" if acc is not None else "trained") + \
            f" in {record.get('seconds', 0):.1f} s"
    else:
        result = f"failed: {record.get('error')}"
    print(f"[{done}/{total}] {what}: {result}", file=sys.stderr, flush=True)


def _footer(rows) -> str:
    trials = f"{rows.selected} trial{'s' if rows.selected != 1 else ''}"
    state = f"{rows.resumed} resumed from {rows.path}, {rows.failed} failed"
    if rows.unstarted:
        state += f", {rows.unstarted} not started (budget spent)"
    front = "; ".join(f"{bindings_text(r.bindings) or 'the network'} "
                      f"({100 * r.extra['accuracy']:.1f}%)" for r in rows.front)
    return f"{trials} ({state}) in {rows.seconds:.1f} s; front: {front or 'none'}"
