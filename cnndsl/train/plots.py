"""Figures: training curves, the optimizer comparison, the confusion matrix.

matplotlib is imported here only, and used through ``Figure`` objects (Agg canvas), so
nothing touches pyplot's global state or the backend of a notebook. Files go through
:mod:`cnndsl.outputs` (checked, marked as cnndsl's, written atomically).
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cnndsl.diagnostics import UserError
from cnndsl.outputs import check_target, mark, write_output

if TYPE_CHECKING:
    from .history import History


def have_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _integer_epochs(*axes: Any) -> None:
    from matplotlib.ticker import MaxNLocator

    for ax in axes:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _series(h: History, key: str) -> tuple[list[int], list[float]]:
    pts = [(r["epoch"], r[key]) for r in h.records if r.get(key) is not None]
    return [p[0] for p in pts], [p[1] for p in pts]


def curves_figure(h: History) -> Any:
    fig = _figure(10, 4)
    loss, acc = fig.subplots(1, 2)
    for key, style, label in (("train_loss", "-", "train"), ("val_loss", "--", "validation")):
        loss.plot(*_series(h, key), style, marker="o", ms=3, label=label)
    for key, style, label in (("train_acc", "-", "train"), ("val_acc", "--", "validation")):
        xs, ys = _series(h, key)
        acc.plot(xs, [100 * y for y in ys], style, marker="o", ms=3, label=label)
    loss.set(title=f"{h.network}: loss", xlabel="epoch", ylabel="cross-entropy")
    acc.set(title=f"{h.network}: accuracy", xlabel="epoch", ylabel="accuracy (%)")
    for ax in (loss, acc):
        ax.grid(alpha=0.3)
        ax.legend()
    _integer_epochs(loss, acc)
    return fig


def save_figure(fig: Any, path: Path, force: bool = False) -> None:
    """``fig`` to ``path`` in the format its extension names (PNG by default), marked as
    cnndsl's, under the output rule of :mod:`cnndsl.outputs`."""
    fmt = path.suffix.lower().lstrip(".") or "png"
    if fmt not in fig.canvas.get_supported_filetypes():
        raise UserError(f"cannot draw a figure as {path.name}", exit_code=2,
                        help="end the file name with .png, .svg or .pdf")
    check_target(path, force)
    buffer = io.BytesIO()
    # matplotlib's own Software entry gives way to cnndsl's mark (PNG)
    fig.savefig(buffer, format=fmt, dpi=100,
                metadata={"Software": None} if fmt == "png" else None)
    write_output(path, mark(buffer.getvalue(), f".{fmt}"), force)


def save_curves(h: History, path: Path, force: bool = False) -> None:
    save_figure(curves_figure(h), path, force)


def save_comparison(runs: Mapping[str, History], path: Path, title: str = "",
                    force: bool = False) -> None:
    """One figure: training loss per optimizer (left), validation accuracy (right)."""
    fig = _figure(10, 4)
    loss, acc = fig.subplots(1, 2)
    for name, h in runs.items():
        line, = loss.plot(*_series(h, "train_loss"), marker="o", ms=3, label=name)
        xs, ys = _series(h, "val_acc")
        if xs:
            acc.plot(xs, [100 * y for y in ys], marker="o", ms=3, color=line.get_color(),
                     label=name)
    loss.set(title=f"{title}: training loss by optimizer".lstrip(": "), xlabel="epoch",
             ylabel="cross-entropy")
    acc.set(title="validation accuracy", xlabel="epoch", ylabel="accuracy (%)")
    for ax in (loss, acc):
        ax.grid(alpha=0.3)
        ax.legend()
    _integer_epochs(loss, acc)
    save_figure(fig, path, force)


def save_confusion(matrix: Sequence[Sequence[int]], classes: Sequence[str], path: Path,
                   title: str = "", force: bool = False) -> None:
    """Rows: true class; columns: predicted class; counts written in the cells (with more
    than 30 classes, each row as fractions of its class, with a colour bar)."""
    import numpy as np

    m = np.asarray(matrix)
    k = len(m)
    size = min(20.0, 2.5 + 0.45 * k)
    fig = _figure(size, size)
    ax = fig.subplots()
    if k <= 30:
        ax.imshow(m, cmap="Blues")
    else:  # too many cells for counts: each true class's row as fractions, on a colour bar
        rows = m.sum(axis=1, keepdims=True)
        image = ax.imshow(m / np.maximum(rows, 1), cmap="Blues", vmin=0, vmax=1,
                          interpolation="nearest")
        fig.colorbar(image, ax=ax, fraction=0.04, label="fraction of the true class")
    if k <= 30:
        hi = m.max() if m.size else 0
        for i in range(k):
            for j in range(k):
                ax.text(j, i, str(int(m[i, j])), ha="center", va="center", fontsize=8,
                        color="white" if m[i, j] > hi / 2 else "black")
        ax.set_xticks(range(k), [str(c) for c in classes], rotation=90)
        ax.set_yticks(range(k), [str(c) for c in classes])
    ax.set(xlabel="predicted", ylabel="true", title=title or "confusion matrix")
    save_figure(fig, path, force)
