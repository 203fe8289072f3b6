"""Analysis columns in a summary: ``cnndsl summary --pass`` in every format.

The summary's own formats (:mod:`cnndsl.report`) know their columns; an analysis adds
one per pass, keyed by the row's layer name (a row for a collapsed block call, under
``--depth``, has a value only if the analysis gives one for that name). The table and
Markdown gain a column on the right, CSV a field at the end, JSON a ``columns`` object
in each layer (and the list of column names at the top).

>>> from cnndsl import compile
>>> s = compile("input 1x8x8\\nconv(4, 3) - relu").summary()
>>> print("\\n".join(format_summary(s, {"half": {"conv1": 0.5}}).splitlines()[1:5]))
layer  op           output  activations  params   MACs  RF  half
-----  -----------  ------  -----------  ------  -----  --  ----
input  input 1x8x8  1x8x8            64       0      0   1
conv1  3x3 conv, 4  4x8x8           256      40  2,304   3   0.5
"""

from __future__ import annotations

import csv
import io
import json
import math
from typing import Any

from ..report import CSV_FIELDS, FORMATS, Summary, csv_rows

Columns = dict[str, dict[str, Any]]


def cell(value: Any) -> str:
    """A value as the table shows it: integers with separators, floats to 4 digits.

    >>> cell(1234567), cell(0.123456), cell(None), cell("x")
    ('1,234,567', '0.1235', '', 'x')
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    return str(value).replace("\n", " ")


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return str(value)


def format_summary(s: Summary, columns: Columns, fmt: str = "table") -> str:
    """``s`` in format ``fmt`` (table, json, markdown, csv) with the analysis columns."""
    if not columns:
        return FORMATS[fmt](s)
    names = [r.name for r in s.layers]
    values = {col: [vals.get(n) for n in names] for col, vals in columns.items()}
    if fmt == "json":
        data = s.to_dict()
        data["columns"] = list(columns)
        for i, layer in enumerate(data["layers"]):
            layer["columns"] = {col: _jsonable(v[i]) for col, v in values.items()}
        return json.dumps(data, indent=2)
    if fmt == "csv":
        buf = io.StringIO()
        rows = [[*row, *(_jsonable(v[i]) for v in values.values())]
                for i, row in enumerate(csv_rows(s))]
        csv.writer(buf, lineterminator="\n").writerows([[*CSV_FIELDS, *columns], *rows])
        return buf.getvalue().rstrip("\n")
    text = FORMATS[fmt](s)
    cells = {col: [cell(x) for x in v] for col, v in values.items()}
    if fmt == "markdown":
        return _markdown(text, len(names), cells)
    return _table(text, names, cells)


def _table(text: str, names: list[str], cells: dict[str, list[str]]) -> str:
    """The table with the columns on its right: the layout of cnndsl.report's table is
    a title, the heading, a rule, one line per row, a rule and the total. Where the
    text is not laid out so, the columns follow as a table of their own."""
    lines, n = text.split("\n"), len(names)
    rules = (2, 3 + n)
    fits = len(lines) > 4 + n and all(set(lines[i]) <= {"-", " "} and lines[i]
                                      for i in rules)
    heads = list(cells)
    if not fits:
        return text + "\n\n" + _standalone(names, cells)
    width = max(len(lines[i]) for i in range(1, 5 + n))
    col_w = [max(len(h), *(len(c) for c in cells[h])) for h in heads]
    for i in range(1, 5 + n):
        if i in rules:
            extra = ["-" * w for w in col_w]
        elif i == 1:
            extra = [h.rjust(w) for h, w in zip(heads, col_w)]
        elif i == 4 + n:
            extra = ["" for _ in heads]
        else:
            extra = [cells[h][i - 3].rjust(w) for h, w in zip(heads, col_w)]
        lines[i] = "  ".join([lines[i].ljust(width), *extra]).rstrip()
    return "\n".join(lines)


def _standalone(names: list[str], cells: dict[str, list[str]]) -> str:
    rows = [["layer", *cells], *([n, *(c[i] for c in cells.values())]
                                 for i, n in enumerate(names))]
    widths = [max(len(r[k]) for r in rows) for k in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) if k == 0 else c.rjust(w)
                               for k, (c, w) in enumerate(zip(r, widths))).rstrip()
                     for r in rows)


def _markdown(text: str, n: int, cells: dict[str, list[str]]) -> str:
    """The Markdown table with the columns appended: its heading, the alignment row,
    one row per layer and the total, the first lines that start with ``|``."""
    lines = text.split("\n")
    start = next((i for i, ln in enumerate(lines) if ln.startswith("|")), None)
    if start is None or len(lines) < start + n + 3:
        return text
    heads = list(cells)
    for k in range(n + 3):
        i = start + k
        line = lines[i].rstrip()
        line = line if line.endswith("|") else line + " |"
        if k == 1:
            lines[i] = line + "--:|" * len(heads)
            continue
        extra = heads if k == 0 else ["" for _ in heads] if k == n + 2 else [
            cells[h][k - 2].replace("|", "\\|") for h in heads]
        lines[i] = line + " " + " | ".join(extra) + " |"
    return "\n".join(lines)
