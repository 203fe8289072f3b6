"""The per-epoch record of a run: what ``train`` returns and what the files hold."""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cnndsl.outputs import write_output

COLUMNS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "val_top5", "lr",
           "images_per_s", "epoch_time", "time")


@dataclass
class History:
    """Metrics per epoch (a list of dicts with :data:`COLUMNS`), and the run's outcome.

    ``history["val_acc"]`` is the list of one metric; ``history.model`` the trained
    module (on its device); ``history.out`` the run directory (None: nothing written).
    """

    records: list[dict[str, Any]] = field(default_factory=list)
    network: str = ""
    optimizer: str = ""
    out: Path | None = None
    stopped: str = "completed"  # completed | interrupted | diverged
    model: Any = None
    notes: list[str] = field(default_factory=list)

    def __getitem__(self, metric: str) -> list[Any]:
        if metric not in COLUMNS:
            raise KeyError(f"{metric!r}: metrics are {', '.join(COLUMNS)}")
        return [r.get(metric) for r in self.records]

    def __len__(self) -> int:
        return len(self.records)

    @property
    def last(self) -> dict[str, Any]:
        return self.records[-1] if self.records else {}

    @property
    def best(self) -> dict[str, Any]:
        """The epoch with the highest validation accuracy (or lowest training loss)."""
        if not self.records:
            return {}
        if any(r.get("val_acc") is not None for r in self.records):
            return max(self.records, key=lambda r: r.get("val_acc") or -1.0)
        return min(self.records, key=lambda r: r["train_loss"])

    @property
    def best_val_acc(self) -> float | None:
        """The best validation accuracy of the run (None without validation)."""
        return self.best.get("val_acc") if self.records else None

    def plot(self) -> Any:
        """A matplotlib Figure of the loss and accuracy curves."""
        from .plots import curves_figure

        return curves_figure(self)

    def __repr__(self) -> str:
        b = self.best
        acc = b.get("val_acc")
        best = f", best val_acc {acc:.4f} at epoch {b['epoch']}" if acc is not None else ""
        return f"History({self.network!r}, {len(self)} epochs, {self.stopped}{best})"


def clean(value: Any) -> Any:
    """JSON has no NaN: non-finite floats become None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_metrics(records: list[dict[str, Any]], out: Path) -> None:
    """``metrics.jsonl`` (one object per epoch) and ``metrics.csv``, rewritten whole
    (atomically) in the run folder, which ``train`` has checked (cnndsl.outputs)."""
    lines = "".join(json.dumps({k: clean(r.get(k)) for k in COLUMNS}) + "\n" for r in records)
    write_output(out / "metrics.jsonl", lines, force=True)
    table = io.StringIO(newline="")
    w = csv.writer(table)
    w.writerow(COLUMNS)
    for r in records:
        w.writerow(["" if clean(r.get(k)) is None else r.get(k) for k in COLUMNS])
    write_output(out / "metrics.csv", table.getvalue(), force=True)


def read_metrics(out: Path) -> list[dict[str, Any]]:
    path = out / "metrics.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
