"""How diagrams look: a colour per operator family, shapes, number formats.

>>> human(9408), human(118013952), human(999)
('9.41K', '118M', '999')
"""

from __future__ import annotations

from dataclasses import dataclass

FONT = "Helvetica,Arial,sans-serif"


@dataclass(frozen=True)
class Family:
    fill: str
    legend: str  # name in the legend ("" = not listed)
    shape: str = "box"


# Legend order; unknown families (a future operator's) fall back to OTHER.
FAMILIES: dict[str, Family] = {
    "conv": Family("#9ecae1", "convolution"),
    "pool": Family("#fdae6b", "pooling"),
    "fc": Family("#bcbddc", "fully connected"),
    "norm": Family("#fee391", "normalization"),
    "act": Family("#a1d99b", "activation"),
    "merge": Family("#f0f0f0", "merge (concat, +, x)", "circle"),
    "reg": Family("#d9d9d9", "regularization"),
    "reshape": Family("#e0f3f8", "reshape"),
    "head": Family("#fa9fb5", "classifier"),
    "block": Family("#f6e8c3", "block (collapsed)", "box3d"),
    "io": Family("#ffffff", ""),
}
OTHER = Family("#eeeeee", "other")


def family(name: str) -> Family:
    return FAMILIES.get(name, OTHER)


def legend_entries(drawn: list[str]) -> list[tuple[str, Family]]:
    """(family, style) for the legend: the drawn families that have a legend name, in
    legend order, unknown ones last."""
    known = [(n, f) for n, f in FAMILIES.items() if n in drawn and f.legend]
    return known + ([("other", OTHER)] if any(n not in FAMILIES for n in drawn) else [])


def shape(family_name: str, title: str, lines: tuple[str, ...] = ()) -> str:
    """A merge is a small circle when its label is one sign (+, x), else a small box."""
    s = family(family_name).shape
    return "box" if s == "circle" and (len(title) > 1 or lines) else s


def human(n: int | float) -> str:
    """Three significant digits with a K/M/G suffix."""
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "K")):
        if abs(n) >= div:
            return f"{n / div:.3g}{suffix}"
    return f"{n:.3g}" if isinstance(n, float) else str(n)
