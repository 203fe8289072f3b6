// The cnndsl extension: the grammar does the highlighting; this starts the language
// server (`cnndsl lsp`, from `pip install "cnndsl[lsp]"`) over stdio for .cnn files.
"use strict";

const vscode = require("vscode");
const { LanguageClient, TransportKind } = require("vscode-languageclient/node");

let client;

function activate() {
  const config = vscode.workspace.getConfiguration("cnndsl");
  const server = {
    command: config.get("server.command", "cnndsl"),
    args: config.get("server.args", ["lsp"]),
    transport: TransportKind.stdio,
  };
  client = new LanguageClient(
    "cnndsl",
    "cnndsl language server",
    { run: server, debug: server },
    { documentSelector: [{ scheme: "file", language: "cnn" }, { scheme: "untitled", language: "cnn" }] },
  );
  client.start().catch((error) => {
    vscode.window.showErrorMessage(
      `cnndsl: could not start \`${server.command} ${server.args.join(" ")}\` (${error.message}). ` +
        'Install it with `pip install "cnndsl[lsp]"`, or set `cnndsl.server.command`.',
    );
  });
}

function deactivate() {
  if (!client) {
    return undefined;
  }
  const stopping = client.stop().catch(() => undefined);
  client = undefined;
  return stopping;
}

module.exports = { activate, deactivate };
