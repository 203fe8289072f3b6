"""cnndsl ops [NAME]: the operators, their arguments and defaults."""

from __future__ import annotations

from .. import ops
from ..diagnostics import UserError
from ..elaborate import builtins


def add_parser(sub) -> None:
    p = sub.add_parser("ops", description="The layers and blocks the language knows, with their "
                       "arguments and cost rules; NAME shows one in detail.")
    p.add_argument("name", nargs="?", help="show one operator in detail")


def _sig(op) -> str:
    parts = []
    for a in op.attrs:
        if a.default is ops.REQUIRED:
            parts.append(a.name)
        elif callable(a.default):
            parts.append(f"{a.name}=<default>")
        else:
            d = a.default
            d = "x".join(map(str, d)) if isinstance(d, tuple) else d
            parts.append(f"{a.name}={d}")
    return f"{op.name}({', '.join(parts)})"


def run(args) -> int:
    if args.name:
        op = ops.lookup(args.name)
        if op is None:
            raise UserError(f"no operator {args.name!r}", exit_code=2,
                            help="see `cnndsl ops`")
        print(_sig(op))
        print(f"  {op.doc}")
        if op.aliases:
            print(f"  aliases: {', '.join(op.aliases)}")
        for a in op.attrs:
            if a.doc:
                print(f"  {a.name}: {a.doc}")
        if op.cost_note:
            print(f"  cost: {op.cost_note}")
        return 0
    for op in ops.all_ops():
        if op.family == "io":
            continue
        print(f"{_sig(op):<60} {op.doc.split('.')[0]}")
    print("\nbuilt-in blocks: " + ", ".join(builtins.names()))
    return 0
