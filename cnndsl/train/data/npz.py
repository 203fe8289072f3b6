"""``npz:FILE``: NumPy arrays ``x`` (images) and ``y`` (labels).

``x`` is N x H x W (grey), N x C x H x W or N x H x W x C (C = 1, 3 or 4). uint8 images
are intensities 0..255, float images 0..1. ``x_test``/``y_test`` (or ``x_val``/``y_val``)
give a test set; a ``classes`` array names the classes.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import torch

from cnndsl.diagnostics import UserError

from .types import DataSource, ImageSet, as_labels


def to_nchw(x: np.ndarray, where: str) -> np.ndarray:
    if x.ndim == 3:
        return x[:, None]
    if x.ndim == 4:
        if x.shape[1] in (1, 3, 4):
            return x
        if x.shape[3] in (1, 3, 4):
            return x.transpose(0, 3, 1, 2)
    raise UserError(f"{where}: x must be N x H x W, N x C x H x W or N x H x W x C with "
                    f"C in 1, 3, 4; got shape {x.shape}")


def image_set(x: np.ndarray, y: np.ndarray, where: str) -> ImageSet:
    if x.dtype.kind not in "uif" or x.dtype == np.bool_:
        raise UserError(f"{where}: x must hold numbers, got dtype {x.dtype}")
    x = to_nchw(x, where)
    if x.shape[1] == 4:
        x = x[:, :3]  # drop alpha
    labels = as_labels(y, where)
    if len(labels) != len(x):
        raise UserError(f"{where}: {len(x)} images but {len(labels)} labels")
    if x.dtype == np.uint8:
        return ImageSet(torch.from_numpy(np.ascontiguousarray(x)), labels, 255.0)
    xf = x.astype(np.float32)
    if not np.isfinite(xf).all():
        raise UserError(f"{where}: x holds NaN or infinite values")
    return ImageSet(torch.from_numpy(np.ascontiguousarray(xf)), labels, 1.0)


def load_npz(arg: str) -> DataSource:
    path = Path(arg).expanduser()
    if not path.is_file():
        raise UserError(f"npz:{arg}: no such file", exit_code=2)
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as e:
        raise UserError(f"npz:{arg}: cannot read: {e}",
                        help="the file is damaged, truncated, or not made by numpy.savez") from e
    if "x" not in arrays or "y" not in arrays:
        raise UserError(f"npz:{arg}: needs arrays 'x' and 'y'; it holds "
                        f"{', '.join(arrays) or 'nothing'}",
                        help="np.savez(FILE, x=images, y=labels)")
    train = image_set(arrays["x"], arrays["y"], f"npz:{arg}")
    test = None
    for xs, ys in (("x_test", "y_test"), ("x_val", "y_val")):
        if xs in arrays and ys in arrays:
            test = image_set(arrays[xs], arrays[ys], f"npz:{arg} ({xs}, {ys})")
            if test.sample_shape != train.sample_shape:
                raise UserError(f"npz:{arg}: {xs} images are {test.sample_shape}, "
                                f"x images are {train.sample_shape}")
            break
    hi = max(int(s.labels.max()) for s in (train, test) if s is not None and len(s))
    if "classes" in arrays:
        classes = [str(c) for c in arrays["classes"].tolist()]
        if hi >= len(classes):
            raise UserError(f"npz:{arg}: label {hi} is out of range for the "
                            f"{len(classes)} names in 'classes'")
    else:
        classes = [str(i) for i in range(hi + 1)]
    return DataSource(f"npz:{arg}", classes, train, test)
