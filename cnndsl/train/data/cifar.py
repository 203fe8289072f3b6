"""``cifar10:DIR``: the "CIFAR-10 python version" batches.

DIR holds ``data_batch_1`` .. ``data_batch_5``, ``test_batch`` and ``batches.meta``
(or is the folder that contains ``cifar-10-batches-py``). The batches are pickles;
they are read with an unpickler that admits only numpy arrays and plain containers,
so a crafted file cannot run code.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import numpy as np
import torch

from cnndsl.diagnostics import UserError

from .types import DataSource, ImageSet, as_labels, check_labels

CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck"]

SAFE_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("_codecs", "encode"), ("copy_reg", "_reconstructor"), ("copyreg", "_reconstructor"),
    ("__builtin__", "object"), ("builtins", "object"),
}


class Refused(pickle.UnpicklingError):
    """The pickle names something other than numpy arrays and plain containers."""


class SafeUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> object:
        if (module, name) in SAFE_GLOBALS:
            return super().find_class(module, name)
        raise Refused(f"refusing to load {module}.{name}")


def unpickle(path: Path) -> dict:
    try:
        with path.open("rb") as f:
            obj = SafeUnpickler(io.BufferedReader(f), encoding="bytes").load()
    except Refused as e:
        raise UserError(f"{path}: not a CIFAR batch ({e})",
                        help="cifar10:DIR reads the 'CIFAR-10 python version' files") from e
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, OSError) as e:
        raise UserError(f"{path}: cannot read: the file is damaged or truncated ({e})",
                        help="download the data set again") from e
    if not isinstance(obj, dict):
        raise UserError(f"{path}: not a CIFAR batch (holds a {type(obj).__name__})")
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in obj.items()}


def read_batch(path: Path) -> tuple[np.ndarray, torch.Tensor]:
    d = unpickle(path)
    if "data" not in d or ("labels" not in d and "fine_labels" not in d):
        raise UserError(f"{path}: not a CIFAR batch (keys: {', '.join(map(str, d))})")
    data = np.asarray(d["data"])
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise UserError(f"{path}: 'data' must be N x 3072 uint8, got {data.shape} {data.dtype}")
    y = as_labels(d.get("labels", d.get("fine_labels")), str(path))
    if len(y) != len(data):
        raise UserError(f"{path}: {len(data)} images but {len(y)} labels")
    return data.reshape(-1, 3, 32, 32), y


def load_cifar10(arg: str) -> DataSource:
    root = Path(arg).expanduser()
    if (root / "cifar-10-batches-py").is_dir():
        root = root / "cifar-10-batches-py"
    if not root.is_dir():
        raise UserError(f"cifar10:{arg}: no such directory", exit_code=2)
    names = sorted(p for p in root.glob("data_batch_*") if p.is_file())
    if not names:
        raise UserError(f"cifar10:{arg}: no data_batch_* files in {root}",
                        help="unpack cifar-10-python.tar.gz there")
    parts = [read_batch(p) for p in names]
    train = ImageSet(torch.from_numpy(np.concatenate([x for x, _ in parts])),
                     torch.cat([y for _, y in parts]))
    test = None
    if (root / "test_batch").is_file():
        tx, ty = read_batch(root / "test_batch")
        test = ImageSet(torch.from_numpy(np.ascontiguousarray(tx)), ty)
    classes = list(CIFAR10_CLASSES)
    if (root / "batches.meta").is_file():
        meta = unpickle(root / "batches.meta")
        names_ = meta.get("label_names")
        if isinstance(names_, list) and names_:
            classes = [n.decode() if isinstance(n, bytes) else str(n) for n in names_]
    check_labels(train.labels, len(classes), f"cifar10:{arg}")
    if test is not None:
        check_labels(test.labels, len(classes), f"cifar10:{arg} test_batch")
    return DataSource(f"cifar10:{arg}", classes, train, test)
