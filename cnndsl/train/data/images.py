"""Image files to uint8 arrays (C, H, W), C = 1 (grey) or 3 (RGB).

Pillow reads every common format when it is installed (``pip install pillow``); without
it, the Netpbm formats (PGM, PPM, PNM, ASCII or binary) are read here, and other formats
give an error that says how to get Pillow.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from cnndsl.diagnostics import UserError

NETPBM_SUFFIXES = {".pgm", ".ppm", ".pnm"}
IMAGE_SUFFIXES = NETPBM_SUFFIXES | {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif",
                                    ".tiff", ".webp", ".pbm"}


def have_pillow() -> bool:
    try:
        import PIL.Image  # noqa: F401
    except ImportError:
        return False
    return True


def read_image(path: Path) -> np.ndarray:
    """One image file as uint8 (C, H, W); a clear error for damaged files."""
    if have_pillow():
        return read_with_pillow(path)
    if path.suffix.lower() in NETPBM_SUFFIXES:
        return read_netpbm(path)
    raise UserError(f"{path}: reading {path.suffix or 'these'} files needs Pillow",
                    help="pip install pillow (without it, cnndsl reads PGM/PPM images only)")


def read_with_pillow(path: Path) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im.load()
            if im.mode in ("I;16", "I;16B", "I;16L", "I"):
                arr = (np.asarray(im, dtype=np.int64) >> 8).clip(0, 255).astype(np.uint8)
                return arr[None]
            if im.mode not in ("L", "RGB"):
                grey = im.mode in ("1", "LA", "F") or (im.mode == "P" and _grey_palette(im))
                im = im.convert("L" if grey else "RGB")
            arr = np.array(im, dtype=np.uint8)
    except UnidentifiedImageError as e:
        raise UserError(f"{path}: not an image file Pillow can read") from e
    except (OSError, SyntaxError, ValueError) as e:
        raise UserError(f"{path}: cannot read the image: {e}",
                        help="the file looks damaged or truncated") from e
    return arr[None] if arr.ndim == 2 else np.ascontiguousarray(arr.transpose(2, 0, 1))


def _grey_palette(im: object) -> bool:
    rgb = im.convert("RGB")  # type: ignore[attr-defined]
    arr = np.asarray(rgb)
    return bool((arr[..., 0] == arr[..., 1]).all() and (arr[..., 1] == arr[..., 2]).all())


_TOKEN = re.compile(rb"(?:\s|#[^\n]*\n?)*(\S+)")


def read_netpbm(path: Path) -> np.ndarray:
    """PGM/PPM (P2, P3, P5, P6) without Pillow."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise UserError(f"{path}: cannot read: {e}") from e
    magic = raw[:2]
    if magic not in (b"P2", b"P3", b"P5", b"P6"):
        raise UserError(f"{path}: not a PGM/PPM image (magic {magic!r})",
                        help="pip install pillow to read other formats")
    pos, fields = 2, []
    for _ in range(3):
        m = _TOKEN.match(raw, pos)
        if m is None or not m.group(1).isdigit():
            raise UserError(f"{path}: damaged PGM/PPM header")
        fields.append(int(m.group(1)))
        pos = m.end()
    width, height, maxval = fields
    channels = 3 if magic in (b"P3", b"P6") else 1
    count = width * height * channels
    if not 0 < maxval < 65536:
        raise UserError(f"{path}: bad maximum value {maxval} in the PGM/PPM header")
    if magic in (b"P5", b"P6"):
        dtype = np.dtype(">u2") if maxval > 255 else np.dtype("u1")
        data = raw[pos + 1:]
        if len(data) < count * dtype.itemsize:
            raise UserError(f"{path}: truncated: {width}x{height} image needs "
                            f"{count * dtype.itemsize} bytes of pixels, found {len(data)}")
        arr = np.frombuffer(data, dtype=dtype, count=count).astype(np.float64)
    else:
        values = raw[pos:].split()
        if len(values) < count:
            raise UserError(f"{path}: truncated: {width}x{height} image needs {count} "
                            f"values, found {len(values)}")
        try:
            arr = np.array([int(v) for v in values[:count]], dtype=np.float64)
        except ValueError as e:
            raise UserError(f"{path}: damaged pixel values") from e
    if maxval != 255:
        arr = np.round(arr * (255.0 / maxval))
    img = arr.clip(0, 255).astype(np.uint8).reshape(height, width, channels)
    return np.ascontiguousarray(img.transpose(2, 0, 1))


def write_netpbm(path: Path, img: np.ndarray) -> None:
    """Write uint8 (C, H, W), C in (1, 3), as binary PGM/PPM (used by tests and tools)."""
    c, h, w = img.shape
    magic = b"P5" if c == 1 else b"P6"
    path.write_bytes(magic + f"\n{w} {h}\n255\n".encode()
                     + np.ascontiguousarray(img.transpose(1, 2, 0)).astype(np.uint8).tobytes())
