"""Finding and reading imported files: once per compile, inside their roots, bounded.

An ``import "path.cnn"`` is looked up relative to the importing file, then in the zoo.
The file found must lie inside a root: the main file's folder tree (the current folder
for source text), the zoo, or a folder given with ``--include`` / ``include=``; an
absolute path or a ``..`` that leaves them is refused (E0406), so a program cannot
make the compiler read, or quote in a diagnostic, a file outside them. Only regular
``.cnn`` files are read (E0408), each parsed once however often it is imported, with the
import depth and the total bytes imported bounded (E0407).

A compiled network remembers the texts it imported and which import named which file
(:class:`Imported`), so a checkpoint can rebuild it from memory
(:class:`MemoryFiles`) without reading the file system at all.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from ..diagnostics import CnnError, Diagnostic, Span, UserError
from ..limits import Limits, how_to_raise
from ..sources import ZOO_DIR, read_source_file
from ..syntax import ast
from ..syntax.parser import parse


class ImportProblem(Exception):
    def __init__(self, code: str, message: str, help: str | None = None):
        self.code, self.message, self.help = code, message, help

    def at(self, span: Span) -> Diagnostic:
        return Diagnostic(self.code, self.message, span, help=self.help)


class Files(Protocol):
    """Where imported text comes from: ``find`` the file an import names (None: not
    found), ``read`` its text. Keys are display names (``zoo/lib/resnet.cnn``)."""

    def find(self, written: str, importer: str) -> str | None: ...

    def read(self, key: str) -> str: ...


def display_name(path: Path) -> str:
    """How a file is named in diagnostics and comments: short, never machine-specific."""
    try:
        return "zoo/" + path.relative_to(ZOO_DIR).as_posix()
    except ValueError:
        pass
    try:
        return path.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return str(path)


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


class FileSystem:
    """Imports from disk, confined to ``roots``."""

    def __init__(self, base: Path | None, include: Iterable[str | os.PathLike] = (),
                 limits: Limits | None = None):
        self.base = (base or Path.cwd()).resolve()
        self.roots = [self.base, ZOO_DIR] + [Path(p).resolve() for p in include]
        self.limits = limits or Limits()
        self.paths: dict[str, Path] = {}  # key -> file
        self.dirs: dict[str, Path] = {}  # importer key -> its folder

    def find(self, written: str, importer: str) -> str | None:
        folder = self.dirs.get(importer, self.base)
        plain = Path(written)
        candidates = [plain] if plain.is_absolute() else [folder / plain, ZOO_DIR / plain]
        for c in candidates:
            try:
                target = c.resolve()
                if not (target.exists() or c.is_symlink()):
                    continue
            except (OSError, RuntimeError, ValueError):  # a symlink loop, a NUL, too long
                continue
            if not any(target.is_relative_to(r) for r in self.roots):
                raise ImportProblem(
                    "E0406", f"`{written}` is outside the folders imports may read",
                    help="imports stay inside the main file's folder, the zoo and folders "
                    "given with --include DIR (include=[...] in Python)")
            if target.suffix.lower() != ".cnn" or not _is_file(target):
                raise ImportProblem("E0408", f"`{written}` is not a .cnn file",
                                    help="imports read .cnn source files only")
            key = display_name(target)
            self.paths[key] = target
            self.dirs[key] = target.parent
            return key
        return None

    def read(self, key: str) -> str:
        try:
            return read_source_file(self.paths[key], self.limits)
        except UserError as e:
            raise ImportProblem("E0403", e.message, e.help) from None


@dataclass
class MemoryFiles:
    """Imports replayed from what a compile recorded (a checkpoint's copy). An import
    the record does not hold (a checkpoint written before records were kept) may still
    name a zoo file; nothing else is read from disk."""

    files: dict[str, str]
    links: dict[tuple[str, str], str]
    main: str = "<input>"  # the key the main program had when it was compiled
    zoo: FileSystem | None = None

    def find(self, written: str, importer: str) -> str | None:
        key = self.links.get((importer, written))
        if key is not None:
            return key
        if self.zoo is None:
            self.zoo = FileSystem(ZOO_DIR)
            self.zoo.roots = [ZOO_DIR]
        key = self.zoo.find(written, importer)
        if key is not None:
            self.files[key] = self.zoo.read(key)
        return key

    def read(self, key: str) -> str:
        return self.files[key]


@dataclass
class Imported:
    """The files one compile imported: texts by key, and which import named which."""

    files: dict[str, str] = field(default_factory=dict)
    links: dict[tuple[str, str], str] = field(default_factory=dict)
    main: str = "<input>"

    def to_json(self) -> dict:
        return {"main": self.main, "files": dict(self.files),
                "links": [[a, w, k] for (a, w), k in self.links.items()]}

    @classmethod
    def from_json(cls, data: dict) -> MemoryFiles:
        """A :class:`MemoryFiles` from :meth:`to_json`'s data (a checkpoint's), checked
        to be plain strings."""
        files, links = data.get("files", {}), data.get("links", [])
        main = data.get("main", "<input>")
        if not (isinstance(files, dict) and isinstance(links, list) and isinstance(main, str)
                and all(isinstance(k, str) and isinstance(v, str) for k, v in files.items())
                and all(isinstance(x, list) and len(x) == 3
                        and all(isinstance(y, str) for y in x) for x in links)):
            raise ValueError("imports are not plain text")
        return MemoryFiles(dict(files), {(a, w): k for a, w, k in links}, main)


class ImportLoader:
    """Loads a program's imports depth first, each file once, within the limits."""

    def __init__(self, files: Files, limits: Limits):
        self.files = files
        self.limits = limits
        self.record = Imported()
        self.programs: dict[str, ast.Program] = {}
        self.bytes = 0
        self.diagnostics: list[Diagnostic] = []

    def load(self, program: ast.Program, key: str) -> list[tuple[str, ast.Program]]:
        """The imported programs in the order their blocks are added (each after the
        files it imports), the file itself not included."""
        order: list[tuple[str, ast.Program]] = []
        self.record.main = key
        self._visit(program, key, (key,), order)
        return order

    def _visit(self, program: ast.Program, key: str, chain: tuple[str, ...],
               order: list) -> None:
        for imp in program.imports:
            try:
                target = self.files.find(imp.path, key)
            except ImportProblem as p:
                self.diagnostics.append(p.at(imp.span))
                continue
            if target is None:
                self.diagnostics.append(Diagnostic(
                    "E0403", f"cannot find `{imp.path}` to import", imp.span,
                    help="paths are relative to the importing file; the zoo folder is "
                    "searched too"))
                continue
            self.record.links[(key, imp.path)] = target
            if target in chain:
                self.diagnostics.append(Diagnostic(
                    "E0404", f"`{imp.path}` imports itself (an import cycle)", imp.span,
                    help="move the shared blocks into a third file that both import"))
                continue
            if target in self.programs:
                continue  # read, parsed and its blocks added at its first import
            if len(chain) > self.limits.import_depth:
                self.diagnostics.append(Diagnostic(
                    "E0407", f"imports nested more than {self.limits.import_depth} deep",
                    imp.span, help=how_to_raise("import_depth", self.limits.import_depth)))
                continue
            sub = self._read(target, imp.span)
            if sub is None:
                continue
            self._visit(sub, target, chain + (target,), order)
            order.append((target, sub))

    def _read(self, key: str, span: Span) -> ast.Program | None:
        try:
            text = self.files.read(key)
        except ImportProblem as p:
            self.diagnostics.append(p.at(span))
            return None
        except CnnError as e:  # too large (E0013), not UTF-8 (E0012, at its byte)
            self.diagnostics.extend(e.diagnostics)
            return None
        self.bytes += len(text)
        if self.bytes > self.limits.import_bytes:
            self.diagnostics.append(Diagnostic(
                "E0407", f"the imported files hold more than {self.limits.import_bytes:,} "
                "characters", span, help=how_to_raise("import_bytes", self.limits.import_bytes)))
            return None
        self.record.files[key] = text
        try:
            program = _parse(text, key, self.limits)
        except CnnError as e:
            self.diagnostics.extend(e.diagnostics)
            program = None
        self.programs[key] = program  # a file that fails to parse is reported once
        return program


@functools.lru_cache(maxsize=64)
def _parsed(text: str, key: str, limits: Limits) -> ast.Program:
    return parse(text, key, limits)


def _parse(text: str, key: str, limits: Limits) -> ast.Program:
    """A file's AST, parsed once per process for the same text (the zoo's libraries are
    imported by many networks); the AST is immutable, so it is shared."""
    return _parsed(text, key, limits) if len(text) < 2**20 else parse(text, key, limits)
