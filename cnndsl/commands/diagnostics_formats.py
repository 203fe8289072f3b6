"""Diagnostics for machines: JSON (one object per check) and SARIF 2.1.0 (code hosts)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

from ..diagnostics import CnnError, Diagnostic

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {"error": "error", "warning": "warning", "note": "note"}


def to_json(name: str, diags: Sequence[Diagnostic], verdict: dict | None) -> str:
    """``{"file", "ok", "diagnostics": [...], "network": {...} or null}``."""
    return json.dumps({"file": name, "ok": not any(d.is_error for d in diags),
                       "diagnostics": [d.to_json() for d in diags], "network": verdict},
                      indent=2)


def to_sarif(name: str, diags: Sequence[Diagnostic], version: str) -> str:
    """One SARIF run: a rule per code, a result per diagnostic, its region 1-based."""
    rules = sorted({d.code for d in diags})
    results = []
    for d in diags:
        text = d.message + (f"\nhelp: {d.help}" if d.help else "") + "".join(
            f"\nnote: {n}" for n in d.notes)
        result = {"ruleId": d.code, "ruleIndex": rules.index(d.code),
                  "level": _LEVEL.get(d.severity, "error"), "message": {"text": text}}
        s = d.span
        uri = s.source.name if s is not None else name
        location = {"artifactLocation": {"uri": uri}}
        if s is not None:
            location["region"] = {"startLine": s.line, "startColumn": s.col,
                                  "endLine": s.end_line, "endColumn": s.end_col}
        result["locations"] = [{"physicalLocation": location}]
        results.append(result)
    run = {"tool": {"driver": {
        "name": "cnndsl", "version": version,
        "rules": [{"id": code} for code in rules]}},
        "results": results}
    return json.dumps({"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}, indent=2)


def print_machine(fmt: str, file: str, check: Callable[[], tuple[str, list, dict]]) -> bool:
    """Print ``check()``'s diagnostics as ``fmt`` (json or sarif); ``check`` returns
    (source name, diagnostics, verdict) or raises CnnError. Whether it compiled."""
    from ..cli import _version
    try:
        name, diags, verdict = check()
    except CnnError as e:
        diags, verdict = list(e.diagnostics), None
        name = next((d.span.source.name for d in diags if d.span), file)
    print(to_json(name, diags, verdict) if fmt == "json" else to_sarif(name, diags,
                                                                      _version()))
    return verdict is not None
