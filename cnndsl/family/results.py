"""A search's results file: JSON Lines, append-only, what makes a search resumable.

NOTE: how the file is written.

- A header line naming what was searched, then one line per finished trial. Each line
  is one ``write`` to a file opened for appending, then synced: two searches on one file
  (the same command started twice) interleave whole lines, and an interruption loses at
  most the trials that were running; a line cut short by a kill is dropped on reading.
- As the first trial is about to start, :meth:`Results.begin` checks that the file can
  be written (its folder made, a probe file created there and removed), so a path that
  cannot be written is refused before any training. The file itself is created, with
  ``O_EXCL``, by the first finished trial, its header and that record in one write: a
  search that records nothing (its budget spent, its data spec wrong) leaves nothing,
  and of two searches creating the same new file at once one creates it and the other
  reads its header, as it would on a resume. An empty file (a crash between create and
  write) is taken as new.
- Every ``OSError`` on the way is a usage error naming the file (exit 2), never an
  internal error: a disk that fills up keeps the trials already on it.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
import time
from pathlib import Path
from typing import Any

from ..diagnostics import UserError

Record = dict[str, Any]
BINARY = getattr(os, "O_BINARY", 0)  # Windows: no newline translation
HEADER_WAIT = 5.0  # seconds to wait for the header of a file another search just created


class Results:
    """A search's results file: its header line, then one line per finished trial."""

    def __init__(self, path: Path, header: Record, new: bool, empty: bool = False):
        self.path = path
        self._header = header
        self._new = new  # the file is still to create, with the header
        self._empty = empty  # found empty: a dead search's, its header not to wait for

    @classmethod
    def open(cls, path: str | os.PathLike, header: Record) -> tuple[Results, dict[str, Record],
                                                                    list[str]]:
        """The file (created with ``header`` by :meth:`begin` when new), its trials by
        key, and notes. Refuses (exit 2) anything but a cnndsl search of the same
        family, compile options, data and recipe, and a path that cannot be used."""
        p = Path(path)
        try:
            st = os.lstat(p)
        except FileNotFoundError:  # created as the first trial starts
            return cls(p, header, new=True), {}, []
        except OSError as e:  # a parent that is a file, a folder not searchable, ...
            raise _unusable(p, e, "use") from None
        if not stat.S_ISREG(st.st_mode):
            raise UserError(f"{p} is not a regular file; the results go to a file",
                            help="give another --results FILE.jsonl", exit_code=2)
        if st.st_size == 0:  # created by a search that died before writing: nothing in it
            return cls(p, header, new=True, empty=True), {}, []
        try:
            records, notes = _read(p, header)
        except OSError as e:
            raise _unusable(p, e, "read") from None
        return cls(p, header, new=False), records, notes

    def begin(self) -> None:
        """Before the first trial starts: check that the file can be written (a new
        file's folders are made, and a probe file created there and removed)."""
        try:
            if not self._new:
                os.close(os.open(self.path, os.O_WRONLY | os.O_APPEND | BINARY))
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            probe = tempfile.NamedTemporaryFile(dir=self.path.parent, prefix=".cnndsl-",
                                                delete=False)
            probe.close()
            os.unlink(probe.name)
        except OSError as e:
            raise _unusable(self.path, e, "write") from None

    def append(self, record: Record) -> None:
        """One trial, on disk before this returns (the first one with the header)."""
        try:
            if self._new:
                self._new = False
                if _create(self.path, _line(self._header) + _line(record)):
                    return
                # another search created it since open() (or an empty one is there)
                first = _first_line(self.path, 0 if self._empty else HEADER_WAIT)
                if first:
                    _check_header(self.path, first, self._header)
                else:
                    _append(self.path, _line(self._header))
            _append(self.path, _line(record))
        except OSError as e:
            raise UserError(f"cannot append to the results file {self.path}: "
                            f"{e.strerror or e}", help="the trials recorded so far are kept; "
                            "make room (or fix the file's permissions) and run the same "
                            "command again to resume", exit_code=2) from None


def _unusable(p: Path, e: OSError, verb: str) -> UserError:
    return UserError(f"cannot {verb} the results file {p}: {e.strerror or e}",
                     help="give another --results FILE.jsonl (missing folders are created)",
                     exit_code=2)


def _read(p: Path, header: Record) -> tuple[dict[str, Record], list[str]]:
    """The trials of an existing file whose header matches; a cut last line is removed."""
    data = p.read_bytes()
    lines = data.split(b"\n")
    _check_header(p, lines[0], header)
    records: dict[str, Record] = {}
    notes: list[str] = []
    for i, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        record = _json(line)
        if record is None and i == len(lines):  # cut short by a kill: drop it
            notes.append(f"{p}: ignored a truncated last line")
            with open(p, "r+b") as f:
                f.truncate(len(data) - len(line))
        elif not isinstance(record, dict):
            raise UserError(f"{p}:{i} is not a JSON record; the file is damaged",
                            help="remove that line, or start a new search with "
                                 "--results OTHER.jsonl", exit_code=2)
        elif record.get("kind") == "trial" and "key" in record:
            records[record["key"]] = record
    if not data.endswith(b"\n") and _json(lines[-1]) is not None:
        _append(p, b"\n")  # a whole last record without its newline
    return records, notes


def _check_header(p: Path, line: bytes, header: Record) -> None:
    """Refuse a file that is not a cnndsl search's, or is a different search's."""
    first = _json(line)
    if not (isinstance(first, dict) and first.get("generator") == "cnndsl"
            and first.get("kind") == "search"):
        raise UserError(f"{p} is not a cnndsl search results file; refusing to "
                        "append to it", help="give another --results FILE.jsonl",
                        exit_code=2)
    differ = [k for k in ("version", "source_sha256", "compile", "data", "recipe")
              if first.get(k) != header.get(k)]
    if differ:
        what = ", ".join(_difference(k, first, header) for k in differ)
        resume = ("its accuracies are the old networks': restore the files to resume that "
                  "search" if "source_sha256" in differ else
                  "run the command that wrote it to resume that search")
        raise UserError(f"{p} holds a different search: {what}",
                        help=f"{resume}, or start a new one with --results OTHER.jsonl",
                        exit_code=2)


def _difference(key: str, was: Record, now: Record) -> str:
    """One way the file's search differs from this one, in words."""
    if key == "source_sha256":  # two hashes alone do not say what happened
        return (f"the source ({now.get('source')}) or a file it imports changed since "
                f"(sha256 was {str(was.get(key))[:12]}..., now {str(now.get(key))[:12]}...)")
    return f"{key} (was {json.dumps(was.get(key))}, now {json.dumps(now.get(key))})"


def _create(path: Path, data: bytes) -> bool:
    """Create ``path`` holding ``data``; False if it exists already. A write that
    fails (a full disk) removes the file again: a rerun finds no empty file."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | BINARY, 0o666)
    except FileExistsError:
        return False
    try:
        _write_all(fd, data)
    except OSError:
        os.close(fd)
        path.unlink(missing_ok=True)
        raise
    os.close(fd)
    return True


def _first_line(path: Path, wait: float = HEADER_WAIT) -> bytes:
    """The first line of a file another search has just created: its creation and its
    header's write are two steps, so an empty file is waited for (a little)."""
    deadline = time.monotonic() + wait
    while True:
        with open(path, "rb") as f:
            line = f.readline()
        if line.endswith(b"\n") or time.monotonic() >= deadline:
            return line
        time.sleep(0.01)


def _append(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | BINARY)
    try:
        _write_all(fd, data)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    """One ``write`` (a regular file takes it whole; the loop is for a short write),
    synced before returning."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
    os.fsync(fd)


def _line(record: Record) -> bytes:
    return (json.dumps(record) + "\n").encode("utf-8")


def _json(line: bytes) -> Any:
    try:
        return json.loads(line.decode("utf-8"))
    except ValueError:  # UnicodeDecodeError is one
        return None
