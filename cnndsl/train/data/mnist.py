"""``mnist:DIR``: the IDX files of MNIST (and of Fashion-MNIST, KMNIST, ...).

DIR holds ``train-images-idx3-ubyte`` and ``train-labels-idx1-ubyte`` (gzipped or not,
``-`` or ``.`` before ``idx``), and optionally the ``t10k-*`` test pair.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np
import torch

from cnndsl.diagnostics import UserError

from .types import DataSource, ImageSet, as_labels

# IDX type codes (http://yann.lecun.com/exdb/mnist/, "THE IDX FILE FORMAT")
IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_bytes(path: Path) -> bytes:
    """A file's bytes, gunzipped when it is gzip; a clear error when it is damaged."""
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            return gzip.decompress(raw)
        return raw
    except (OSError, EOFError, zlib.error) as e:
        raise UserError(f"{path}: cannot read: {e}",
                        help="the file looks damaged or truncated; download it again") from e


def read_idx(path: Path) -> np.ndarray:
    """One IDX file as an array of its declared type and shape."""
    raw = read_bytes(path)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_TYPES:
        raise UserError(f"{path}: not an IDX file (bad magic number {raw[:4].hex() or 'empty'})",
                        help="mnist:DIR expects the original MNIST files, e.g. "
                             "train-images-idx3-ubyte.gz")
    ndim = raw[3]
    head = 4 + 4 * ndim
    if len(raw) < head:
        raise UserError(f"{path}: truncated IDX header")
    dims = struct.unpack(f">{ndim}I", raw[4:head])
    dtype = np.dtype(IDX_TYPES[raw[2]])
    need = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    have = len(raw) - head
    if have < need:
        raise UserError(f"{path}: truncated: the header declares {'x'.join(map(str, dims))} "
                        f"values ({need} bytes) but the file holds {have} bytes",
                        help="download the file again")
    if have > need:
        raise UserError(f"{path}: {have - need} unexpected bytes after the declared "
                        f"{'x'.join(map(str, dims))} values")
    return np.frombuffer(raw, dtype=dtype, count=need // dtype.itemsize,
                         offset=head).reshape(dims).copy()


def find_idx(root: Path, prefix: str, kind: str) -> Path | None:
    """``train-images-idx3-ubyte`` under its usual spellings (.gz, '.' for '-')."""
    stem = {"images": "idx3-ubyte", "labels": "idx1-ubyte"}[kind]
    for name in (f"{prefix}-{kind}-{stem}", f"{prefix}-{kind}.{stem}"):
        for suffix in ("", ".gz"):
            p = root / (name + suffix)
            if p.is_file():
                return p
    return None


def read_pair(root: Path, prefix: str) -> ImageSet | None:
    images, labels = find_idx(root, prefix, "images"), find_idx(root, prefix, "labels")
    if images is None and labels is None:
        return None
    if images is None or labels is None:
        missing = f"{prefix}-{'images-idx3' if images is None else 'labels-idx1'}-ubyte"
        raise UserError(f"mnist:{root}: {missing}[.gz] is missing")
    x = read_idx(images)
    if x.ndim == 3:
        x = x[:, None]
    if x.ndim != 4:
        raise UserError(f"{images}: expected images N x H x W, got shape {x.shape}")
    y = as_labels(read_idx(labels), str(labels))
    if len(y) != len(x):
        raise UserError(f"mnist:{root}: {images.name} has {len(x)} images but "
                        f"{labels.name} has {len(y)} labels")
    scale = 255.0 if x.dtype == np.uint8 else 1.0
    if x.dtype != np.uint8:
        x = x.astype(np.float32)
    return ImageSet(torch.from_numpy(np.ascontiguousarray(x)), y, scale)


def load_mnist(arg: str) -> DataSource:
    root = Path(arg).expanduser()
    if not root.is_dir():
        raise UserError(f"mnist:{arg}: no such directory", exit_code=2)
    train = read_pair(root, "train")
    if train is None:
        raise UserError(f"mnist:{arg}: no train-images-idx3-ubyte[.gz] file in {root}",
                        help="download MNIST's four IDX files into that directory")
    test = read_pair(root, "t10k")
    hi = int(train.labels.max()) if len(train.labels) else 0
    return DataSource(f"mnist:{arg}", [str(i) for i in range(max(10, hi + 1))], train, test)
