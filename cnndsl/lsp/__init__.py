"""The language server behind ``cnndsl lsp``.

``analysis`` compiles an open document and keeps its last good compile; ``features``
(hover, definition, symbols, inlay hints, formatting) and ``complete`` (completion) are
plain functions of a :class:`~cnndsl.lsp.analysis.Doc` and a position, testable without
an editor. Only ``server`` imports pygls, and only ``cnndsl lsp`` imports ``server``.
Positions here are 0-based lines and code-point columns; the server converts them to
the client's encoding.
"""
