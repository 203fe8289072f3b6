"""The one "did you mean": the closest known name to a misspelt one.

>>> closest("strde", ["stride", "pad", "dilation"])
'stride'
>>> closest("zzz", ["stride", "pad"]) is None
True
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def closest(name: str, names: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The known name most like ``name`` (difflib's ratio at least ``cutoff``), or None."""
    match = suggestions(name, names, 1, cutoff)
    return match[0] if match else None


def suggestions(name: str, names: Iterable[str], n: int = 3, cutoff: float = 0.6
                ) -> list[str]:
    """Up to ``n`` known names like ``name``, the closest first."""
    return difflib.get_close_matches(name, list(names), n=n, cutoff=cutoff)
