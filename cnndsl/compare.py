"""Networks side by side: ``cnndsl summary a.cnn b.cnn`` (totals, and ratios to the first).

>>> from cnndsl import compile
>>> a, b = (compile(f"input 3x32x32\\nconv({c}, 3) - gap - fc(10)").summary() for c in (8, 16))
>>> a.params, b.params, round(compare_dict([a, b])["ratios"][1]["params"], 3)
(314, 618, 1.968)
"""

from __future__ import annotations

import csv
import io
import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .report import Summary

COMPARED = (
    ("params", "params", lambda s: s.params),
    ("buffers", "buffers", lambda s: s.buffers),
    ("MACs", "macs", lambda s: s.macs),
    ("FLOPs", "flops", lambda s: s.flops),
    ("MACs (fvcore)", "macs_fvcore", lambda s: s.macs_fvcore),
    ("activations", "activations", lambda s: s.activations),
    ("activation bytes", "activation_bytes", lambda s: s.memory.bytes),
    ("peak bytes", "peak_activation_bytes", lambda s: s.memory.peak_bytes),
    ("training bytes", "training_bytes", lambda s: s.training.total),
    ("IR nodes", "nodes", lambda s: sum(r.nodes for r in s.layers)),
)


def ratio(a: float, b: float) -> float | None:
    """``b / a``, None where ``a`` is zero."""
    return b / a if a else None


def compare_dict(sums: list[Summary]) -> dict:
    """Totals side by side; ratios of each network to the first."""
    base = sums[0]
    return {
        "baseline": base.network,
        "networks": [{"network": s.network, "source": s.source, "input": list(s.input),
                      "output": list(s.output), "totals": s.totals} for s in sums],
        "ratios": [{key: ratio(get(base), get(s)) for _, key, get in COMPARED}
                   for s in sums],
    }


def _ratio_text(r: float | None) -> str:
    return "-" if r is None else f"{r:.3g}x"


def _compare_rows(sums: list[Summary]) -> tuple[list[str], list[list[str]]]:
    heads = ["", *(f"{s.network} ({s.source})" if s.source else s.network for s in sums)]
    heads += [f"{s.network} / {sums[0].network}" for s in sums[1:]]
    rows = []
    for title, _, get in COMPARED:
        vals = [get(s) for s in sums]
        rows.append([title, *(f"{v:,}" for v in vals),
                     *(_ratio_text(ratio(vals[0], v)) for v in vals[1:])])
    return heads, rows


def format_compare(sums: list[Summary], fmt: str = "table") -> str:
    """``cnndsl summary A.cnn B.cnn``: one table of totals with ratios to the first."""
    if fmt == "json":
        return json.dumps(compare_dict(sums), indent=2)
    heads, rows = _compare_rows(sums)
    if fmt == "csv":
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows([heads, *rows])
        return buf.getvalue().rstrip("\n")
    if fmt == "markdown":
        out = ["| " + " | ".join(heads) + " |", "|---" + "|--:" * (len(heads) - 1) + "|"]
        return "\n".join(out + ["| " + " | ".join(r) + " |" for r in rows])
    widths = [max(len(r[i]) for r in [heads, *rows]) for i in range(len(heads))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                       for i, (c, w) in enumerate(zip(r, widths))).rstrip()
             for r in [heads, *rows]]
    return "\n".join([lines[0], "  ".join("-" * w for w in widths), *lines[1:]])
