"""``folder:DIR``: one sub-folder of image files per class (torchvision's ImageFolder).

Classes are the sub-folder names in sorted order. ``DIR/train/<class>/`` next to
``DIR/val/<class>/`` (or ``DIR/test/``) gives a training and a test set. Images of any
size and mode (grey, RGB, RGBA, palette) are read; mixed sizes are fitted to the
network's input on load (:mod:`~cnndsl.train.data.decode`), unreadable files skipped
and named.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from cnndsl.diagnostics import UserError

from . import image_cache
from .decode import decode_all, mixed_sizes
from .images import IMAGE_SUFFIXES
from .types import DataSource, ImageSet

# --augment auto for a folder of photos of many sizes: random-resized crops of at least a
# quarter of the (centre-cropped) image, and flips; validation sees the fitted image.
PHOTO_AUGMENT = "rrc:0.25,flip"


def subfolders(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def image_files(folder: Path) -> tuple[list[Path], int]:
    files, skipped = [], 0
    for p in sorted(folder.iterdir()):
        if p.name.startswith(".") or not p.is_file():
            continue
        if p.suffix.lower() in IMAGE_SUFFIXES:
            files.append(p)
        else:
            skipped += 1
    return files, skipped


def class_files(root: Path, classes: list[str], notes: list[str]) -> tuple[list[Path], list[int]]:
    """Every image file of every class folder, with its label."""
    files: list[Path] = []
    labels: list[int] = []
    skipped = 0
    for label, name in enumerate(classes):
        found, n_skip = image_files(root / name)
        skipped += n_skip
        if not found:
            raise UserError(f"folder:{root}: class folder '{name}' holds no image files",
                            help="remove the empty folder or add its images "
                                 f"({', '.join(sorted(IMAGE_SUFFIXES))})")
        files += found
        labels += [label] * len(found)
    if skipped:
        notes.append(f"folder:{root}: skipped {skipped} file(s) that are not images")
    return files, labels


def decoded(root: Path, files: list[Path], target: tuple[int, int] | None,
            notes: list[str]) -> list[tuple[np.ndarray | None, str]]:
    """The files decoded (and fitted), from the resized copy on disk when one is there
    (:mod:`~cnndsl.train.data.image_cache`; fitted photos only)."""
    if target is None:
        return decode_all(files, None)
    name = image_cache.key(root, files, target)
    cached = image_cache.load(name)
    if cached is not None and len(cached[0]) == len(files):
        notes.append(f"folder:{root}: {len(files)} images from the resized copy made by an "
                     "earlier run (any change to the files makes a new one)")
        return list(zip(*cached))
    results = decode_all(files, target)
    image_cache.save(name, results)
    return results


def read_classes(root: Path, files: list[Path], labels: list[int], notes: list[str],
                 target: tuple[int, int] | None) -> ImageSet:
    """The files decoded (fitted to ``target`` = (H, W) when given; see
    :mod:`~cnndsl.train.data.decode`); unreadable ones skipped and named."""
    images: list[np.ndarray] = []
    kept: list[int] = []
    bad: list[str] = []
    for f, label, (img, error) in zip(files, labels, decoded(root, files, target, notes)):
        if img is None:
            if "needs Pillow" in error:  # the setup, not the file: say so at once
                raise UserError(error, help="pip install pillow (without it, cnndsl reads "
                                "PGM/PPM images only)")
            why = error.split(": ", 1)[1] if error.startswith(f"{f}: ") else error
            bad.append(f"{f.relative_to(root)} ({why})")
        else:
            images.append(img)
            kept.append(label)
    if bad:
        shown = "; ".join(bad[:5]) + ("; ..." if len(bad) > 5 else "")
        notes.append(f"folder:{root}: skipped {len(bad)} unreadable file(s): {shown}")
    if not images:
        raise UserError(f"folder:{root}: none of its {len(files)} image files can be read",
                        help="check the files (" + "; ".join(bad[:2]) + ")")
    shapes = {a.shape[1:] for a in images}
    if len(shapes) > 1:  # sizes the headers did not show (no Pillow): cannot fit
        (h0, w0), (h1, w1) = sorted(shapes)[:2]
        raise UserError(f"folder:{root}: images of different sizes ({w0}x{h0} and {w1}x{h1}, "
                        "width x height)",
                        help="pip install pillow: cnndsl then fits each image to the "
                             "network's input on load")
    channels = {a.shape[0] for a in images}
    if channels == {1, 3}:
        images = [np.repeat(a, 3, axis=0) if a.shape[0] == 1 else a for a in images]
        notes.append(f"folder:{root}: grey images converted to RGB to match the colour ones")
    x = torch.from_numpy(np.stack(images))
    return ImageSet(x, torch.tensor(kept, dtype=torch.int64), scale=255.0)


def size_policy(root: Path, files: list[Path], input_shape: tuple[int, ...] | None,
                notes: list[str]) -> tuple[int, int] | None:
    """None when the images share one size; else the (H, W) each is fitted to on load."""
    sizes = mixed_sizes(files)
    if len(sizes) <= 1:
        return None
    if input_shape is None or len(input_shape) != 3:
        raise UserError(f"folder:{root}: images of {len(sizes)} different sizes, and no "
                        "network input size to fit them to",
                        help="give the network (cnndsl train FILE --data folder:DIR)")
    h, w = int(input_shape[1]), int(input_shape[2])
    small, large = min(sizes, key=lambda s: s[0] * s[1]), max(sizes, key=lambda s: s[0] * s[1])
    notes.append(f"folder:{root}: images of {len(sizes)} sizes ({small[0]}x{small[1]} to "
                 f"{large[0]}x{large[1]}): each scaled to cover {w}x{h} and centre-cropped "
                 "on load")
    return h, w


def load_folder(arg: str, input_shape: tuple[int, ...] | None = None) -> DataSource:
    root = Path(arg).expanduser()
    if not root.is_dir():
        raise UserError(f"folder:{arg}: no such directory", exit_code=2)
    subs = subfolders(root)
    names = {p.name for p in subs}
    test_root = None
    if "train" in names and names <= {"train", "val", "test"} and subfolders(root / "train"):
        test_root = root / ("val" if "val" in names else "test") if len(names) > 1 else None
        root = root / "train"
        subs = subfolders(root)
    if not subs:
        loose, _ = image_files(root)
        raise UserError(f"folder:{arg}: no class sub-folders in {root}",
                        help=("put the images into one sub-folder per class"
                              if loose else "the folder is empty"))
    classes = [p.name for p in subs]
    notes: list[str] = []
    files, labels = class_files(root, classes, notes)
    present: list[str] = []
    test_files: list[Path] = []
    test_labels: list[int] = []
    if test_root is not None:
        extra = sorted({p.name for p in subfolders(test_root)} - set(classes))
        if extra:
            raise UserError(f"folder:{arg}: {test_root.name}/ has classes that train/ lacks: "
                            f"{', '.join(extra)}")
        present = [c for c in classes if (test_root / c).is_dir()]
        test_files, local = class_files(test_root, present, notes)
        test_labels = [classes.index(present[i]) for i in local]
    target = size_policy(root.parent if test_root is not None else root,
                         files + test_files, input_shape, notes)
    train = read_classes(root, files, labels, notes, target)
    test = None
    if test_root is not None:
        test = read_classes(test_root, test_files, test_labels, notes, target)
        if test.sample_shape != train.sample_shape:
            raise UserError(f"folder:{arg}: {test_root.name}/ images are "
                            f"{'x'.join(map(str, test.sample_shape))} but train/ images are "
                            f"{'x'.join(map(str, train.sample_shape))}")
    # photos fitted on load: training sees random-resized crops of them (and flips)
    auto = PHOTO_AUGMENT if target is not None else "none"
    return DataSource(f"folder:{arg}", classes, train, test, notes, auto)
