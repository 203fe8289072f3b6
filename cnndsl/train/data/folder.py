"""``folder:DIR``: one sub-folder of image files per class (torchvision's ImageFolder).

Classes are the sub-folder names in sorted order. ``DIR/train/<class>/`` next to
``DIR/val/<class>/`` (or ``DIR/test/``) gives a training and a test set.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from cnndsl.diagnostics import UserError

from .images import IMAGE_SUFFIXES, read_image
from .types import DataSource, ImageSet


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


def read_classes(root: Path, classes: list[str], notes: list[str]) -> ImageSet:
    """Every image of every class folder; all of one size."""
    images: list[np.ndarray] = []
    labels: list[int] = []
    first: Path | None = None
    skipped = 0
    for label, name in enumerate(classes):
        files, n_skip = image_files(root / name)
        skipped += n_skip
        if not files:
            raise UserError(f"folder:{root}: class folder '{name}' holds no image files",
                            help="remove the empty folder or add its images "
                                 f"({', '.join(sorted(IMAGE_SUFFIXES))})")
        for f in files:
            img = read_image(f)
            if first is None:
                first = f
            elif img.shape[1:] != images[0].shape[1:]:
                h0, w0 = images[0].shape[1:]
                h, w = img.shape[1:]
                raise UserError(
                    f"folder:{root}: images of different sizes: {first.relative_to(root)} is "
                    f"{w0}x{h0} but {f.relative_to(root)} is {w}x{h} (width x height)",
                    help="resize the images to one size first (cnndsl then resizes that "
                         "size to the network's input)")
            images.append(img)
            labels.append(label)
    if skipped:
        notes.append(f"folder:{root}: skipped {skipped} file(s) that are not images")
    channels = {a.shape[0] for a in images}
    if channels == {1, 3}:
        images = [np.repeat(a, 3, axis=0) if a.shape[0] == 1 else a for a in images]
        notes.append(f"folder:{root}: grey images converted to RGB to match the colour ones")
    x = torch.from_numpy(np.stack(images))
    return ImageSet(x, torch.tensor(labels, dtype=torch.int64), scale=255.0)


def load_folder(arg: str) -> DataSource:
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
    train = read_classes(root, classes, notes)
    test = None
    if test_root is not None:
        extra = sorted({p.name for p in subfolders(test_root)} - set(classes))
        if extra:
            raise UserError(f"folder:{arg}: {test_root.name}/ has classes that train/ lacks: "
                            f"{', '.join(extra)}")
        present = [c for c in classes if (test_root / c).is_dir()]
        test = read_classes(test_root, present, notes)
        test.y = torch.tensor([classes.index(present[i]) for i in test.y.tolist()],
                              dtype=torch.int64)
        if test.sample_shape != train.sample_shape:
            raise UserError(f"folder:{arg}: {test_root.name}/ images are "
                            f"{'x'.join(map(str, test.sample_shape))} but train/ images are "
                            f"{'x'.join(map(str, train.sample_shape))}")
    return DataSource(f"folder:{arg}", classes, train, test, notes)
