"""cnndsl ops [NAME]: the operators and blocks, their arguments, defaults and costs."""

from __future__ import annotations

import re

from .. import ops
from ..diagnostics import UserError
from ..elaborate import builtins
from ..suggest import suggestions


def add_parser(sub) -> None:
    p = sub.add_parser("ops", description="The layers and blocks the language knows (operators, "
                       "built-in blocks, the prelude's blocks), with their arguments, defaults and "
                       "cost rules; NAME shows one in detail.")
    p.add_argument("name", nargs="?", help="an operator, alias or block to show in detail")


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


def prelude_blocks() -> list[tuple[str, str, str]]:
    """(name, signature, description) of every prelude block: the description is the
    comment above its definition in cnndsl/prelude.cnn."""
    from ..elaborate.elaborator import PRELUDE
    out, comment, doc = [], [], ""
    for line in PRELUDE.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            comment.append(line.lstrip("# ").strip())
            continue
        m = re.match(r"block\s+(\w+)\s*(\([^)]*\))?", line)
        if m:  # consecutive blocks share the comment above the first
            doc = " ".join(comment) or doc
            out.append((m.group(1), m.group(1) + (m.group(2) or ""), doc))
        elif not line.strip():
            doc = ""
        comment = []
    return out


def _builtin_doc(name: str) -> str:
    fn = builtins.lookup(name)
    return " ".join((fn.__doc__ or "").split()).replace("``", "`") if fn else ""


def run(args) -> int:
    blocks = {n.lower(): (sig, doc) for n, sig, doc in prelude_blocks()}
    if args.name:
        return _show(args.name, blocks)
    for op in ops.all_ops():
        if op.family != "io":
            print(f"{_sig(op):<60} {op.doc}")
    print("\nprelude blocks (cnndsl/prelude.cnn):")
    for sig, doc in blocks.values():
        print(f"{sig:<60} {doc}")
    print("\nbuilt-in blocks: " + ", ".join(builtins.names()))
    return 0


def _show(name: str, blocks: dict[str, tuple[str, str]]) -> int:
    op = ops.lookup(name)
    if op is not None:
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
    if name.lower() in blocks:
        sig, doc = blocks[name.lower()]
        print(f"{sig}  (a block of the prelude, written in the language)\n  {doc}")
        return 0
    if builtins.lookup(name) is not None:
        print(f"{name}  (built in)\n  {_builtin_doc(name)}")
        return 0
    pool = ops.names() + list(blocks) + builtins.names()
    hint = suggestions(name.lower(), pool, 1)
    raise UserError(f"no operator or block {name!r}", exit_code=2,
                    help=f"did you mean {hint[0]!r}?" if hint else "see `cnndsl ops`")
