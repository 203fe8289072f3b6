"""A family's rows as text: an aligned table, JSON, CSV or Markdown.

The columns are the free dimensions (one per parameter or optional part), the figures,
any extra columns (a search's accuracy and time), and what else: the other bindings of
the same graph, or why a member is invalid (its error codes).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

from ..report import si
from .table import Counts, Row, _value_text, bindings_text

FORMATS = ("table", "json", "csv", "markdown")


def render(rows: Sequence[Row], dims: Sequence[str], counts: Counts, fmt: str,
           extra: Sequence[str] = (), name: str = "") -> str:
    """``rows`` in the format ``fmt`` (one of :data:`FORMATS`)."""
    if fmt == "json":
        return json.dumps({"family": name, "dimensions": list(dims),
                           "counts": counts.to_dict(),
                           "members": [row_dict(r, extra) for r in rows]}, indent=2)
    if fmt == "csv":
        return _csv(rows, dims, extra)
    head = [*dims, "params", "MACs", "activations", "peak", "RF", "output", *extra, "also"]
    body = [_cells(r, dims, extra) for r in rows]
    if fmt == "markdown":
        lines = ["| " + " | ".join(head) + " |",
                 "|" + "|".join("--:" if h not in ("output", "also") else "---"
                                for h in head) + "|"]
        lines += ["| " + " | ".join(" ".join(c.replace("|", "\\|").split()) for c in cells) + " |"
                  for cells in body]
        return "\n".join(lines) + f"\n\n{counts.text()}"
    widths = [max([len(h)] + [len(c[i]) for c in body]) for i, h in enumerate(head)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths)).rstrip()]
    lines += ["  ".join(c.ljust(w) if i >= len(dims) + 5 else c.rjust(w)
                        for i, (c, w) in enumerate(zip(cells, widths))).rstrip()
              for cells in body]
    return "\n".join(lines + [counts.text()])


def row_dict(r: Row, extra: Sequence[str] = ()) -> dict[str, Any]:
    out: dict[str, Any] = {"index": r.index, "bindings": r.bindings, "valid": r.valid}
    if r.valid:
        out.update(params=r.params, macs=r.macs, activations=r.activations,
                   peak_bytes=r.memory, receptive_field=r.rf, output=r.output)
    else:
        out.update(codes=r.codes, message=r.message)
    out.update({k: r.extra.get(k) for k in extra})
    out["duplicates"] = r.duplicates
    return out


def _cells(r: Row, dims: Sequence[str], extra: Sequence[str]) -> list[str]:
    values = [_value_text(d, r.bindings[d]) if d in r.bindings else "" for d in dims]
    if not r.valid:
        figures = ["", "", "", "", "", ""]
        also = "invalid: " + ", ".join(r.codes)
    else:
        figures = [f"{r.params:,}", si(r.macs), si(r.activations), si(r.memory, "B"),
                   "" if r.rf is None else str(r.rf), r.output]
        also = "; ".join(bindings_text(d) for d in r.duplicates)
    return [*values, *figures, *(_extra_text(r.extra.get(k)) for k in extra), also]


def _extra_text(v: Any) -> str:
    if v is None:
        return ""
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _csv(rows: Sequence[Row], dims: Sequence[str], extra: Sequence[str]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([*dims, "valid", "params", "macs", "activations", "peak_bytes",
                "receptive_field", "output", *extra, "codes", "duplicates"])
    for r in rows:
        values = [_value_text(d, r.bindings[d]) if d in r.bindings else "" for d in dims]
        figures = [r.params, r.macs, r.activations, r.memory, r.rf, r.output]
        w.writerow([*values, int(r.valid), *("" if v is None else v for v in figures),
                    *("" if r.extra.get(k) is None else r.extra[k] for k in extra),
                    " ".join(r.codes),  # the extra numbers whole: a program reads them
                    "; ".join(bindings_text(d) for d in r.duplicates)])
    return buf.getvalue().rstrip("\n")
