"""The language server: its features as functions, and the real server over JSON-RPC.

The JSON-RPC tests start ``python -m cnndsl lsp`` once and talk to it as an editor does
(Content-Length framed messages on stdin/stdout); every wait has a deadline, so a hung
server fails the test instead of blocking it.
"""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from cnndsl.lsp import analysis, complete, features
from cnndsl.lsp.analysis import Doc, Pos

BAD = "input 3x8x8\nconv(4, 9, pad=0)\n"
GOOD = "input 3x8x8\nconv(4, 3)\n"
NET = """\
import "lib.cnn"
block basic(c, stride=1) = residual(conv(c, 3, stride) - bn - relu - conv(c, 3) - bn) - relu

network small(classes=10):
    input 3x32x32
    conv(64, 3) - bn - relu
    basic(64) - basic(128, 2)
    twice(128)
    gap - fc(classes)

preset big(classes=100)
"""
LIB = "block twice(c) = conv(c, 3) - relu - conv(c, 3) - relu\n"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "lib.cnn").write_text(LIB)
    (tmp_path / "net.cnn").write_text(NET)
    return tmp_path


def open_doc(folder: Path, text: str = NET) -> Doc:
    path = folder / "net.cnn"
    return Doc(path.as_uri(), path, text)


# ---------------------------------------------------------------- the features as functions
def test_diagnostics_have_the_cli_codes_ranges_and_help():
    doc = Doc("untitled:a", None, BAD)
    (d,) = doc.current.diagnostics
    assert (d.code, d.severity, d.range) == ("E0301", "error", analysis.Range(Pos(1, 0),
                                                                            Pos(1, 17)))
    assert "help: use a smaller kernel" in d.message and "input is 3x8x8" in d.message
    doc.update(GOOD)
    assert doc.current.diagnostics == [] and doc.best is doc.current


def test_parse_errors_and_notes():
    (d,) = Doc("untitled:a", None, "conv(3").current.diagnostics
    assert (d.code, d.range.start) == ("E0003", Pos(0, 4))
    notes = Doc("untitled:a", None, "conv(4)\n").current.diagnostics
    assert [(n.code, n.severity) for n in notes] == [("N0001", "note")]
    assert Doc("untitled:a", None, LIB).current.diagnostics == []  # a library: no E0010


def test_an_error_in_an_imported_file_is_shown_on_the_import(tmp_path):
    (tmp_path / "lib.cnn").write_text("block twice(c) = conv(c, 3) - relu - maxpol\n")
    text = 'import "lib.cnn"\ninput 3x8x8\ntwice(4)\n'
    doc = Doc((tmp_path / "a.cnn").as_uri(), tmp_path / "a.cnn", text)
    (d,) = doc.current.diagnostics
    assert d.code == "E0101" and d.range.start == Pos(0, 7) and "lib.cnn:1:38" in d.message
    (where, _), = d.related
    assert where.path == tmp_path / "lib.cnn" and where.range.start == Pos(0, 37)


@pytest.mark.parametrize("text", ["", "\x00", "(" * 500, "conv(", "block", "network:",
                                  "import \"", "import \"/etc/passwd\"", "ｃｏｎｖ(8)",
                                  "conv(1e309)", "block b = b\nb", "input 3x1x1\n" + "pool-" * 9,
                                  "input 0x0x0", "\r\n\r\nconv\r\n", "x = \"a\nconv(x)"])
def test_no_text_raises(text):
    doc = Doc("untitled:a", None, text)
    lines = doc.lines
    for line in range(len(lines) + 1):
        for col in range(0, len(lines[line]) + 2 if line < len(lines) else 1):
            pos = Pos(line, col)
            features.hover(doc, pos)
            features.definition(doc, pos)
            complete.completion(doc, pos)
    features.symbols(doc)
    features.inlay_hints(doc)
    features.formatting(doc)


def test_an_internal_error_is_one_diagnostic(monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("kaput")
    monkeypatch.setattr(analysis.api, "_compile_text", boom)
    (d,) = Doc("untitled:a", None, GOOD).current.diagnostics
    assert d.range == analysis.Range.at(0, 0) and d.message.startswith("internal error")


def test_hover_shows_shapes_and_costs(folder):
    doc = open_doc(folder)
    h = features.hover(doc, Pos(5, 6))  # conv(64, 3)
    assert "| conv1 | 64x32x32 | 1,792 | 1,769,472 | 3 |" in h.text
    h = features.hover(doc, Pos(6, 6))  # basic(64): the call, summed
    assert "block basic(c, stride=1)" in h.text and "| basic1 | 64x32x32 | 74,112 |" in h.text
    h = features.hover(doc, Pos(1, 45))  # a layer of the block body: one row per call
    assert "basic1_conv1 | 64x32x32" in h.text and "basic2_conv1 | 128x16x16" in h.text
    h = features.hover(doc, Pos(7, 5))  # a block of the imported file
    assert "block twice(c)" in h.text and "| twice1 | 128x16x16 |" in h.text


def test_hover_uses_the_last_good_compile_for_unchanged_lines(folder):
    doc = open_doc(folder)
    doc.update(NET.replace("gap - fc(classes)", "gap - fc(classes"))
    assert doc.current.net is None and doc.best is doc.good
    assert "64x32x32" in features.hover(doc, Pos(5, 6)).text
    doc.update(NET.replace("conv(64, 3) - bn", "conv(32, 3) - bn").replace("fc(classes)", "fc("))
    h = features.hover(doc, Pos(5, 6))  # the line changed: only the operator is described
    assert h is not None and "64x32x32" not in h.text and "conv(" in h.text


def test_definition_of_blocks_and_imports(folder):
    doc = open_doc(folder)
    (loc,) = features.definition(doc, Pos(6, 6))
    assert loc.path == folder / "net.cnn" and loc.range == analysis.Range.at(1, 6, 11)
    (loc,) = features.definition(doc, Pos(7, 6))
    assert loc.path == folder / "lib.cnn" and loc.range.start == Pos(0, 6)
    (loc,) = features.definition(doc, Pos(0, 10))
    assert loc.path == folder / "lib.cnn"
    doc = Doc("untitled:a", None, "conv(8) - se\n")
    (loc,) = features.definition(doc, Pos(0, 11))
    assert loc.path.name == "prelude.cnn"


def test_completion_in_calls_strings_and_blocks(folder):
    def labels(text: str, line: int, col: int) -> dict[str, str]:
        return {i.label: i.kind for i in complete.completion(open_doc(folder, text),
                                                              Pos(line, col))}
    got = labels('import "lib.cnn"\nconv(8, stride=2, ', 1, 18)  # never compiled
    assert got["pad"] == "argument" and "stride" not in got and got["relu"] == "operator"
    assert got["classes"] == "parameter" and got["twice"] == "block"
    assert {"auto", "same", "valid"} <= set(labels("conv(8, pad=", 0, 12))
    got = labels('import "', 0, 8)
    assert {"lib/resnet.cnn", "lib.cnn"} <= set(got)
    got = labels("block basic(c, stride=1) = conv(c)\nblock b(c, k=3):\n    conv(c, k) - basic(",
                 2, 23)
    assert {"in_c", "k"} <= set(got) and got.get("stride") == "argument"
    assert labels("conv(8)  # con", 0, 14) == {}


def test_symbols_inlay_hints_and_formatting(folder):
    doc = open_doc(folder)
    got = [(s.kind, s.name, s.range.start.line, s.range.end.line) for s in features.symbols(doc)]
    assert got == [("network", "small", 3, 8), ("block", "basic", 1, 1), ("preset", "big", 10, 10)]
    hints = {h.pos.line: h.label for h in features.inlay_hints(doc)}
    assert hints == {1: "→ 64x32x32, 128x16x16", 5: "→ 64x32x32", 6: "→ 128x16x16",
                     7: "→ 128x16x16", 8: "→ 10"}
    fmt = pytest.importorskip("cnndsl.fmt")
    messy = Doc("untitled:a", None, "input 3x8x8\nconv(4,3)-relu\n")
    (edit,) = features.formatting(messy)
    assert edit.text == fmt.format_source(messy.text) and edit.range.end == Pos(2, 0)
    assert features.formatting(Doc("untitled:a", None, edit.text)) == []
    assert features.formatting(Doc("untitled:a", None, "conv(")) == []


def test_positions_are_converted_to_the_clients_units(monkeypatch):
    pytest.importorskip("pygls")
    from lsprotocol import types as t

    from cnndsl.lsp.server import CnnServer
    doc = Doc("untitled:a", None, 'x = "\U0001f600é"\nconv(4)')
    server = CnnServer()
    for encoding, units in (("utf-16", 8), ("utf-8", 11), ("utf-32", 7)):
        monkeypatch.setattr(CnnServer, "encoding", encoding)
        rng = server.range(doc.lines, analysis.Range.at(0, 7))
        assert rng.start.character == units
        assert server.position(doc, t.Position(0, units)) == Pos(0, 7)


def test_import_cnndsl_does_not_import_pygls():
    code = ("import sys, cnndsl, cnndsl.cli, cnndsl.commands.lsp, cnndsl.lsp.features, "
            "cnndsl.lsp.complete; assert 'pygls' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_without_pygls_the_command_says_what_to_install(monkeypatch, capsys):
    from cnndsl.cli import main
    monkeypatch.setitem(sys.modules, "pygls.lsp.server", None)
    assert main(["lsp"]) == 2
    assert 'pip install "cnndsl[lsp]"' in capsys.readouterr().err


# ---------------------------------------------------------------- the server over JSON-RPC
class Client:
    """A minimal LSP client: framed JSON-RPC over the server's pipes."""

    def __init__(self, cwd: Path, log: Path):
        pytest.importorskip("pygls")
        self.log = open(log, "wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "cnndsl", "lsp"], cwd=cwd,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.log)
        self.inbox: queue.Queue = queue.Queue()
        self.notes: list[dict] = []
        self.next_id = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        out = self.proc.stdout
        while True:
            length = None
            while (line := out.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            if not line or length is None:
                return
            self.inbox.put(json.loads(out.read(length)))

    def send(self, message: dict) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def _next(self, deadline: float) -> dict:
        try:
            msg = self.inbox.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise AssertionError("the server did not answer in time") from None
        if "method" in msg and "id" in msg:  # a request from the server: accept it
            self.send({"id": msg["id"], "result": None})
        return msg

    def request(self, method: str, params: dict, timeout: float = 15) -> object:
        self.next_id += 1
        self.send({"id": self.next_id, "method": method, "params": params})
        deadline = time.monotonic() + timeout
        while True:
            msg = self._next(deadline)
            if msg.get("id") == self.next_id and "method" not in msg:
                assert "error" not in msg, msg
                return msg.get("result")
            if "method" in msg and "id" not in msg:
                self.notes.append(msg)

    def notify(self, method: str, params: dict) -> None:
        self.send({"method": method, "params": params})

    def diagnostics(self, uri: str, timeout: float = 15) -> list[dict]:
        """The next diagnostics published for ``uri``."""
        deadline = time.monotonic() + timeout
        while True:
            for i, note in enumerate(self.notes):
                if (note["method"] == "textDocument/publishDiagnostics"
                        and note["params"]["uri"] == uri):
                    return self.notes.pop(i)["params"]["diagnostics"]
            msg = self._next(deadline)
            if "method" in msg and "id" not in msg:
                self.notes.append(msg)

    def close(self) -> None:
        try:
            if self.proc.poll() is None:
                self.request("shutdown", None, timeout=5)
                self.notify("exit", None)
                self.proc.wait(timeout=5)
        except (AssertionError, OSError, subprocess.TimeoutExpired):
            pass
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(timeout=5)
            self.log.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    pytest.importorskip("pygls")
    folder = tmp_path_factory.mktemp("lsp")
    (folder / "lib.cnn").write_text(LIB)
    client = Client(folder, folder / "server.log")
    try:
        result = client.request("initialize", {"processId": None, "rootUri": folder.as_uri(),
                                               "capabilities": {}}, timeout=30)
        caps = result["capabilities"]
        assert caps["hoverProvider"] and caps["definitionProvider"]
        assert caps["documentFormattingProvider"] and caps["inlayHintProvider"]
        client.notify("initialized", {})
        yield client, folder
        client.close()
        assert client.proc.returncode == 0, (folder / "server.log").read_text()
    finally:
        if client.proc.poll() is None:
            client.proc.kill()


def _open(client: Client, uri: str, text: str) -> list[dict]:
    client.notify("textDocument/didOpen", {"textDocument": {
        "uri": uri, "languageId": "cnn", "version": 1, "text": text}})
    return client.diagnostics(uri)


def _at(uri: str, line: int, character: int) -> dict:
    return {"textDocument": {"uri": uri}, "position": {"line": line, "character": character}}


def test_server_publishes_and_clears_diagnostics(server):
    client, folder = server
    uri = (folder / "bad.cnn").as_uri()
    (d,) = _open(client, uri, BAD)
    assert d["code"] == "E0301" and d["severity"] == 1 and d["source"] == "cnndsl"
    assert d["range"] == {"start": {"line": 1, "character": 0},
                          "end": {"line": 1, "character": 17}}
    client.notify("textDocument/didChange", {
        "textDocument": {"uri": uri, "version": 2},
        "contentChanges": [{"range": {"start": {"line": 1, "character": 8},
                                      "end": {"line": 1, "character": 16}}, "text": "3"}]})
    assert client.diagnostics(uri) == []
    (d,) = _open(client, (folder / "syntax.cnn").as_uri(), "input 3x8x8\nconv(3")
    assert d["code"] == "E0003" and d["range"]["start"] == {"line": 1, "character": 4}


def test_server_answers_the_requests(server):
    client, folder = server
    uri = (folder / "net.cnn").as_uri()
    assert _open(client, uri, NET) == []
    hover = client.request("textDocument/hover", _at(uri, 5, 6))
    assert "64x32x32" in hover["contents"]["value"] and "1,792" in hover["contents"]["value"]
    (loc,) = client.request("textDocument/definition", _at(uri, 6, 6))
    assert loc["uri"] == uri and loc["range"]["start"] == {"line": 1, "character": 6}
    (loc,) = client.request("textDocument/definition", _at(uri, 7, 6))
    assert loc["uri"] == (folder / "lib.cnn").as_uri()
    symbols = client.request("textDocument/documentSymbol", {"textDocument": {"uri": uri}})
    assert [s["name"] for s in symbols] == ["small", "basic", "big"]
    hints = client.request("textDocument/inlayHint", {
        "textDocument": {"uri": uri}, "range": {"start": {"line": 0, "character": 0},
                                                "end": {"line": 11, "character": 0}}})
    assert [(h["position"]["line"], h["label"]) for h in hints] == [
        (1, "→ 64x32x32, 128x16x16"), (5, "→ 64x32x32"), (6, "→ 128x16x16"), (7, "→ 128x16x16"), (8, "→ 10")]
    uri2 = (folder / "typing.cnn").as_uri()
    _open(client, uri2, "input 3x8x8\nconv(8, ")
    items = client.request("textDocument/completion", _at(uri2, 1, 8))["items"]
    assert {"stride", "pad", "relu"} <= {i["label"] for i in items}


def test_server_formats(server):
    pytest.importorskip("cnndsl.fmt")
    client, folder = server
    uri = (folder / "messy.cnn").as_uri()
    _open(client, uri, "input 3x8x8\nconv(4,3)-relu\n")
    (edit,) = client.request("textDocument/formatting", {
        "textDocument": {"uri": uri}, "options": {"tabSize": 4, "insertSpaces": True}})
    assert edit["newText"] == "input 3x8x8\nconv(4, 3) - relu\n"
    assert edit["range"]["end"] == {"line": 2, "character": 0}
