"""The embedded default data: the 1,797 UCI handwritten digits (8x8, 0..16).

See ``cnndsl/data/README.md`` for the source and licence.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import torch

from .types import DataSource, ImageSet

DIGITS_CSV = Path(__file__).resolve().parents[2] / "data" / "digits.csv.gz"


def load_digits(path: Path = DIGITS_CSV) -> DataSource:
    """1797 images 1x8x8, intensities 0..16, labels 0..9.

    >>> d = load_digits()
    >>> len(d.train), d.train.sample_shape, d.train.scale
    (1797, (1, 8, 8), 16.0)
    """
    with gzip.open(path, "rt") as f:
        raw = np.loadtxt(f, delimiter=",", dtype=np.uint8)
    x = torch.from_numpy(np.ascontiguousarray(raw[:, :64].reshape(-1, 1, 8, 8)))
    y = torch.from_numpy(raw[:, 64].astype(np.int64))
    return DataSource("digits", [str(i) for i in range(10)], ImageSet(x, y, scale=16.0))
