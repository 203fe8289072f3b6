"""How a summary and a network show themselves: as the table in a REPL, as HTML and
Markdown in a notebook, as a pandas DataFrame.

:class:`cnndsl.report.Summary` takes its views from :class:`SummaryViews`;
:class:`cnndsl.Network`'s notebook methods give :func:`network_html` and
:func:`network_markdown` their depth-0 summary (one row per top-level block call).

NOTE: escaping. Network names, block calls and their string arguments are the user's
text and reach HTML and Markdown here: every HTML cell goes through ``html.escape``,
every Markdown cell through :func:`md_cell`. The diagram's SVG is Graphviz's, which
escapes its own text. Report's Summary is built on SummaryViews, so this module imports
report's formatters when it runs them, not when it loads.
"""

from __future__ import annotations

import html

from .diagnostics import UserError

NUMBERS = 3  # in every table here, the columns from this index on are numbers
COMPACT_HEADS = ("layer", "op", "output", "params", "MACs")
NO_DIAGRAM = ("<p><em>(no diagram: drawing it needs Graphviz's <code>dot</code>; "
              "see docs/diagrams.md)</em></p>")


class SummaryViews:
    """The views of a :class:`cnndsl.report.Summary`. It prints (and shows in a REPL) as
    ``cnndsl summary``'s table; its rows and totals are data.

    >>> from cnndsl import compile
    >>> s = compile("input 1x28x28\\nconv(8, 3) - relu - pool - fc(10)").summary()
    >>> s  # doctest: +ELLIPSIS
    network: 1x28x28 -> 10
    layer     op                output   activations  params    MACs  RF
    --------  ----------------  -------  -----------  ------  ------  --
    input     input 1x28x28     1x28x28          784       0       0   1
    conv1     3x3 conv, 8       8x28x28        6,272      80  56,448   3
    ...
    total                       10             8,634  15,770  72,128
    <BLANKLINE>
    params       15,770 = 15.8 k (weights 15,752 + biases 18); buffers 0
    ...
    >>> s.totals["params"], s.rows[1].op, s.rows[1].output, len(s.rows)
    (15770, 'conv', (8, 28, 28), 6)
    >>> print(s.to_markdown().splitlines()[5])
    | conv1 | 3x3 conv, 8 | 8x28x28 | 6,272 | 80 | 56,448 | 3 |
    """

    @property
    def rows(self):
        """The per-layer rows, a list of LayerRow (``layers`` is the same list).

        >>> from cnndsl import compile
        >>> [r.name for r in compile("input 8\\nfc(4) - relu").summary().rows]
        ['input', 'fc1', 'relu1']
        """
        return self.layers

    def __str__(self) -> str:
        from .report import format_table
        return format_table(self)

    def __repr__(self) -> str:
        return str(self)

    def to_markdown(self) -> str:
        """The table in Markdown (``cnndsl summary --format markdown``).

        >>> from cnndsl import compile
        >>> print(compile("input 8\\nfc(4)").summary().to_markdown())  # doctest: +ELLIPSIS
        **network**: 8 -> 4
        <BLANKLINE>
        | layer | op | output | activations | params | MACs | RF |
        |---|---|---|--:|--:|--:|--:|
        | input | input 8 | 8 | 8 | 0 | 0 | |
        | fc1 | FC 4 | 4 | 4 | 36 | 32 | |
        | **total** | | 4 | 12 | 36 | 32 | |
        <BLANKLINE>
        - **params**: 36 = 36 (weights 32 + biases 4); buffers 0
        ...
        """
        from .report import format_markdown
        return format_markdown(self)

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def to_json(self) -> str:
        """``cnndsl summary --format json``: :meth:`to_dict` as JSON text."""
        from .report import format_json
        return format_json(self)

    def to_pandas(self):
        """The rows as a pandas DataFrame with the CSV format's columns (report.CSV_FIELDS)
        and values; raises a UserError where pandas is not installed.

        >>> from cnndsl import compile
        >>> df = compile("input 8\\nfc(4) - relu").summary().to_pandas()  # doctest: +SKIP
        >>> df.shape, list(df["params"])  # doctest: +SKIP
        ((3, 15), [0, 36, 0])
        """
        try:
            import pandas
        except ImportError:
            raise UserError("Summary.to_pandas() needs pandas", help="pip install pandas"
                            ) from None
        from .report import CSV_FIELDS, csv_rows
        return pandas.DataFrame(csv_rows(self), columns=list(CSV_FIELDS))

    def _repr_html_(self) -> str:
        """The table in HTML with the totals under it (what a notebook shows).

        >>> from cnndsl import compile
        >>> h = compile("input 8\\nfc(4)").summary()._repr_html_()
        >>> print(h.splitlines()[1])
        <p><strong>network</strong>: 8 -&gt; 4</p>
        >>> ">36</th>" in h  # the params total, in the totals row
        True
        """
        from .report import HEADS, LEGEND, _cells, footer, total_cells
        return "\n".join([
            '<div class="cnndsl-summary">', html_title(self),
            html_table(HEADS, [_cells(r) for r in self.layers], foot=total_cells(self)),
            html_table((), footer(self), right=2),
            f"<p><small>{html.escape(LEGEND)}</small></p>", "</div>"])


# ---------------------------------------------------------------- tables
def md_cell(text: str) -> str:
    """A Markdown table cell: ``<``, ``&`` and ``|`` escaped (``**bold**`` stays markup).

    >>> md_cell('tag("<b>" | x)')
    'tag("&lt;b&gt;" \\\\| x)'
    """
    return html.escape(text, quote=False).replace("|", "\\|")


def md_table(heads, rows, right: int = NUMBERS) -> list[str]:
    """The lines of a Markdown table; the columns from index ``right`` on align right.

    >>> print("\\n".join(md_table(("a", "n"), [("x|y", "1"), ("", "2")], right=1)))
    | a | n |
    |---|--:|
    | x\\|y | 1 |
    | | 2 |
    """
    def line(cells) -> str:
        return "|" + "|".join(f" {md_cell(c)} " if c else " " for c in cells) + "|"

    rule = "|" + "|".join("---" if i < right else "--:" for i in range(len(heads))) + "|"
    return [line(heads), rule, *map(line, rows)]


def html_table(heads, rows, right: int = NUMBERS, foot=None) -> str:
    """An HTML table, every cell escaped; ``foot`` is a last row of header cells (the
    totals); no head row where ``heads`` is empty.

    >>> print(html_table(("name", "n"), [("<b>", "1")], right=1))
    <table>
    <thead><tr><th style="text-align:left">name</th><th style="text-align:right">n</th></tr></thead>
    <tbody>
    <tr><td style="text-align:left">&lt;b&gt;</td><td style="text-align:right">1</td></tr>
    </tbody>
    </table>
    """
    def line(cells, tag: str) -> str:
        return "<tr>" + "".join(
            f'<{tag} style="text-align:{"right" if i >= right else "left"}">'
            f"{html.escape(str(c))}</{tag}>" for i, c in enumerate(cells)) + "</tr>"

    out = ["<table>"]
    if heads:
        out.append(f"<thead>{line(heads, 'th')}</thead>")
    out += ["<tbody>", *(line(r, "td") for r in rows), "</tbody>"]
    if foot:
        out.append(f"<tfoot>{line(foot, 'th')}</tfoot>")
    return "\n".join(out + ["</table>"])


def html_title(s) -> str:
    """``<p><strong>name</strong>: input -&gt; output</p>``, the name escaped."""
    from .report import _shape
    return (f"<p><strong>{html.escape(s.network)}</strong>: "
            f"{html.escape(f'{_shape(s.input)} -> {_shape(s.output)}')}</p>")


# ---------------------------------------------------------------- networks
def compact(s) -> tuple[list[tuple[str, ...]], tuple[str, ...]]:
    """The rows and totals row of a network's compact table: name, op, output, params
    and MACs of each row of ``s`` (a depth-0 summary: one row per top-level block)."""
    from .report import _shape
    rows = [(r.name, r.label, _shape(r.output), f"{r.params:,}", f"{r.macs:,}")
            for r in s.layers]
    return rows, ("total", "", _shape(s.output), f"{s.params:,}", f"{s.macs:,}")


def network_html(s, svg: str | None) -> str:
    """A network in a notebook: its diagram's ``svg`` (a line saying what draws it where
    that is None) over the compact table of its depth-0 summary ``s``.

    >>> from cnndsl import compile
    >>> h = network_html(compile("input 8\\nfc(4) - relu").summary(depth=0), None)
    >>> print(h.splitlines()[2])
    <p><em>(no diagram: drawing it needs Graphviz's <code>dot</code>; see docs/diagrams.md)</em></p>
    >>> ">36</th>" in h  # the params total, in the totals row
    True
    """
    rows, total = compact(s)
    picture = NO_DIAGRAM if svg is None else svg[max(svg.find("<svg"), 0):]  # no XML prolog
    return "\n".join(['<div class="cnndsl-network">', html_title(s), picture,
                      html_table(COMPACT_HEADS, rows, foot=total), "</div>"])


def network_markdown(s) -> str:
    """The compact table of a depth-0 summary ``s`` in Markdown.

    >>> from cnndsl import compile
    >>> print(network_markdown(compile("input 8\\nfc(4) - relu").summary(depth=0)))
    **network**: 8 -> 4
    <BLANKLINE>
    | layer | op | output | params | MACs |
    |---|---|---|--:|--:|
    | input | input 8 | 8 | 0 | 0 |
    | fc1 | FC 4 | 4 | 36 | 32 |
    | relu1 | relu | 4 | 0 | 0 |
    | **total** | | 4 | 36 | 32 |
    """
    from .report import _shape
    rows, total = compact(s)
    title = f"**{md_cell(s.network)}**: {_shape(s.input)} -> {_shape(s.output)}"
    return "\n".join([title, "", *md_table(COMPACT_HEADS, [*rows, ("**total**", *total[1:])])])
