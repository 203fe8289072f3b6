"""The pygls wiring of ``cnndsl lsp``: LSP messages in, :mod:`features` out.

Handlers convert positions (the client's encoding, UTF-16 by default, to code points
and back) and types; what they answer is computed in :mod:`analysis`, :mod:`features`
and :mod:`complete`. A handler that fails logs the traceback and answers nothing, so
one bad request never takes the server down.
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from lsprotocol import types as t
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path, uri_scheme

from .. import __version__
from .analysis import Diag, Doc, Location, Pos, Range
from .complete import completion
from .features import definition, formatting, hover, inlay_hints, symbols

log = logging.getLogger("cnndsl.lsp")
F = TypeVar("F", bound=Callable[..., Any])

SEVERITY = {"error": t.DiagnosticSeverity.Error, "warning": t.DiagnosticSeverity.Warning,
            "note": t.DiagnosticSeverity.Information}
COMPLETION_KIND = {
    "operator": t.CompletionItemKind.Function, "builtin": t.CompletionItemKind.Keyword,
    "block": t.CompletionItemKind.Module, "parameter": t.CompletionItemKind.Variable,
    "argument": t.CompletionItemKind.Property, "value": t.CompletionItemKind.EnumMember,
    "keyword": t.CompletionItemKind.Keyword, "file": t.CompletionItemKind.File,
}
SYMBOL_KIND = {"network": t.SymbolKind.Class, "block": t.SymbolKind.Function,
               "preset": t.SymbolKind.Constant}


class CnnServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("cnndsl", __version__)
        self.docs: dict[str, Doc] = {}
        self.roots: list[Path] = []  # workspace folders: imports may read them too

    @property
    def encoding(self) -> str:
        return str(self.workspace.position_encoding or "utf-16")

    def doc(self, uri: str, text: str | None = None) -> Doc:
        """The document at ``uri`` (opened from the workspace's copy if not yet seen),
        recompiled when ``text`` is given."""
        doc = self.docs.get(uri)
        if doc is None:
            source = text if text is not None else self.workspace.get_text_document(uri).source
            path = Path(p) if uri_scheme(uri) == "file" and (p := to_fs_path(uri)) else None
            doc = Doc(uri, path, source, self.roots[0] if self.roots else None,
                      tuple(self.roots))
            self.docs[uri] = doc
        elif text is not None:
            doc.update(text)
        return doc

    def publish(self, doc: Doc) -> None:
        diags = [self.diagnostic(doc, d) for d in doc.current.diagnostics]
        self.text_document_publish_diagnostics(t.PublishDiagnosticsParams(doc.uri, diags))

    # ------------------------------------------------------------ conversions
    def position(self, doc: Doc, p: t.Position) -> Pos:
        line = doc.lines[p.line] if p.line < len(doc.lines) else ""
        col, units = 0, 0
        while col < len(line) and units < p.character:
            units += _units(line[col], self.encoding)
            col += 1
        return Pos(p.line, col)

    def range(self, lines: list[str] | None, r: Range) -> t.Range:
        def pos(p: Pos) -> t.Position:
            if lines is None or p.line >= len(lines):
                return t.Position(p.line, p.col)
            return t.Position(p.line, sum(_units(c, self.encoding) for c in lines[p.line][:p.col]))
        return t.Range(pos(r.start), pos(r.end))

    def location(self, doc: Doc, loc: Location) -> t.Location:
        if loc.path is None or loc.path == doc.path:
            return t.Location(doc.uri, self.range(doc.lines, loc.range))
        return t.Location(from_fs_path(str(loc.path)) or str(loc.path),
                          self.range(None, loc.range))

    def diagnostic(self, doc: Doc, d: Diag) -> t.Diagnostic:
        related = [t.DiagnosticRelatedInformation(self.location(doc, where), message)
                   for where, message in d.related]
        return t.Diagnostic(self.range(doc.lines, d.range), d.message, SEVERITY[d.severity],
                            d.code, source="cnndsl", related_information=related or None)


def _units(ch: str, encoding: str) -> int:
    if encoding == t.PositionEncodingKind.Utf8:
        return len(ch.encode("utf-8", "surrogatepass"))
    if encoding == t.PositionEncodingKind.Utf32:
        return 1
    return 2 if ord(ch) > 0xFFFF else 1


def _guard(default: Any = None) -> Callable[[F], F]:
    """Answer ``default`` (and log the traceback) when a handler fails."""
    def wrap(handler: F) -> F:
        @functools.wraps(handler)
        def run(ls: CnnServer, params: Any) -> Any:
            try:
                return handler(ls, params)
            except Exception:
                log.exception("%s failed", handler.__name__)
                return default
        return run  # type: ignore[return-value]
    return wrap


def build() -> CnnServer:
    """The server with every feature registered."""
    server = CnnServer()

    @server.feature(t.INITIALIZE)
    @_guard()
    def initialize(ls: CnnServer, params: t.InitializeParams) -> None:
        uris = [f.uri for f in params.workspace_folders or ()] or [params.root_uri or ""]
        ls.roots = [Path(p) for u in uris if u and (p := to_fs_path(u))]

    @server.feature(t.TEXT_DOCUMENT_DID_OPEN)
    @_guard()
    def did_open(ls: CnnServer, params: t.DidOpenTextDocumentParams) -> None:
        ls.docs.pop(params.text_document.uri, None)
        ls.publish(ls.doc(params.text_document.uri, params.text_document.text))

    @server.feature(t.TEXT_DOCUMENT_DID_CHANGE)
    @_guard()
    def did_change(ls: CnnServer, params: t.DidChangeTextDocumentParams) -> None:
        uri = params.text_document.uri
        ls.publish(ls.doc(uri, ls.workspace.get_text_document(uri).source))

    @server.feature(t.TEXT_DOCUMENT_DID_CLOSE)
    @_guard()
    def did_close(ls: CnnServer, params: t.DidCloseTextDocumentParams) -> None:
        ls.docs.pop(params.text_document.uri, None)
        ls.text_document_publish_diagnostics(
            t.PublishDiagnosticsParams(params.text_document.uri, []))

    @server.feature(t.TEXT_DOCUMENT_HOVER)
    @_guard()
    def on_hover(ls: CnnServer, params: t.HoverParams) -> t.Hover | None:
        doc = ls.doc(params.text_document.uri)
        h = hover(doc, ls.position(doc, params.position))
        if h is None:
            return None
        return t.Hover(t.MarkupContent(t.MarkupKind.Markdown, h.text),
                       ls.range(doc.lines, h.range) if h.range else None)

    @server.feature(t.TEXT_DOCUMENT_DEFINITION)
    @_guard([])
    def on_definition(ls: CnnServer, params: t.DefinitionParams) -> list[t.Location]:
        doc = ls.doc(params.text_document.uri)
        return [ls.location(doc, loc) for loc in definition(doc, ls.position(doc, params.position))]

    @server.feature(t.TEXT_DOCUMENT_COMPLETION,
                    t.CompletionOptions(trigger_characters=["(", ",", '"', "/", "="]))
    @_guard(None)
    def on_completion(ls: CnnServer, params: t.CompletionParams) -> t.CompletionList:
        doc = ls.doc(params.text_document.uri)
        items = []
        for i in completion(doc, ls.position(doc, params.position)):
            edit = t.TextEdit(ls.range(doc.lines, i.edit), i.insert or i.label) if i.edit else None
            items.append(t.CompletionItem(
                i.label, kind=COMPLETION_KIND[i.kind], detail=i.detail or None,
                documentation=i.doc or None, insert_text=None if edit else i.insert,
                text_edit=edit, sort_text=f"{i.sort}{i.label.lower()}"))
        return t.CompletionList(is_incomplete=False, items=items)

    @server.feature(t.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    @_guard([])
    def on_symbols(ls: CnnServer, params: t.DocumentSymbolParams) -> list[t.DocumentSymbol]:
        doc = ls.doc(params.text_document.uri)
        return [t.DocumentSymbol(s.name, SYMBOL_KIND[s.kind], ls.range(doc.lines, s.range),
                                 ls.range(doc.lines, s.selection), detail=s.detail or None)
                for s in symbols(doc)]

    @server.feature(t.TEXT_DOCUMENT_FORMATTING)
    @_guard([])
    def on_formatting(ls: CnnServer, params: t.DocumentFormattingParams) -> list[t.TextEdit]:
        doc = ls.doc(params.text_document.uri)
        return [t.TextEdit(ls.range(doc.lines, e.range), e.text) for e in formatting(doc)]

    @server.feature(t.TEXT_DOCUMENT_INLAY_HINT)
    @_guard([])
    def on_inlay_hints(ls: CnnServer, params: t.InlayHintParams) -> list[t.InlayHint]:
        doc = ls.doc(params.text_document.uri)
        r = params.range
        rng = Range(ls.position(doc, r.start), ls.position(doc, r.end))
        return [t.InlayHint(ls.range(doc.lines, Range(h.pos, h.pos)).start, h.label,
                            kind=t.InlayHintKind.Type, padding_left=True)
                for h in inlay_hints(doc, rng)]

    return server


def serve() -> None:
    """Run the server over stdin and stdout until the client says exit."""
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING,
                        format="cnndsl lsp: %(levelname)s: %(message)s")
    build().start_io()
