"""A one-time resized copy of a folder's images, so that the next run skips decoding.

When a folder's photos are fitted on load (:mod:`~cnndsl.train.data.decode`), the
result (uint8, network-sized) is saved in the user's private cnndsl cache folder
(``$CNNDSL_CACHE_DIR``, else ``$XDG_CACHE_HOME/cnndsl`` or ``~/.cache/cnndsl``) under
``images/``, as a NumPy ``.npz`` read back with ``allow_pickle=False`` (data only). The
name hashes the folder's path, every file's relative path, size and modification time,
the target size and this format's version: any change to the images makes a new copy.
Copies over :data:`MAX_BYTES` are not made. ``CNNDSL_IMAGE_CACHE=off`` turns it off.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from pathlib import Path

import numpy as np

from cnndsl.syntax.tables import cache_dir

VERSION = 1
MAX_BYTES = 1 << 30


def _folder() -> Path | None:
    if os.environ.get("CNNDSL_IMAGE_CACHE", "").lower() in ("0", "off", "no", "false"):
        return None
    root = cache_dir()
    if root is None:
        return None
    folder = root / "images"
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
    except OSError:
        return None
    return folder


def key(root: Path, files: list[Path], target: tuple[int, int]) -> str | None:
    """The copy's name for these files fitted to ``target``; None if a file is gone."""
    h = hashlib.blake2b(digest_size=16)
    h.update(json.dumps([VERSION, str(root.resolve()), list(target)]).encode())
    try:
        for f in files:
            st = f.stat()
            h.update(f"{f.relative_to(root)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    except (OSError, ValueError):
        return None
    return h.hexdigest()


def load(name: str | None) -> tuple[list[np.ndarray | None], list[str]] | None:
    """The cached images (None where a file was unreadable) and their errors."""
    folder = _folder()
    if folder is None or name is None:
        return None
    try:
        with np.load(folder / f"{name}.npz", allow_pickle=False) as z:
            errors = json.loads(str(z["errors"]))
            images: list[np.ndarray | None] = [None] * len(errors)
            for g in range(int(z["groups"])):  # one group per image shape (grey, RGB)
                for row, index in enumerate(z[f"index{g}"].tolist()):
                    images[index] = z[f"x{g}"][row]
    except (OSError, EOFError, KeyError, ValueError, IndexError, zipfile.BadZipFile):
        return None  # damaged or of another version: decoded afresh (and saved again)
    return images, errors


def save(name: str | None, results: list[tuple[np.ndarray | None, str]]) -> Path | None:
    """Write the copy (atomically); its path, or None when it is not made."""
    folder = _folder()
    kept = [i for i, (img, _) in enumerate(results) if img is not None]
    if folder is None or name is None or not kept:
        return None
    if sum(results[i][0].nbytes for i in kept) > MAX_BYTES:  # type: ignore[union-attr]
        return None
    groups: dict[tuple[int, ...], list[int]] = {}
    for i in kept:
        groups.setdefault(results[i][0].shape, []).append(i)  # type: ignore[union-attr]
    arrays = {"groups": np.asarray(len(groups)),
              "errors": np.asarray(json.dumps([e for _, e in results]))}
    for g, index in enumerate(groups.values()):
        arrays[f"x{g}"] = np.stack([results[i][0] for i in index])  # type: ignore[misc]
        arrays[f"index{g}"] = np.asarray(index, dtype=np.int64)
    path = folder / f"{name}.npz"
    tmp = folder / f"{name}.{os.getpid()}.tmp.npz"
    try:
        np.savez(tmp, **arrays)
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)
        return None
    return path
