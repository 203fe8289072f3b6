"""What a training run is given and tells: its options, the events a callback sees,
the divergence error, the seeding of every random generator, Ctrl-C handling."""

from __future__ import annotations

import contextlib
import random
import signal
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from cnndsl.diagnostics import UserError

from .history import History
from .protocol import NetworkLike

if TYPE_CHECKING:
    from .loop import Trainer


@dataclass
class Options:
    """How to run (the device and the fast paths); none of it changes the recipe."""

    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    out: Path | None = None
    amp: str | bool = "auto"
    channels_last: bool | None = None  # None: on for CUDA
    compile: bool | str = False  # True: torch.compile (inductor); a string: that backend
    data_on_device: bool | None = None  # None: when the data fits in half the free memory
    pin_memory: bool = True
    sync_bn: bool = False
    progress: str | bool = "auto"
    plots: bool = True
    tensorboard: bool = False  # also log each epoch for TensorBoard (needs out)
    header: bool = True  # print the data lines (a comparison prints them once)
    callback: Callable[[Event], None] | None = None


@dataclass
class Event:
    """What a callback sees after each step (``kind="step"``) and epoch (``"epoch"``)."""

    kind: str
    epoch: int  # from 1, as the records and the progress line count
    step: int  # steps done in this epoch
    record: dict[str, Any] | None
    trainer: Trainer

    def stop(self) -> None:
        """Stop after this step, as Ctrl-C does (a checkpoint is written)."""
        self.trainer.stop_requested = True


class Diverged(UserError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""

    def __init__(self, message: str, history: History, help: str) -> None:
        super().__init__(message, help=help, exit_code=1)
        self.history = history


def seed_all(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


def imports_of(net: NetworkLike) -> dict[str, Any]:
    """The texts of the files the network imported, so that the checkpoint rebuilds it
    without reading any file (a stand-in network may have none)."""
    imported = getattr(net, "imported", None)
    return imported.to_json() if imported is not None else {"files": {}, "links": []}


@contextlib.contextmanager
def stop_on_sigint(trainer: Trainer) -> Iterator[None]:
    """First Ctrl-C: finish the step, save, stop. Second: abort at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        if trainer.stop_requested:
            raise KeyboardInterrupt
        trainer.stop_requested = True
        trainer.progress.note("\nstopping after this step (Ctrl-C again to abort) ...")

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
