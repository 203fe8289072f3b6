"""In-memory image sets: what every reader returns."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from cnndsl.deprecation import renamed_attribute
from cnndsl.diagnostics import UserError


@dataclass
class ImageSet:
    """Images ``pixels`` (N, C, H, W) and integer ``labels`` (N,).

    ``pixels`` keeps the reader's storage type (uint8 for image files, so a data set
    takes a quarter of the memory of float32); ``pixels / scale`` is the intensity in
    [0, 1]. (``x`` and ``y`` are their old, deprecated names.)

    >>> s = ImageSet(torch.zeros(4, 1, 2, 2, dtype=torch.uint8), torch.tensor([0, 1, 0, 1]))
    >>> len(s), s.sample_shape, s.labels.tolist()
    (4, (1, 2, 2), [0, 1, 0, 1])
    """

    pixels: torch.Tensor
    labels: torch.Tensor
    scale: float = 255.0

    x = renamed_attribute("pixels", "x", "ImageSet")
    y = renamed_attribute("labels", "y", "ImageSet")

    def __post_init__(self) -> None:
        if self.pixels.ndim != 4:
            raise ValueError("ImageSet.pixels must be (N, C, H, W), got "
                             f"{tuple(self.pixels.shape)}")
        if self.labels.ndim != 1 or len(self.labels) != len(self.pixels):
            raise ValueError("ImageSet.labels must be (N,) with one label per image")

    def __len__(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def sample_shape(self) -> tuple[int, int, int]:
        c, h, w = self.pixels.shape[1:]
        return int(c), int(h), int(w)

    def subset(self, index: torch.Tensor) -> ImageSet:
        return ImageSet(self.pixels[index], self.labels[index], self.scale)

    def nbytes(self) -> int:
        return self.pixels.element_size() * self.pixels.nelement() + 8 * len(self.labels)


@dataclass
class DataSource:
    """What a data spec names: a training set, maybe a test set, and class names."""

    spec: str
    classes: list[str]
    train: ImageSet
    test: ImageSet | None = None
    notes: list[str] = field(default_factory=list)
    auto_augment: str = "none"  # what --augment auto means for this data

    def describe(self) -> str:
        c, h, w = self.train.sample_shape
        n = f"{len(self.train)} training"
        if self.test is not None:
            n += f" + {len(self.test)} test"
        return f"{self.spec}: {n} images {c}x{h}x{w}, {len(self.classes)} classes"


def as_labels(values: object, where: str) -> torch.Tensor:
    """Integer labels as an int64 tensor; a clear error for anything else."""
    import numpy as np

    arr = np.asarray(values)
    if arr.ndim == 2 and arr.shape[1] > 1 and np.isin(arr, (0, 1)).all():
        arr = arr.argmax(axis=1)  # one-hot labels
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise UserError(f"{where}: labels must be a 1-D array, got shape {arr.shape}")
    if arr.dtype.kind == "f":
        if arr.size and not np.all(np.isfinite(arr) & (arr == np.round(arr))):
            raise UserError(f"{where}: labels must be whole numbers")
        arr = arr.astype(np.int64)
    if arr.dtype.kind not in "iub":
        raise UserError(f"{where}: labels must be integers, got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    if arr.size and arr.min() < 0:
        bad = int(np.argmax(arr < 0))
        raise UserError(f"{where}: label {int(arr[bad])} (sample {bad}) is out of range: "
                        "labels are class indices 0, 1, 2, ...")
    return torch.from_numpy(np.ascontiguousarray(arr))


def check_labels(labels: torch.Tensor, num_classes: int, where: str) -> None:
    """Every label must be a valid class index for ``num_classes`` classes."""
    if len(labels) == 0:
        return
    hi = int(labels.max())
    if hi >= num_classes or int(labels.min()) < 0:
        bad = int(torch.nonzero((labels >= num_classes) | (labels < 0))[0, 0])
        raise UserError(
            f"{where}: label {int(labels[bad])} (sample {bad}) is out of range for "
            f"{num_classes} classes (valid labels are 0..{num_classes - 1})",
            help="check the data, or give the network as many classes as the data has "
                 "(for example --set classes=N)")
