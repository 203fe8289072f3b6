"""What a run prints: a live bar on a terminal, plain lines otherwise."""

from __future__ import annotations

import io

from cnndsl.train.history import History
from cnndsl.train.progress import Progress, epoch_line


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


RECORD = {"epoch": 3, "train_loss": 0.5, "train_acc": 0.875, "val_loss": 0.25,
          "val_acc": 0.9, "val_top5": 1.0, "lr": 0.001, "images_per_s": 5321.4,
          "epoch_time": 75.0, "time": 200.0}


def test_bar_on_a_terminal() -> None:
    out, err = io.StringIO(), Tty()
    p = Progress("auto", out=out, err=err)
    assert p.mode == "bar"
    calls = []

    def values():
        calls.append(1)
        return 1.25, 0.5, 640

    for step in range(10):
        p.step(0, 3, step, 10, started=0.0, values=values)
    bar = err.getvalue()
    assert bar.startswith("\r") and "epoch 1/3 [####################] 10/10" in bar
    assert "loss 1.2500 acc 50.00%" in bar and "img/s" in bar
    assert len(calls) <= 3  # redrawn (and the device waited for) a few times a second only
    p.epoch(RECORD, 10)
    assert err.getvalue().endswith("\r\x1b[K")  # the bar is cleared before the line
    assert out.getvalue() == epoch_line(RECORD, 10) + "\n"


def test_lines_when_not_a_terminal_and_silence() -> None:
    out, err = io.StringIO(), io.StringIO()
    p = Progress("auto", out=out, err=err)
    assert p.mode == "lines"
    p.step(0, 3, 0, 10, started=0.0, values=lambda: (1.0, 0.5, 64))
    p.epoch(RECORD, 10)
    assert err.getvalue() == ""
    assert out.getvalue() == ("epoch  3/10  loss 0.5000  acc 87.50%  val_loss 0.2500  "
                              "val_acc 90.00%  lr 0.001  5321 img/s  1:15\n")
    quiet = Progress("none", out=out, err=err)
    quiet.note("x")
    assert out.getvalue().count("\n") == 1


def test_history_access() -> None:
    h = History([dict(RECORD, epoch=1, val_acc=0.8), dict(RECORD, epoch=2, val_acc=0.95),
                 dict(RECORD, epoch=3, val_acc=0.9)], network="n")
    assert h["val_acc"] == [0.8, 0.95, 0.9] and h.best["epoch"] == 2 and h.last["epoch"] == 3
    assert h.best_val_acc == 0.95 and History().best_val_acc is None
    assert repr(h) == "History('n', 3 epochs, completed, best val_acc 0.9500 at epoch 2)"
    fig = h.plot()
    assert len(fig.axes) == 2
