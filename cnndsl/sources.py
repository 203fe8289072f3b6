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

import os
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
