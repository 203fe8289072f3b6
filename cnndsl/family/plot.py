"""The family's scatter: every valid member on two figures, the Pareto front drawn over.

matplotlib is imported here only (a ``Figure`` on the Agg canvas, as cnndsl.train.plots
does); the file goes through cnndsl.outputs (checked, marked, written atomically).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..diagnostics import UserError
from .table import Row, bindings_text, pareto

LABELS = {"params": "parameters", "macs": "MACs", "activations": "activations",
          "memory": "peak activations (bytes)", "rf": "receptive field (pixels)",
          "accuracy": "accuracy", "seconds": "training time (s)"}


def plot_family(rows: Sequence[Row], axes: Sequence[str], path: Path, title: str = "",
                force: bool = False) -> None:
    """Members by ``axes[0]`` (x) and ``axes[1]`` (y), the front on those two in red
    (a staircase), each front member labelled with its bindings when there are few."""
    from ..train.plots import _figure, save_figure

    x, y = axes[0], axes[1]
    valid = [r for r in rows if r.valid and r.get(x) is not None and r.get(y) is not None]
    if not valid and any(r.valid for r in rows):
        raise UserError(f"no member has both `{x}` and `{y}` to plot (a network without "
                        "feature maps has no receptive field; a failed trial no accuracy)",
                        help="plot other figures: --pareto params,macs", exit_code=2)
    front = pareto(valid, [x, y])
    fig = _figure(7, 5)
    ax = fig.add_subplot()
    ax.scatter([r.get(x) for r in valid], [r.get(y) for r in valid], s=14, alpha=0.5,
               color="tab:blue", label=f"members ({len(valid)})")
    if front:
        ax.step([r.get(x) for r in front], [r.get(y) for r in front], "o-", where="post",
                color="tab:red", markersize=5, label=f"Pareto front ({len(front)})")
        if len(front) <= 8:
            for r in front:
                ax.annotate(bindings_text(r.bindings), (r.get(x), r.get(y)), fontsize=6,
                            xytext=(4, 4), textcoords="offset points")
    for name, set_scale in ((x, ax.set_xscale), (y, ax.set_yscale)):
        values = [r.get(name) for r in valid if r.get(name)]
        if values and min(values) > 0 and max(values) / min(values) > 100:
            set_scale("log")
    ax.set_xlabel(LABELS.get(x, x))
    ax.set_ylabel(LABELS.get(y, y))
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    save_figure(fig, path, force)
