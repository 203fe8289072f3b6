"""Reading source files: regular files only, bounded in size, UTF-8 with a located error.

A path may name anything: a FIFO that never ends, a device, a directory, a 10 GB log.
Only a regular file is read, and only up to the size limit; bytes that are not UTF-8 are
a diagnostic at their line and column, not a usage error.

>>> decode(b"conv(8)\\n- relu \\xff\\n", "net.cnn")
Traceback (most recent call last):
...
cnndsl.diagnostics.CnnError: error[E0012]: the file is not valid UTF-8: byte 0xff
 --> net.cnn:2:8
  |
2 | - relu \ufffd
  |        ^
   = help: save the file as UTF-8
"""

from __future__ import annotations

import functools
import os
import re
import stat
from pathlib import Path

from .diagnostics import CnnError, Diagnostic, Source, Span, UserError
from .limits import Limits, how_to_raise


def decode(data: bytes, name: str) -> str:
    """``data`` as text, or E0012 at the first byte that is not UTF-8."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        start = e.start
        line = data.count(b"\n", 0, start) + 1
        line_start = data.rfind(b"\n", 0, start) + 1
        col = len(data[line_start:start].decode("utf-8", "replace")) + 1
        shown = Source(name, data.decode("utf-8", "replace"))
        raise CnnError([Diagnostic("E0012", f"the file is not valid UTF-8: byte "
                                   f"0x{data[start]:02x}", Span(shown, line, col, line, col + 1),
                                   help="save the file as UTF-8")]) from None


def read_source_file(path: Path, limits: Limits) -> str:
    """The text of a source file. A missing, unreadable or special one is a usage error
    (exit 2), which an import turns into a diagnostic at its line; an oversized one is
    E0013, bad UTF-8 E0012."""
    try:
        info = os.stat(path)
    except OSError as e:
        raise UserError(f"no such file: {path}" if isinstance(e, FileNotFoundError)
                        else f"cannot read {path}: {e.strerror}", exit_code=2) from None
    if not stat.S_ISREG(info.st_mode):
        what = "a directory" if stat.S_ISDIR(info.st_mode) else "not a regular file"
        raise UserError(f"cannot read {path}: {what}", help="give a .cnn file", exit_code=2)
    try:
        with open(path, "rb") as f:  # what it holds, up to one byte past the limit
            data = f.read(min(info.st_size, limits.source_bytes) + 1)
            while len(data) <= limits.source_bytes and (more := f.read(
                    limits.source_bytes + 1 - len(data))):  # it grew since stat
                data += more
    except OSError as e:
        raise UserError(f"cannot read {path}: {e.strerror}", exit_code=2) from None
    if len(data) > limits.source_bytes:
        raise CnnError([Diagnostic(
            "E0013", f"{path} is {max(info.st_size, len(data)):,} bytes, more than the limit "
            f"of {limits.source_bytes:,}", None,
            help=how_to_raise("source_bytes", limits.source_bytes, info.st_size))])
    return decode(data, str(path))


# ---------------------------------------------------------------- the zoo, by name
ZOO_DIR = Path(__file__).resolve().parent / "zoo"


def zoo_path(name: str) -> Path | None:
    """The zoo file for ``name`` (``resnet50`` or ``resnet50.cnn``), if there is one."""
    stem = name[:-4] if name.endswith(".cnn") else name
    if not stem or "/" in stem or "\\" in stem:
        return None
    p = ZOO_DIR / f"{stem.lower()}.cnn"
    return p if p.is_file() else None


_PRESET_LINE = re.compile(r"^preset\s+(\w+)\s*\(", re.IGNORECASE | re.MULTILINE)


@functools.lru_cache(maxsize=1)
def zoo_presets() -> dict[str, Path]:
    """Preset name (lower case) -> the zoo family file that defines it
    (``efficientnet_b3`` -> ``zoo/efficientnet.cnn``), read from the files' text."""
    found: dict[str, Path] = {}
    for p in sorted(ZOO_DIR.glob("*.cnn")):
        for name in _PRESET_LINE.findall(p.read_text(encoding="utf-8")):
            found.setdefault(name.lower(), p)
    return found


def zoo_entry(name: str) -> tuple[Path, str | None] | None:
    """A zoo name's file and, for a family's member, its preset."""
    p = zoo_path(name)
    if p is not None:
        return p, None
    family = zoo_presets().get(name.lower()) if name.isidentifier() else None
    return (family, name.lower()) if family is not None else None


def read_source(source_or_path: str | os.PathLike, limits: Limits | None = None
                ) -> tuple[str, str, Path | None, str | None]:
    """(text, display name, base directory, preset) for a path, a zoo name or source
    text; the preset is set for a zoo family's member (``efficientnet_b3``).

    A ``Path`` is a file. A string ending in ``.cnn`` is a path (a missing one is a usage
    error); else a zoo name is the zoo file; anything else is source text. So a string
    from elsewhere never makes the compiler read, and quote, a file that is not a
    ``.cnn`` program (``compile("/etc/passwd")`` is a syntax error about that text).
    """
    limits = limits or Limits()
    if isinstance(source_or_path, os.PathLike):
        return (*_read_file(Path(source_or_path), limits), None)
    text = source_or_path
    if len(text) >= 4096:
        return text, "<input>", None, None
    stripped = text.strip()
    if stripped.lower().endswith(".cnn") and (os.path.lexists(stripped) or "\n" not in text):
        if not os.path.lexists(stripped):
            raise UserError(f"no such file: {stripped}", help="give a path to a .cnn file, "
                            "a zoo name (see `cnndsl zoo list`), or source text", exit_code=2)
        return (*_read_file(Path(stripped), limits), None)
    entry = zoo_entry(stripped) if "\n" not in text else None
    if entry is not None:
        zp, preset = entry
        return zp.read_text(encoding="utf-8"), f"zoo/{zp.name}", zp.parent, preset
    return text, "<input>", None, None


def _read_file(path: Path, limits: Limits) -> tuple[str, str, Path | None]:
    text = read_source_file(path, limits)
    return text, str(path), path.resolve().parent
