"""cnndsl lint FILE: warnings (W08xx) for designs that compile but are probably not meant."""

from __future__ import annotations

import sys

from . import add_network_args


def add_parser(sub) -> None:
    p = sub.add_parser("lint", description="Compile the network (a family's first member: "
                       "its defaults, with each --set range at its first value) and warn "
                       "about suspicious designs: a bias before batch norm, a bottleneck "
                       "narrower than the classes, an FC layer holding most parameters, a "
                       "receptive field smaller than the input, an activation on the class "
                       "scores, early pooling, a residual branch missing its siblings' "
                       "norm, and in a family (`N in 1..5`) a part no member builds (codes W08xx, "
                       "docs/errors.md). `# allow W08xx` on a line accepts its warning. "
                       "Exit 1 when there is any warning (or an error), 0 when clean.")
    add_network_args(p)
    p.add_argument("-q", "--quiet", action="store_true", help="print diagnostics only")
    p.add_argument("--members", action="store_true",
                   help="for a family, also lint every member (2,000 drawn at random from a "
                   "larger space): each warning some member has and the first member "
                   "lacks, with how many have it and the first binding that does")
    p.add_argument("--format", choices=("text", "json", "sarif"), default="text",
                   help="text for people (default); json or sarif (2.1.0) on standard output "
                   "for tools, as `cnndsl check` writes them")


def run(args) -> int:
    from ..cli import print_diagnostics
    if args.format != "text":
        return _machine(args)
    net, diags = _lint(args)
    diags = _strict(diags, args)
    print_diagnostics(diags)
    if not args.quiet:
        codes = ", ".join(sorted({d.code for d in diags}))
        n = len(diags)
        verdict = f"{n} warning{'s' if n != 1 else ''} ({codes})" if n else "ok"
        print(f"{net.source_name}: lint: {verdict}", file=sys.stdout)
    return 1 if diags else 0


def _lint(args):
    """The warnings of the family's first member and, for a family, its dead parts
    (W0801): a parameter or part a --set ranges is compiled at the range's first value
    (the defaults may lie outside the family asked for, or have no value at all)."""
    from ..diagnostics import apply_allow_comments
    from ..family.coverage import dead_parts
    from ..lint import lint
    from .enumerate import family_from_args
    family = family_from_args(args, strict=args.strict)
    space = family.space
    net = family.compile({d.name: d.values[0] for d in space.dims if d.name in space.given})
    diags = lint(net) + [d for d in net.diagnostics if d.code == "W0201"]  # a misspelt --set
    if any(not d.optional for d in family.space.dims):
        diags += apply_allow_comments(dead_parts(family))
    if args.members and family.space.dims:
        from ..family.lint_members import member_warnings
        diags += member_warnings(family, diags)
    return net, sorted(diags, key=lambda d: (d.span is not None, d.span.line if d.span
                                             else 0, d.span.col if d.span else 0, d.code))


def _strict(diags: list, args) -> list:
    return [d.as_error() for d in diags] if getattr(args, "strict", False) else diags


def _machine(args) -> int:
    from .diagnostics_formats import print_machine
    found: list = []

    def check() -> tuple[str, list, dict]:
        net, diags = _lint(args)
        found.extend(_strict(diags, args))
        return net.source_name, found, {"name": net.name, "warnings": len(found)}
    return 0 if print_machine(args.format, str(args.file), check) and not found else 1
