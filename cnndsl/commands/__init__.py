"""One module per CLI command; shared argument helpers."""

from __future__ import annotations

import argparse

from .. import api


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
    """FILE, --set, --input, --strict: how every command names and binds a network."""
    p.add_argument("file", metavar="FILE", help="a .cnn file, a zoo name, or source text")
    p.add_argument("--set", dest="set", action="append", default=[], metavar="K=V",
                   help="bind a network parameter (repeatable), e.g. --set N=2")
    p.add_argument("--input", metavar="CxHxW", help="override the input shape")
    p.add_argument("--strict", action="store_true", help="treat warnings as errors")


def compile_from_args(args: argparse.Namespace) -> api.Network:
    return api.compile(args.file, params=api.parse_params(args.set), input=args.input,
                   strict=getattr(args, "strict", False))
