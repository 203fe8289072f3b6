"""From a data spec to what the loop needs: train/val sets, transform, augmentation."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from cnndsl.diagnostics import UserError

from .augment import Augment
from .spec import load_source
from .split import split
from .transform import Transform
from .types import DataSource, ImageSet, check_labels

DEFAULT_VAL_SPLIT = 0.2
AUTO_AUGMENT = {"cifar10": "crop:4,flip"}

DataArg = str | DataSource | tuple


@dataclass
class Prepared:
    source: DataSource
    train: ImageSet
    val: ImageSet | None
    val_name: str
    transform: Transform
    augment: Augment
    notes: list[str] = field(default_factory=list)

    @property
    def classes(self) -> list[str]:
        return self.source.classes


def as_source(data: DataArg, input_shape: tuple[int, ...] | None,
              num_classes: int | None) -> DataSource:
    """A data spec, a :class:`DataSource`, or arrays ``(x, y)`` as a DataSource."""
    if isinstance(data, DataSource):
        return data
    if isinstance(data, str):
        return load_source(data, input_shape, num_classes)
    if isinstance(data, tuple) and len(data) == 2:
        from .npz import image_set

        x, y = (v.numpy() if isinstance(v, torch.Tensor) else np.asarray(v) for v in data)
        images = image_set(x, y, "data (x, y)")
        hi = int(images.labels.max()) if len(images) else 0
        return DataSource("<arrays>", [str(i) for i in range(max(hi + 1, num_classes or 0))],
                          images)
    raise UserError(f"data must be a data spec string, a DataSource or (x, y) arrays; "
                    f"got {type(data).__name__}")


def kind_of(spec: str) -> str:
    return spec.partition(":")[0]


def prepare(data: DataArg, input_shape: tuple[int, ...], num_classes: int | None, *,
            val_split: float | None = None, seed: int = 0,
            augment: str = "auto", normalize: bool = True) -> Prepared:
    """Read the data, check labels against the network, hold out validation data.

    ``val_split=None``: the data set's own test set when it has one, else a stratified
    20% hold-out of the training set. A number: that fraction of the training set
    (0 = no validation).
    """
    source = as_source(data, input_shape, num_classes)
    if len(source.train) == 0:
        raise UserError(f"{source.spec}: the training set is empty")
    classes = num_classes or len(source.classes)
    check_labels(source.train.labels, classes, source.spec)
    if num_classes is not None and num_classes != len(source.classes):  # more scores
        k = len(source.classes)
        named = ", ".join(source.classes[:6]) + (", ..." if k > 6 else "")
        raise UserError(
            f"the network has {num_classes} class scores but {source.spec} has {k} "
            f"classes ({named}); every score must be a class of the data",
            help=f"give the network {k} outputs: --set classes={k} when its header declares "
                 f"`classes`, else change its last fc(...) to fc({k})", exit_code=1)
    notes = list(source.notes)
    if val_split is None:
        if source.test is not None:
            check_labels(source.test.labels, classes, f"{source.spec} (test set)")
            train, val, val_name = source.train, source.test, "test set"
        else:
            val_split = DEFAULT_VAL_SPLIT
    if val_split is not None:
        if not 0 <= val_split < 1:
            raise UserError(f"--val-split {val_split}: must be in [0, 1)", exit_code=2)
        if val_split == 0:
            train, val, val_name = source.train, None, "none"
        else:
            train, val = split(source.train, val_split, seed)
            val_name = f"{val_split:.0%} of the training set"
            if len(train) == 0:
                raise UserError(f"{source.spec}: --val-split {val_split} leaves no "
                                "training data")
    transform = Transform.fit(train.sample_shape, input_shape, train.scale)
    if normalize:
        transform = transform.with_stats(train)
    if augment == "auto":
        augment = AUTO_AUGMENT.get(kind_of(source.spec), source.auto_augment)
    return Prepared(source, train, val, val_name, transform, Augment.parse(augment), notes)
