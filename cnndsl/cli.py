"""The command line: a thin layer over the public API.

Each command lives in ``cnndsl/commands/NAME.py`` with ``add_parser(subparsers)`` and
``run(args) -> int``. Exit codes: 0 success, 1 the input has errors, 2 usage error.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from .diagnostics import CnnError, UserError, render_all, visible

# Each command lives in a module imported only when that command runs; its one-line help
# is here so that `cnndsl --help` lists every command without importing any.
COMMANDS = {
    "check": ("cnndsl.commands.check", "check shapes and report problems"),
    "summary": ("cnndsl.commands.summary", "per-layer shapes, parameters and costs; compare "
                "networks"),
    "compile": ("cnndsl.commands.compile", "emit a PyTorch module (or ONNX, IR JSON)"),
    "draw": ("cnndsl.commands.draw", "draw the network (Graphviz or Mermaid)"),
    "train": ("cnndsl.train.cli", "train a network on data (GPU or CPU)"),
    "eval": ("cnndsl.train.cli", "score a checkpoint on data"),
    "predict": ("cnndsl.train.cli", "classify image files with a checkpoint"),
    "lr-find": ("cnndsl.train.cli", "the learning-rate range test: a rate to train with"),
    "export": ("cnndsl.train.cli", "write a trained model as ONNX, TorchScript or source + "
               "weights"),
    "enumerate": ("cnndsl.commands.enumerate", "every member of a family with its costs; "
                  "filters, sorting, the Pareto front"),
    "search": ("cnndsl.commands.search", "train a family's members; the accuracy-cost front"),
    "lint": ("cnndsl.commands.lint", "warnings for suspicious designs (bias before BN, "
             "FC-dominated, a part no family member builds, ...)"),
    "import": ("cnndsl.commands.import_model", "write a PyTorch or ONNX model as a cnndsl "
               "program (checked against the original)"),
    "zoo": ("cnndsl.commands.zoo", "list the bundled networks, or show one's source"),
    "fmt": ("cnndsl.commands.fmt", "format .cnn files in the one canonical layout"),
    "lsp": ("cnndsl.commands.lsp", "the language server for editors (stdio)"),
    "completion": ("cnndsl.commands.completion", "print a shell completion script (bash, "
                   "zsh, fish)"),
    "ops": ("cnndsl.commands.ops", "list the layers and blocks the language knows"),
    "demo": ("cnndsl.commands.demo", "check, summarize, compile and (with torch) run a zoo "
             "network, and train it on the bundled digits"),
}
# Optional dependencies: what to install when a command needs one that is missing.
OPTIONAL_PACKAGES = {
    "torch": "install the PyTorch build for your machine (see the README), e.g. "
             "pip install torch",
    "matplotlib": "pip install matplotlib (or pip install 'cnndsl[train]')",
    "onnx": "pip install onnx (or pip install 'cnndsl[onnx]')",
    "PIL": "pip install pillow",
}  # modules adding several commands (train, eval, predict, export, lr-find)


def _color(stream) -> bool:
    return stream.isatty() and os.environ.get("NO_COLOR") is None


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # usage errors exit 2 with a hint, as argparse does
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser; only ``command``'s module is imported (all: None)."""
    parser = _Parser(prog="cnndsl", description="Compile, check, measure, draw and train "
                     "convolutional networks written in the cnndsl language.")
    parser.add_argument("--version", action="version", version="cnndsl " + _version())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    target = COMMANDS[command][0] if command in COMMANDS else None
    handlers: dict = {}
    for name, (modname, help) in COMMANDS.items():
        if command is None or modname != target:
            sub.add_parser(name, help=help)  # listed by --help; its module is not needed
        elif name not in handlers:  # the module of the command (train's adds five)
            mod = importlib.import_module(modname)
            handlers.update(mod.add_parsers(sub) if hasattr(mod, "add_parsers") else
                            {name: (mod.add_parser(sub), mod.run)[1]})
    parser.set_defaults(_handlers=handlers)
    return parser


def _command(argv: list[str]) -> str | None:
    """The command ``argv`` names: its first word that is one."""
    return next((a for a in argv if a in COMMANDS), None)


def _version() -> str:
    from . import __version__
    return __version__


def print_diagnostics(diags, stream=None) -> None:
    stream = stream or sys.stderr
    if diags:
        print(render_all(diags, color=_color(stream)), file=stream)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        parser = build_parser(_command(argv))
        args = parser.parse_args(argv)
        if not args.command:
            parser.print_help()
            return 2
        return int(args._handlers[args.command](args) or 0)
    except CnnError as e:
        print_diagnostics(e.diagnostics)
        n = sum(1 for d in e.diagnostics if d.is_error)
        print(f"{n} error{'s' if n != 1 else ''}", file=sys.stderr)
        return 1
    except UserError as e:  # its text may quote a path or a checkpoint's contents
        print("error: " + "\n".join(map(visible, e.message.split("\n"))), file=sys.stderr)
        if e.help:
            print(f"  help: {visible(e.help)}", file=sys.stderr)
        return e.exit_code
    except ModuleNotFoundError as e:
        extra = OPTIONAL_PACKAGES.get((e.name or "").split(".")[0])
        if extra is None:
            raise
        print(f"error: this command needs {e.name}, which is not installed\n"
              f"  help: {extra}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as e:  # a bug in cnndsl, not the user's mistake
        if os.environ.get("CNNDSL_DEBUG"):
            raise
        print(f"internal error: {type(e).__name__}: {e}\n  this is a bug in cnndsl; "
              "run again with CNNDSL_DEBUG=1 for the traceback and report it", file=sys.stderr)
        return 70


if __name__ == "__main__":
    sys.exit(main())
