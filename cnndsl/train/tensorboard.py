"""TensorBoard logging (``--tensorboard``), beside ``metrics.csv`` and ``metrics.jsonl``.

Each epoch's record goes to ``RUN/tensorboard/`` as scalars (``train/loss``,
``train/acc``, ``val/loss``, ``val/acc``, ``val/top5``, ``lr``, ``images_per_s``) at
step = epoch, through ``torch.utils.tensorboard``, which needs the ``tensorboard``
package (``pip install tensorboard`` or ``pip install 'cnndsl[tensorboard]'``).
View with ``tensorboard --logdir RUN``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from cnndsl.diagnostics import UserError

TAGS = {"train_loss": "train/loss", "train_acc": "train/acc", "val_loss": "val/loss",
        "val_acc": "val/acc", "val_top5": "val/top5", "lr": "lr",
        "images_per_s": "images_per_s"}


def check_available() -> None:
    if importlib.util.find_spec("tensorboard") is None:
        raise UserError("--tensorboard needs the tensorboard package",
                        help="pip install tensorboard (or pip install 'cnndsl[tensorboard]'); "
                             "metrics.csv and metrics.jsonl are written either way",
                        exit_code=2)


class Board:
    """Writes epoch records to ``out/tensorboard``."""

    def __init__(self, out: Path) -> None:
        check_available()
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(out / "tensorboard"))

    def epoch(self, record: dict[str, Any]) -> None:
        for key, tag in TAGS.items():
            value = record.get(key)
            if value is not None:
                self.writer.add_scalar(tag, float(value), int(record["epoch"]))
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()
