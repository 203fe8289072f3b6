"""The LALR parser, built from the grammar once per machine and then loaded from a cache.

Building Lark's LALR tables from ``grammars/cnn.lark`` takes tens of milliseconds,
more than the rest of a ``cnndsl check``; loading them takes a few. The tables are saved
with Lark's own ``save`` in the user's cache folder (``$XDG_CACHE_HOME/cnndsl`` or
``~/.cache/cnndsl``, or ``$CNNDSL_CACHE_DIR``), under a name that hashes the grammar,
the parser options, Lark's and Python's versions, so a changed grammar or an upgrade
never loads stale tables.

NOTE: the cache file is a pickle (Lark's ``cache=`` file), so it is used only in a
folder that belongs to the user and that no one else may write (created 0700), and only
if the file is the user's too. Lark checks the hash it wrote in the file and rebuilds
on any mismatch or damage (a file half-written by a parallel process included); no home
folder, or a read-only one, means the tables are built each time.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path
from typing import Any

import lark
from lark import Lark

OPTIONS = dict(parser="lalr", lexer="basic", keep_all_tokens=True, maybe_placeholders=True)


def build_parser(grammar: str, **runtime: Any) -> Lark:
    """A Lark LALR parser for ``grammar``; ``runtime`` holds the post-lexer and the
    transformer, which are objects of this process and are never cached."""
    folder = cache_dir()
    if folder is None:
        return Lark(grammar, **OPTIONS, **runtime)
    key = repr((grammar, sorted(OPTIONS.items()), lark.__version__, sys.version_info[:2]))
    path = folder / f"cnn-parser-{hashlib.sha256(key.encode()).hexdigest()[:24]}.lark"
    if path.exists() and not _trusted(path):
        path.unlink(missing_ok=True)  # not ours to load: Lark writes a fresh one
    return Lark(grammar, **OPTIONS, **runtime, cache=str(path))


def cache_dir() -> Path | None:
    """The user's cache folder for cnndsl, created private if missing (None: no safe one)."""
    root = os.environ.get("CNNDSL_CACHE_DIR")
    if not root:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"),
                                                                  ".cache")
        root = os.path.join(base, "cnndsl")
    try:
        os.makedirs(root, mode=0o700, exist_ok=True)
    except OSError:
        return None
    folder = Path(root)
    return folder if _trusted(folder) else None


def _trusted(path: Path) -> bool:
    """Owned by this user and writable by no one else (a folder, or a regular file)."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    owner = not hasattr(os, "getuid") or st.st_uid == os.getuid()
    return owner and not st.st_mode & 0o022 and not os.path.islink(path)
