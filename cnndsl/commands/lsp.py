"""cnndsl lsp: the language server (diagnostics, hover, completion, ...) over stdio."""

from __future__ import annotations

from ..diagnostics import UserError


def add_parser(sub) -> None:
    p = sub.add_parser("lsp", description="Run the language server for editors, speaking the "
                       "Language Server Protocol over stdin and stdout: diagnostics, hover "
                       "with shapes and costs, go to definition, completion, outline, "
                       "formatting and shape hints (docs/editors.md).")
    p.add_argument("--stdio", action="store_true",
                   help="use stdin and stdout (the default; accepted because editors pass it)")


def run(args) -> int:
    try:
        import pygls.lsp.server  # noqa: F401  (pygls 2's API)
    except ImportError:
        raise UserError("the language server needs pygls 2, which is not installed",
                        help='pip install "cnndsl[lsp]"', exit_code=2) from None
    from ..lsp.server import serve
    serve()
    return 0
