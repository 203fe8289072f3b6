"""What a run prints: a progress bar on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

PROGRESS_CHOICES = ("auto", "bar", "lines", "none")


def fmt_time(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def epoch_line(r: dict[str, Any], epochs: int) -> str:
    width = len(str(epochs))
    parts = [f"epoch {r['epoch']:>{width}}/{epochs}",
             f"loss {r['train_loss']:.4f}", f"acc {100 * r['train_acc']:.2f}%"]
    if r.get("val_acc") is not None:
        parts += [f"val_loss {r['val_loss']:.4f}", f"val_acc {100 * r['val_acc']:.2f}%"]
    parts += [f"lr {r['lr']:.3g}", f"{r['images_per_s']:.0f} img/s", fmt_time(r["epoch_time"])]
    return "  ".join(parts)


class Progress:
    """``bar``: a live line on stderr plus a line per epoch on stdout; ``lines``: the
    lines only; ``none``: silent; ``auto``: bar when stderr is a terminal."""

    def __init__(self, mode: str | bool = "auto", enabled: bool = True,
                 out: TextIO | None = None, err: TextIO | None = None) -> None:
        mode = {True: "auto", False: "none"}.get(mode, mode) if isinstance(mode, bool) else mode
        if mode not in PROGRESS_CHOICES:
            raise ValueError(f"progress must be one of {PROGRESS_CHOICES}, got {mode!r}")
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        if mode == "auto":
            mode = "bar" if getattr(self.err, "isatty", lambda: False)() else "lines"
        self.mode = mode if enabled else "none"
        self.last_draw = 0.0
        self.drawn = False

    def note(self, text: str) -> None:
        if self.mode != "none":
            self.clear()
            print(text, file=self.out, flush=True)

    def step(self, epoch: int, epochs: int, step: int, steps: int, started: float,
             values: Callable[[], tuple[float, float, int]]) -> None:
        """Redraw the bar at most 10 times a second; ``values()`` (which may wait for the
        device) gives (mean loss, accuracy, images seen) and is called only to draw."""
        if self.mode != "bar":
            return
        now = time.perf_counter()
        if now - self.last_draw < 0.1 and step + 1 < steps:
            return
        self.last_draw = now
        loss, acc, seen = values()
        elapsed = max(now - started, 1e-9)
        done = (step + 1) / steps
        width = 20
        fill = int(width * done)
        bar = "#" * fill + "." * (width - fill)
        eta = elapsed / done - elapsed
        line = (f"epoch {epoch + 1}/{epochs} [{bar}] {step + 1}/{steps} loss {loss:.4f} "
                f"acc {100 * acc:.2f}% {seen / elapsed:.0f} img/s eta {fmt_time(eta)}")
        self.err.write("\r" + line + "\x1b[K")
        self.err.flush()
        self.drawn = True

    def clear(self) -> None:
        if self.drawn:
            self.err.write("\r\x1b[K")
            self.err.flush()
            self.drawn = False

    def epoch(self, record: dict[str, Any], epochs: int) -> None:
        self.note(epoch_line(record, epochs))
