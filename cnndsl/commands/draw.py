"""cnndsl draw FILE -o OUT: the network as a diagram (SVG, PNG, PDF, DOT or Mermaid)."""

from __future__ import annotations

import sys
from pathlib import Path

from ..passes.loading import add_pass_arg, apply_pass_args
from . import add_force_arg, add_network_args, compile_from_args, int_at_least

MERMAID_MAX_EDGES = 500  # mermaid's default maxEdges


def add_parser(sub) -> None:
    p = sub.add_parser("draw", description="Draw the network. The format comes from the "
                       "extension of OUT: .svg, .png, .pdf (rendered by Graphviz's `dot`), .dot "
                       "or .mmd (Mermaid). Without -o the DOT source is printed.")
    add_network_args(p)
    add_pass_arg(p)
    p.add_argument("-o", "--output", metavar="OUT", help="output file (default: DOT on "
                   "stdout): a new file or one cnndsl wrote, unless --force")
    add_force_arg(p)
    p.add_argument("--depth", type=int_at_least(0), metavar="N", help="draw block calls nested N deep "
                   "or deeper as one box (0: one box per top-level block call; default: the "
                   "deepest level that keeps the drawing to about 25 boxes)")
    p.add_argument("--unroll", action="store_true",
                   help="draw repeated blocks one by one instead of folding them into 'x N'")
    p.add_argument("--annotate", metavar="LIST", default="",
                   help="comma-separated extra lines on boxes: params, macs, rf")
    p.add_argument("--rankdir", choices=("TB", "LR"), default="TB", type=str.upper,
                   help="top to bottom (default) or left to right")
    p.add_argument("--shapes", choices=("changes", "all", "none"), default="changes",
                   help="label edges with tensor shapes where they change (default), on "
                   "all edges, or none")
    p.add_argument("--no-legend", dest="legend", action="store_false",
                   help="leave out the colour legend")


def run(args) -> int:
    from ..cli import print_diagnostics
    from ..draw import draw, to_dot
    net, _ = apply_pass_args(args, compile_from_args(args))
    print_diagnostics(net.diagnostics)
    options = dict(depth=args.depth, unroll=args.unroll, annotate=args.annotate,
                   rankdir=args.rankdir, legend=args.legend, shapes=args.shapes)
    if "rf" in args.annotate and not _has_receptive_field():
        print("note: receptive fields are not available in this build; drawing without "
              "them", file=sys.stderr)
    if not args.output:
        sys.stdout.write(to_dot(net, **options))
        return 0
    path = draw(net, Path(args.output), force=args.force, **options)
    print(f"wrote {path}", file=sys.stderr)
    if path.suffix.lower() == ".mmd":
        arrows = path.read_text(encoding="utf-8").count(" -->")
        if arrows > MERMAID_MAX_EDGES:
            print(f"note: {arrows} arrows; Mermaid draws at most {MERMAID_MAX_EDGES} by "
                  "default: use a smaller --depth, or SVG", file=sys.stderr)
    return 0


def _has_receptive_field() -> bool:
    try:
        from ..passes.receptive_field import receptive_field  # noqa: F401
    except ImportError:
        return False
    return True
