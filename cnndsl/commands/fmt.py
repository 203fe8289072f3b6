"""cnndsl fmt FILE...: rewrite .cnn files in the canonical layout (``--check``, ``--diff``)."""

from __future__ import annotations

import difflib
import sys
from pathlib import Path

from ..diagnostics import CnnError, UserError
from . import int_at_least


def add_parser(sub) -> None:
    p = sub.add_parser("fmt", description="Format .cnn files in the one canonical layout "
                       "(spacing, indentation, keyword case, long lines broken after a "
                       "sequencing operator; names, comments and line breaks kept). Files are "
                       "rewritten in place unless --check or --diff; a folder means every "
                       ".cnn file in it; - reads standard input and writes standard output.")
    p.add_argument("files", nargs="+", metavar="FILE", help=".cnn files or folders, or -")
    p.add_argument("--check", action="store_true",
                   help="write nothing; exit 1 if a file would change (for CI)")
    p.add_argument("--diff", action="store_true", help="print what would change, write nothing")
    p.add_argument("--width", type=int_at_least(40), default=100, metavar="N",
                   help="the longest line before a break (default 100)")


def _paths(names: list[str]) -> list[Path]:
    out: list[Path] = []
    for name in names:
        p = Path(name)
        if p.is_dir():
            out += sorted(q for q in p.rglob("*.cnn") if q.is_file())
        elif p.is_file():
            out.append(p)
        else:
            raise UserError(f"no such file: {name}", help="give .cnn files or folders",
                            exit_code=2)
    return out


def run(args) -> int:
    from ..cli import print_diagnostics
    from ..fmt import format_source
    from ..limits import Limits
    from ..outputs import write_atomic
    from ..sources import read_source_file

    if args.files == ["-"]:
        text = sys.stdin.read()
        try:
            sys.stdout.write(format_source(text, args.width, "<stdin>"))
        except CnnError as e:
            print_diagnostics(e.diagnostics)
            return 1
        return 0
    changed, failed = [], False
    for path in _paths(args.files):
        try:  # one bad file (a syntax error, bad UTF-8) stops only itself
            text = read_source_file(path, Limits())
            new = format_source(text, args.width, str(path))
        except CnnError as e:
            print_diagnostics(e.diagnostics)
            failed = True
            continue
        if new == text:
            continue
        changed.append(path)
        if args.diff:
            sys.stdout.writelines(difflib.unified_diff(
                text.splitlines(True), new.splitlines(True), f"{path}", f"{path} (formatted)"))
        elif not args.check:
            write_atomic(path, new)
    verb = "would reformat" if args.check or args.diff else "reformatted"
    for path in changed:
        print(f"{verb} {path}", file=sys.stderr)
    if args.check and changed:
        print(f"{len(changed)} file{'s' if len(changed) != 1 else ''} would change; run "
              "cnndsl fmt on them", file=sys.stderr)
    return 1 if failed or (args.check and changed) else 0
