"""cnndsl check FILE: parse, elaborate and check shapes; print diagnostics."""

from __future__ import annotations

import sys

from . import add_network_args, compile_from_args


def add_parser(sub) -> None:
    p = sub.add_parser("check", description="Parse, elaborate and check every shape; print the "
                       "diagnostics and, when there are no errors, a one-line verdict (exit 1 on "
                       "errors).")
    add_network_args(p)
    p.add_argument("--dump-ir", action="store_true", help="print the IR, one line per node")
    p.add_argument("-q", "--quiet", action="store_true", help="print diagnostics only")


def run(args) -> int:
    from ..cli import print_diagnostics
    net = compile_from_args(args)
    print_diagnostics(net.diagnostics)
    if args.dump_ir:
        print(net.dump_ir())
    if not args.quiet:
        w = len(net.warnings)
        print(f"{net.source_name}: ok: {net.name} {net.graph.input_type} -> "
              f"{net.graph.output_type}, {len(net.graph) - 1} layers, "
              f"{net.params_count:,} parameters"
              + (f", {w} warning{'s' if w != 1 else ''}" if w else ""), file=sys.stdout)
    return 0
