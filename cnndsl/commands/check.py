"""cnndsl check FILE: parse, elaborate and check shapes; print diagnostics."""

from __future__ import annotations

import sys

from ..passes.loading import add_pass_arg, apply_pass_args
from . import add_network_args, compile_from_args


def add_parser(sub) -> None:
    p = sub.add_parser("check", description="Parse, elaborate and check every shape; print the "
                       "diagnostics and, when there are no errors, a one-line verdict (exit 1 on "
                       "errors).")
    add_network_args(p)
    add_pass_arg(p)
    p.add_argument("--dump-ir", action="store_true", help="print the IR, one line per node")
    p.add_argument("-q", "--quiet", action="store_true", help="print diagnostics only")
    p.add_argument("--format", choices=("text", "json", "sarif"), default="text",
                   help="text for people (default); json or sarif (2.1.0, for code hosts) on "
                   "standard output for tools: code, severity, message, span, label, notes, "
                   "help of every diagnostic")


def run(args) -> int:
    from ..cli import print_diagnostics
    if args.format != "text":
        return _machine(args)
    net, _ = apply_pass_args(args, compile_from_args(args))
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


def _machine(args) -> int:
    from .diagnostics_formats import print_machine

    def check() -> tuple[str, list, dict]:
        net, _ = apply_pass_args(args, compile_from_args(args))
        return net.source_name, net.diagnostics, {
            "name": net.name, "input": list(net.input_shape),
            "output": list(net.output_shape), "layers": len(net.graph) - 1,
            "params": net.params_count}
    return 0 if print_machine(args.format, str(args.file), check) else 1
