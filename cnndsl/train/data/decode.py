"""Decoding many image files: sizes first, then pixels, in worker processes.

NOTE: the size policy for folders of photos. When every image has one size, images are
kept at that size (the transform resizes them to the network's input, as for any data).
When sizes differ, each image is fitted on load to the network's input ``H x W``:
scaled (bilinear, antialiased by Pillow when shrinking) so that it covers ``H x W`` with
its aspect ratio kept, i.e. its shorter side (relative to the target's) becomes the
target's, then centre-cropped: torchvision's ``Resize`` + ``CenterCrop`` at the input
size. Random crops and flips of ``--augment`` then apply to these images in training.

A file that cannot be decoded is skipped and reported by name, never a crash. This
module imports no torch: forked workers only decode.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from cnndsl.diagnostics import UserError

from .images import have_pillow, read_image

PARALLEL_FROM = 64  # files; fewer decode in this process
CHUNK = 16


def image_size(path: Path) -> tuple[int, int] | None:
    """(width, height) from the file's header, or None when it cannot be read."""
    try:
        from PIL import Image

        with Image.open(path) as im:
            return im.size
    except Exception:  # noqa: BLE001 - any failure: the file is reported when decoded
        return None


def fit(img: np.ndarray, height: int, width: int) -> np.ndarray:
    """uint8 (C, h, w) scaled to cover ``height x width`` (aspect kept), centre-cropped."""
    from PIL import Image

    c, h, w = img.shape
    if (h, w) == (height, width):
        return img
    scale = max(height / h, width / w)
    nh, nw = max(height, round(h * scale)), max(width, round(w * scale))
    planes = []
    for ch in range(c):  # one 8-bit plane at a time: any channel count
        im = Image.fromarray(np.ascontiguousarray(img[ch])).resize((nw, nh), Image.BILINEAR)
        planes.append(np.asarray(im))
    out = np.stack(planes)
    top, left = (nh - height) // 2, (nw - width) // 2
    return np.ascontiguousarray(out[:, top:top + height, left:left + width])


def _decode(job: tuple[str, tuple[int, int] | None]) -> tuple[np.ndarray | None, str]:
    path, target = job
    try:
        img = read_image(Path(path))
        if target is not None:
            img = fit(img, *target)
        return img, ""
    except UserError as e:
        return None, e.message
    except Exception as e:  # noqa: BLE001 - a decoder's own failure on a damaged file
        return None, f"{path}: cannot decode: {e}"


def decode_all(paths: Sequence[Path], target: tuple[int, int] | None,
               workers: int | None = None) -> list[tuple[np.ndarray | None, str]]:
    """Each file's uint8 (C, H, W) (fitted to ``target`` = (H, W) when given) or its
    error; in order. Many files are decoded by forked worker processes."""
    jobs = [(str(p), target) for p in paths]
    workers = workers or min(8, os.cpu_count() or 1)
    if len(jobs) < PARALLEL_FROM or workers < 2 or \
            "fork" not in multiprocessing.get_all_start_methods():
        return [_decode(j) for j in jobs]
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        return list(pool.map(_decode, jobs, chunksize=CHUNK))


def mixed_sizes(paths: Sequence[Path]) -> set[tuple[int, int]]:
    """The distinct (width, height) of the files' headers (unreadable ones left out)."""
    if not have_pillow():
        return set()
    return {s for s in map(image_size, paths) if s is not None}
