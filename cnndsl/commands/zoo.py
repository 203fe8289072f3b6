"""cnndsl zoo list | show NAME: the bundled networks."""

from __future__ import annotations

import re
import sys

from ..api import ZOO_DIR, zoo_entry
from ..diagnostics import UserError
from ..suggest import suggestions


def add_parser(sub) -> None:
    p = sub.add_parser("zoo", description="The networks bundled with cnndsl: `zoo list` for their "
                       "figures, `zoo show NAME` for a source.")
    zs = p.add_subparsers(dest="zoo_command", metavar="list|show",
                          help="list: every network; show NAME: a network's source")
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


# A preset line (its arguments may wrap onto the next lines) and its trailing comment.
_PRESET = re.compile(r"^preset\s+(\w+)\s*\((?:[^()]|\([^()]*\))*\)[ \t]*#([^\n]*)",
                     re.IGNORECASE | re.MULTILINE)
_FIGURE = re.compile(r"(input|params|macs)\s+([\dx,]+)", re.IGNORECASE)


def preset_fields(text: str) -> list[tuple[str, dict[str, str]]]:
    """A family file's members: each ``preset`` line's name with the family's header
    fields, and its own figures from the line's comment (``# input 3x300x300, params
    12,233,232, macs 1,827,622,000``)."""
    family = header_fields(text)
    out = []
    for name, comment in _PRESET.findall(text):
        fields = {k: v for k, v in family.items() if k not in ("input", "params", "macs")}
        fields.update((k.lower(), v.rstrip(",")) for k, v in _FIGURE.findall(comment))
        out.append((name, fields))
    return out


def entries() -> list[tuple[str, dict[str, str]]]:
    """Every zoo name: a file's own network, or each member of a family file."""
    out = []
    for p in sorted(ZOO_DIR.glob("*.cnn")):
        text = p.read_text(encoding="utf-8")
        out += preset_fields(text) or [(p.stem, header_fields(text))]
    return sorted(out)


def run(args) -> int:
    if args.zoo_command == "show":
        entry = zoo_entry(args.name)
        if entry is None:
            names = [n for n, _ in entries()]
            hint = suggestions(args.name.lower(), names, 1)
            raise UserError(f"no zoo network named {args.name!r}",
                            help=f"did you mean {hint[0]!r}?" if hint else
                            "see `cnndsl zoo list`", exit_code=2)
        sys.stdout.write(entry[0].read_text(encoding="utf-8"))
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
