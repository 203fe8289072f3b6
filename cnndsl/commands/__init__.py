"""One module per CLI command; shared argument helpers."""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path

from .. import api
from ..diagnostics import UserError
from ..limits import Limits
from ..suggest import suggestions


def int_at_least(minimum: int):
    """An argparse type: a whole number no smaller than ``minimum``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected at least {minimum}, got {value}")
        return value
    return parse


def add_network_args(p: argparse.ArgumentParser) -> None:
    """FILE, --set, --input, --strict, --include, --limit: how every command names and
    binds a network."""
    p.add_argument("file", metavar="FILE", help="a .cnn file, a zoo name, or source text")
    add_binding_args(p)


def add_binding_args(p: argparse.ArgumentParser) -> None:
    """The options that bind and bound a compile (every command that compiles)."""
    p.add_argument("--set", dest="set", action="append", default=[], metavar="K=V",
                   help="bind a network parameter (repeatable), e.g. --set N=2")
    p.add_argument("--preset", "--member", dest="preset", metavar="NAME",
                   help="one of the file's `preset` lines (a family member), e.g. "
                   "--preset small; --set binds over it")
    p.add_argument("--input", metavar="CxHxW", help="override the input shape")
    p.add_argument("--strict", action="store_true", help="treat warnings as errors")
    p.add_argument("--include", action="append", default=[], metavar="DIR",
                   help="a folder imports may read besides the file's own folder tree and "
                   "the zoo (repeatable)")
    p.add_argument("--limit", action="append", default=[], metavar="NAME=N",
                   help="raise a bound of the compiler (nodes, steps, elements, params, "
                   "source_bytes, nesting, import_depth, import_bytes), e.g. --limit "
                   "nodes=200000")


def add_force_arg(p: argparse.ArgumentParser, what: str = "OUT") -> None:
    """--force: the one way to replace a file cnndsl did not write (cnndsl.outputs)."""
    p.add_argument("--force", action="store_true",
                   help=f"replace {what} even when cnndsl did not write it (never a "
                   "directory, link, device or FIFO)")


def _refuse_trained(name: str) -> None:
    """A run folder or a checkpoint is not source: say where its network and model are."""
    from ..outputs import ZIP_SIGNATURE, is_cnndsl_run

    what = None
    if os.path.isdir(name) and is_cnndsl_run(name):
        what, source = "a training run", os.path.join(name, "network.cnn")
    elif os.path.isfile(name):
        with open(name, "rb") as f:
            if f.read(4) == ZIP_SIGNATURE:
                what, source = "a PyTorch file (a checkpoint or model)", "the run's network.cnn"
    if what is not None:
        raise UserError(f"{name} is {what}, not .cnn source",
                        help=f"the network's source is {source}; to use the trained model "
                             f"elsewhere: cnndsl export {name} -o model.onnx (or .pt, .py)",
                        exit_code=2)


def _refuse_missing(name: str) -> None:
    """A bare word that is no file, zoo name or layer is a name mistyped, not a program:
    say so, with the closest zoo name (`cnndsl check resnet5`)."""
    if not re.fullmatch(r"[A-Za-z_][\w.]*", name) or api.zoo_entry(name) is not None:
        return
    from .. import ops
    from ..elaborate import builtins
    from .zoo import entries
    if ops.lookup(name) or builtins.lookup(name) or name.lower() in _prelude_names():
        return  # `cnndsl check conv`: a one-layer program
    hints = sorted(suggestions(name.lower(), [n for n, _ in entries()]))
    raise UserError(f"no such file or zoo network: {name}",
                    help="did you mean " + " or ".join(f"`{h}`" for h in hints) + "?" if hints else
                    "give a .cnn file, a zoo name (see `cnndsl zoo list`) or source text",
                    exit_code=2)


def _prelude_names() -> set[str]:
    from .ops import prelude_blocks
    return {n.lower() for n, _, _ in prelude_blocks()}


def compile_from_args(args: argparse.Namespace, file: str | None = None) -> api.Network:
    """Compile ``file`` (default: the FILE argument) as the options say."""
    name = args.file if file is None else file
    _refuse_trained(name)
    if os.path.isfile(name):  # on the command line, an existing file is the file
        name = Path(name)
    else:
        _refuse_missing(name)
    return api.compile(name,
                       bindings=api.parse_bindings(args.set), input=args.input,
                       strict=getattr(args, "strict", False),
                       limits=Limits.parse(getattr(args, "limit", None) or ()),
                       include=getattr(args, "include", None) or (),
                       preset=getattr(args, "preset", None))
