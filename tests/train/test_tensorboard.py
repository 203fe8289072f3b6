"""``--tensorboard`` logs each epoch's record for TensorBoard beside the CSV and JSON."""

from __future__ import annotations

import pytest

from cnndsl.cli import main
from cnndsl.diagnostics import UserError

pytest.importorskip("tensorboard")


def test_epochs_are_logged_as_scalars(tmp_path, capsys):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from cnndsl.train import train

    src = tmp_path / "small.cnn"
    src.write_text("network small(classes=4):\n    input 1x8x8\n"
                   "    conv(4, 3) - relu - maxpool(2) - fc(classes)\n")
    run = tmp_path / "run"
    assert main(["train", str(src), "--data", "synthetic:N=64,shape=1x8x8,classes=4",
                 "--epochs", "3", "--out", str(run), "--tensorboard", "-q"]) == 0
    events = EventAccumulator(str(run / "tensorboard"))
    events.Reload()
    assert {"train/loss", "train/acc", "val/loss", "val/acc", "lr"} <= \
        set(events.Tags()["scalars"])
    logged = events.Scalars("val/acc")
    csv = (run / "metrics.csv").read_text().splitlines()
    header = csv[0].split(",")
    want = [float(line.split(",")[header.index("val_acc")]) for line in csv[1:]]
    assert [e.step for e in logged] == [1, 2, 3]
    assert [e.value for e in logged] == pytest.approx(want, abs=1e-6)
    with pytest.raises(UserError, match="needs a run folder"):
        import cnndsl
        train(cnndsl.compile(src), "synthetic:N=64,shape=1x8x8,classes=4", epochs=1,
              tensorboard=True, progress="none", plots=False)
