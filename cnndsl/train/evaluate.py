"""Loss, accuracy, top-5 and the confusion matrix of a model on a data set.

Test-time augmentation (``tta``) averages the logits of transformed copies of each
batch: ``flip``, the image and its mirror; ``flip-translate``, half that and half the
same for the image shifted by one pixel up-left and down-right (reflected borders), as
airbench94 evaluates.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from .data import Feeder
from .device import sum_dtype
from .distributed import World
from .precision import Precision


@dataclass
class Scores:
    loss: float
    accuracy: float
    top5: float | None  # None with 5 classes or fewer (it would always be 1)
    count: int
    confusion: list[list[int]] = field(default_factory=list)  # [true][predicted]

    def per_class(self) -> list[dict[str, float | int]]:
        """Precision, recall, F1 and support of each class, from the confusion matrix
        (a class never predicted has precision 0; one never present, recall 0)."""
        rows = []
        for k, row in enumerate(self.confusion):
            tp, support = row[k], sum(row)
            predicted = sum(r[k] for r in self.confusion)
            p = tp / predicted if predicted else 0.0
            r = tp / support if support else 0.0
            rows.append({"precision": p, "recall": r,
                         "f1": 2 * p * r / (p + r) if p + r else 0.0, "support": support})
        return rows

    def to_json(self) -> dict:
        return {"loss": self.loss, "accuracy": self.accuracy, "top5": self.top5,
                "count": self.count, "confusion": self.confusion,
                "per_class": self.per_class()}


def flip_logits(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    return 0.5 * (model(x) + model(x.flip(-1)))


def tta_logits(model: torch.nn.Module, x: torch.Tensor, tta: str = "none") -> torch.Tensor:
    """The model's logits for ``x`` under test-time augmentation ``tta``."""
    if tta == "none":
        return model(x)
    logits = flip_logits(model, x)
    if tta == "flip":
        return logits
    h, w = x.shape[-2:]
    padded = F.pad(x, (1, 1, 1, 1), mode="reflect" if min(h, w) > 1 else "replicate")
    shifted = [padded[..., :h, :w], padded[..., 2:, 2:]]
    return 0.5 * logits + 0.25 * sum(flip_logits(model, s) for s in shifted)


@torch.no_grad()
def evaluate(model: torch.nn.Module, feeder: Feeder, *, batch_size: int,
             num_classes: int, precision: Precision | None = None,
             world: World | None = None, confusion: bool = False,
             tta: str = "none") -> Scores:
    """Evaluate ``model`` (an unwrapped module) on every sample of ``feeder``.

    In a distributed run each process scores its share and the sums are combined.
    """
    world = world or World()
    was_training = model.training
    model.eval()
    dev = feeder.device
    sums = torch.zeros(4, dtype=sum_dtype(dev), device=dev)  # loss, top1, top5, count
    matrix = torch.zeros(num_classes * num_classes, dtype=torch.int64, device=dev)
    k = min(5, num_classes)
    for batch in feeder.batches(batch_size):
        if len(batch.y) == 0:
            continue
        if precision is not None:
            with precision.autocast():
                logits = tta_logits(model, batch.x, tta)
        else:
            logits = tta_logits(model, batch.x, tta)
        logits = logits.float()
        sums[0] += F.cross_entropy(logits, batch.y, reduction="sum")
        top = logits.topk(k, dim=1).indices
        sums[1] += (top[:, 0] == batch.y).sum()
        sums[2] += (top == batch.y[:, None]).any(dim=1).sum()
        sums[3] += len(batch.y)
        if confusion:
            matrix += torch.bincount(batch.y * num_classes + top[:, 0],
                                     minlength=num_classes * num_classes)
    world.sum_(sums)
    if confusion:
        world.sum_(matrix)
    model.train(was_training)
    loss, top1, top5, count = sums.tolist()
    n = max(count, 1.0)
    cm = matrix.view(num_classes, num_classes).tolist() if confusion else []
    return Scores(loss / n, top1 / n, top5 / n if num_classes > 5 else None, int(count), cm)
