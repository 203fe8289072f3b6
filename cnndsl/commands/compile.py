"""cnndsl compile FILE -o OUT: emit PyTorch source, ONNX or the IR as JSON."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from ..diagnostics import UserError
from . import add_network_args, compile_from_args

EMIT_BY_SUFFIX = {".py": "torch", ".onnx": "onnx", ".json": "ir-json", ".ir": "ir"}


def add_parser(sub) -> None:
    p = sub.add_parser("compile", help="emit a PyTorch module (or ONNX, IR JSON)")
    add_network_args(p)
    p.add_argument("-o", "--output", metavar="OUT", help="output file (default: stdout)")
    p.add_argument("--emit", choices=("torch", "onnx", "ir-json", "ir"),
                   help="what to emit (default: from the extension of OUT, else torch)")


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write via a temporary file and rename, so a failure never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def run(args) -> int:
    from ..cli import print_diagnostics
    emit = args.emit or EMIT_BY_SUFFIX.get(Path(args.output).suffix if args.output else "",
                                           "torch")
    net = compile_from_args(args)
    print_diagnostics(net.diagnostics)
    if emit == "onnx":
        if not args.output:
            raise UserError("ONNX is binary: give -o OUT.onnx", exit_code=2)
        from ..backends.onnx_export import export_onnx
        export_onnx(net, Path(args.output))
        print(f"wrote {args.output}", file=sys.stderr)
        return 0
    text = {"torch": net.to_python, "ir-json": net.to_json, "ir": net.dump_ir}[emit]()
    if not text.endswith("\n"):
        text += "\n"
    if args.output:
        write_atomic(Path(args.output), text)
        print(f"wrote {args.output} ({emit})", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
