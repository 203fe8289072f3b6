"""The block table: the prelude's blocks, then the imported files', then the program's
own, each file's shadowing the earlier ones'; and what counts as a layer name.

Part of :class:`~cnndsl.elaborate.elaborator.Elaborator` (a mixin): it fills
``self.blocks`` and reports through ``self.report``.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

from .. import ops
from ..diagnostics import Diagnostic
from ..syntax import ast
from ..syntax.parser import parse
from . import builtins
from .imports import ImportLoader

if TYPE_CHECKING:
    from .elaborator import Elaborator

PRELUDE = Path(__file__).resolve().parent.parent / "prelude.cnn"


class BlockInfo:
    def __init__(self, defn: ast.BlockDef, origin: str):
        self.defn = defn
        self.origin = origin


@functools.lru_cache(maxsize=1)
def _prelude() -> ast.Program:
    return parse(PRELUDE.read_text(encoding="utf-8"), "<prelude>")


class BlockTable:
    """``blocks``: block name (lower case) -> its definition and the file it came from."""

    def is_layer(self: Elaborator, name: str) -> bool:
        return (name.lower() in self.blocks or ops.lookup(name) is not None
                or builtins.lookup(name) is not None)

    def load_blocks(self: Elaborator) -> None:
        self._add_file_blocks(_prelude(), "<prelude>")
        loader = ImportLoader(self.files, self.limits)
        for key, program in loader.load(self.program, self.key):
            if program is not None:
                self._add_file_blocks(program, key)
        self.diags.extend(loader.diagnostics)
        self.imported = loader.record
        self._add_file_blocks(self.program, self.program.source.name)

    def _add_file_blocks(self: Elaborator, prog: ast.Program, origin: str) -> None:
        """A file's blocks, shadowing those of earlier files (the prelude, imports)."""
        local: dict[str, ast.BlockDef] = {}
        for b in prog.blocks:
            key = b.name.lower()
            if key in local:
                self.report(Diagnostic("E0405", f"block `{b.name}` is defined twice", b.span,
                                       help=f"first defined at line {local[key].span.line}; "
                                       "rename one"))
                continue
            if ops.lookup(b.name) or builtins.lookup(b.name):
                self.report(Diagnostic("E0405", f"`{b.name}` is a built-in layer; a block "
                                       "cannot take its name", b.span,
                                       help="choose another name"))
                continue
            local[key] = b
            self.blocks[key] = BlockInfo(b, origin)
