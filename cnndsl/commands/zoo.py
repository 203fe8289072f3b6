"""cnndsl zoo list | show NAME: the bundled networks."""

from __future__ import annotations

import re
import sys

from ..api import ZOO_DIR, zoo_path
from ..diagnostics import UserError


def add_parser(sub) -> None:
    p = sub.add_parser("zoo", description="The networks bundled with cnndsl: `zoo list` for their "
                       "figures, `zoo show NAME` for a source.")
    zs = p.add_subparsers(dest="zoo_command", metavar="list|show")
    zs.add_parser("list", help="name, params, MACs, input and description of each")
    show = zs.add_parser("show", help="print a zoo network's source")
    show.add_argument("name")


HEADER_KEYS = {"source", "input", "params", "macs", "note", "reference", "variant"}


def header_fields(text: str) -> dict[str, str]:
    """The ``# key: value`` lines at the top of a zoo file (description, params, macs)."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if not line.startswith("#"):
            if line.strip():
                break
            continue
        m = re.match(r"#\s*([A-Za-z]+):\s*(.+)", line)
        if m and m.group(1).lower() in HEADER_KEYS:
            fields.setdefault(m.group(1).strip().lower(), m.group(2).strip())
        elif "title" not in fields and line.strip("# ").strip():
            fields["title"] = line.strip("# ").strip()
    return fields


def entries() -> list[tuple[str, dict[str, str]]]:
    return [(p.stem, header_fields(p.read_text(encoding="utf-8")))
            for p in sorted(ZOO_DIR.glob("*.cnn"))]


def run(args) -> int:
    if args.zoo_command == "show":
        p = zoo_path(args.name)
        if p is None:
            import difflib
            names = [n for n, _ in entries()]
            hint = difflib.get_close_matches(args.name.lower(), names, n=1)
            raise UserError(f"no zoo network named {args.name!r}",
                            help=f"did you mean {hint[0]!r}?" if hint else
                            "see `cnndsl zoo list`", exit_code=2)
        sys.stdout.write(p.read_text(encoding="utf-8"))
        return 0
    rows = [(name, f.get("params", "?"), f.get("macs", "?"), f.get("input", "?"),
             f.get("title", "")) for name, f in entries()]
    heads = ("name", "params", "MACs", "input", "description")
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(heads)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths[:-1]) + "  {}"
    print(fmt.format(*heads))
    for r in rows:
        print(fmt.format(*r))
    return 0
