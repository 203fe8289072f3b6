"""Per-layer summaries of a network, as Python objects and as text, JSON, Markdown, CSV."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class LayerRow:
    name: str
    op: str
    label: str
    output: tuple[int, ...]
    params: int
    macs: int
    activations: int
    span: dict | None


@dataclass(frozen=True)
class Summary:
    network: str
    input: tuple[int, ...]
    output: tuple[int, ...]
    layers: list[LayerRow]
    params: int
    params_trainable: int
    buffers: int
    macs: int
    activations: int

    def totals(self) -> dict:
        return {
            "params": self.params,
            "params_trainable": self.params_trainable,
            "buffers": self.buffers,
            "macs": self.macs,
            "flops": 2 * self.macs,
            "activations": self.activations,
            "activation_bytes": 4 * self.activations,
        }

    def to_dict(self) -> dict:
        return {
            "network": self.network,
            "input": list(self.input),
            "output": list(self.output),
            "totals": self.totals(),
            "layers": [dict(asdict(r), output=list(r.output)) for r in self.layers],
        }


def summarize(net, **options) -> Summary:
    from . import ops
    c = net.cost
    rows = []
    for node in net.graph.nodes:
        nc = c.nodes[node.name]
        op = ops.get(node.op)
        rows.append(LayerRow(node.name, node.op, op.describe(node.a, node.type),
                             node.type.dims, nc.params.total,
                             nc.macs if nc.macs_kind in ("conv", "linear") else 0,
                             nc.activations, node.span.to_json() if node.span else None))
    return Summary(net.name, net.input_shape, net.output_shape, rows, c.params.total,
                   c.params.total, c.params.buffers, c.macs,
                   sum(r.activations for r in rows))


def _shape(dims) -> str:
    return "x".join(map(str, dims))


def format_table(s: Summary) -> str:
    heads = ("layer", "op", "output", "params", "MACs", "activations")
    rows = [(r.name, r.label, _shape(r.output), f"{r.params:,}", f"{r.macs:,}",
             f"{r.activations:,}") for r in s.layers]
    t = s.totals()
    rows.append(("total", "", _shape(s.output), f"{t['params']:,}", f"{t['macs']:,}",
                 f"{t['activations']:,}"))
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(heads)]
    right = {3, 4, 5}

    def line(cells) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    rule = "  ".join("-" * w for w in widths)
    out = [f"{s.network}: {_shape(s.input)} -> {_shape(s.output)}", line(heads), rule]
    out += [line(r) for r in rows[:-1]] + [rule, line(rows[-1])]
    return "\n".join(out)


def format_markdown(s: Summary) -> str:
    out = ["| layer | op | output | params | MACs | activations |", "|---|---|---|--:|--:|--:|"]
    for r in s.layers:
        out.append(f"| {r.name} | {r.label} | {_shape(r.output)} | {r.params:,} | {r.macs:,} | "
                   f"{r.activations:,} |")
    t = s.totals()
    out.append(f"| **total** | | {_shape(s.output)} | {t['params']:,} | {t['macs']:,} | "
               f"{t['activations']:,} |")
    return "\n".join(out)


def format_csv(s: Summary) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["layer", "op", "output", "params", "macs", "activations"])
    for r in s.layers:
        w.writerow([r.name, r.op, _shape(r.output), r.params, r.macs, r.activations])
    return buf.getvalue().rstrip("\n")


def format_json(s: Summary) -> str:
    return json.dumps(s.to_dict(), indent=2)


FORMATS = {"table": format_table, "json": format_json, "markdown": format_markdown,
           "csv": format_csv}
