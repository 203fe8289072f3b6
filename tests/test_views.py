"""How a Summary and a Network show themselves: text in a REPL, HTML and Markdown in a
notebook, a pandas DataFrame; the user's names escaped on the way."""

import dataclasses
import json
import shutil
import sys

import pytest

import cnndsl
from cnndsl import report
from cnndsl.diagnostics import UserError
from cnndsl.draw import rendering
from cnndsl.views import html_table, md_cell

SMALL = "input 1x28x28\nconv(8, 3) - relu - pool - fc(10)"
# a string argument of a block call is the user's text, shown in the call's row
HOSTILE = """block tagged(tag, n) = conv(n, 3) - relu
input 1x8x8
tagged("<script>alert('&')</script> | x", 4) - fc(10)"""
SCRIPT = "<script>"
ESCAPED = "&lt;script&gt;alert(&#x27;&amp;&#x27;)&lt;/script&gt;"
HAS_DOT = shutil.which("dot") is not None


@pytest.fixture
def no_dot(monkeypatch):
    monkeypatch.setattr(rendering.shutil, "which", lambda name: None)


# ---------------------------------------------------------------- Summary as text and data
def test_the_summary_prints_and_shows_as_the_cli_table():
    net = cnndsl.compile(SMALL)
    for s in (net.summary(), net.summary(depth=0), net.summary(batch=8, dtype="bf16")):
        assert str(s) == repr(s) == report.format_table(s)
    assert repr(net.summary()).splitlines()[0] == "network: 1x28x28 -> 10"


def test_rows_and_totals_are_the_numbers():
    s = cnndsl.compile(SMALL).summary()
    assert s.rows is s.layers
    assert [(r.name, r.op) for r in s.rows] == [
        ("input", "input"), ("conv1", "conv"), ("relu1", "relu"), ("pool1", "maxpool"),
        ("flatten1", "flatten"), ("fc1", "fc")]
    conv, fc = s.rows[1], s.rows[5]
    assert (conv.output, conv.params, conv.macs) == ((8, 28, 28), 8 * 9 + 8, 8 * 28 * 28 * 9)
    assert (fc.params, fc.macs) == (8 * 14 * 14 * 10 + 10, 8 * 14 * 14 * 10)
    t = s.totals
    assert (t["params"], t["macs"], t["flops"]) == (15_770, 72_128, 144_256)
    assert t["activations"] == 784 + 6272 + 1568 + 10  # relu in place, flatten a view
    assert t["activation_bytes"] == 4 * t["activations"]


def test_markdown_json_and_the_dataclass_stay_as_they_were():
    s = cnndsl.compile(SMALL).summary()
    assert s.to_markdown() == s._repr_markdown_() == report.format_markdown(s)
    assert s.to_json() == report.format_json(s) and json.loads(s.to_json()) == s.to_dict()
    assert dataclasses.is_dataclass(s) and isinstance(s, report.Summary)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.params = 0


def test_to_pandas_without_pandas_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)  # `import pandas` now fails
    with pytest.raises(UserError, match="needs pandas") as e:
        cnndsl.compile(SMALL).summary().to_pandas()
    assert e.value.help == "pip install pandas"


def test_to_pandas_has_the_csv_columns_and_rows():
    pytest.importorskip("pandas")
    s = cnndsl.compile(SMALL).summary()
    df = s.to_pandas()
    assert list(df.columns) == list(report.CSV_FIELDS) and len(df) == len(s.rows) == 6
    assert df.values.tolist() == report.csv_rows(s)
    assert list(df["params"]) == [r.params for r in s.rows]
    assert report.format_csv(s).splitlines()[0] == ",".join(report.CSV_FIELDS)


# ---------------------------------------------------------------- Summary in a notebook
def test_summary_html_has_every_row_and_the_totals():
    s = cnndsl.compile(SMALL).summary()
    h = s._repr_html_()
    assert h.count("<tr>") == 1 + len(s.rows) + 1 + 6  # head, rows, total; 6 footer lines
    assert ">15,770</th>" in h and ">72,128</th>" in h  # the totals row
    assert "15,770 = 15.8 k (weights 15,752 + biases 18)" in h  # the footer under it
    assert "<strong>network</strong>: 1x28x28 -&gt; 10" in h


def test_summary_html_and_markdown_escape_the_users_text():
    s = cnndsl.compile(HOSTILE).summary(depth=0)
    call = s.rows[1]
    assert call.label.startswith('tagged(<script>')  # the user's text reaches the row
    h = s._repr_html_()
    assert SCRIPT not in h and ESCAPED in h and ">2,610</th>" in h
    md = s.to_markdown()
    assert SCRIPT not in md and "&lt;script&gt;" in md and "\\| x" in md
    assert md.splitlines()[5].count(" | ") == 6  # the | in the call does not add a column


def test_escaping_helpers():
    assert md_cell("a|b<c>&") == "a\\|b&lt;c&gt;&amp;"
    table = html_table(("<h>",), [("<td>&",)], foot=('"total"',))
    assert "&lt;h&gt;" in table and "&lt;td&gt;&amp;" in table and "&quot;total&quot;" in table
    assert "<h>" not in table and "<td>&" not in table


# ---------------------------------------------------------------- Network in a notebook
def test_network_repr_stays_short():
    r = repr(cnndsl.compile("resnet50"))
    assert "\n" not in r and len(r) < 100 and r.startswith("<Network resnet50: 3x224x224")


def test_network_html_has_the_diagram_and_a_table_of_its_top_level_blocks():
    net = cnndsl.compile("resnet18")
    h = net._repr_html_()
    assert ("<svg" in h) == HAS_DOT and "<?xml" not in h
    blocks = [r.name for r in net.summary(depth=0).rows]
    assert blocks == ["input", "stem1", "layer1", "layer2", "layer3", "layer4", "head1"]
    for name in blocks:
        assert f">{name}</td>" in h
    assert ">layer(128, 2)</td>" in h and ">11,689,512</th>" in h  # a call, the params total
    total = net._repr_markdown_().splitlines()[-1]
    assert total == "| **total** | | 1000 | 11,689,512 | 1,814,073,344 |"


def test_network_html_without_dot_is_the_table_and_a_note(no_dot):
    net = cnndsl.compile(SMALL)
    assert net._repr_svg_() is None
    h = net._repr_html_()
    assert "<svg" not in h and "needs Graphviz" in h and ">conv1</td>" in h
    assert ">15,770</th>" in h
    bundle = net._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/html", "text/markdown"}
    assert bundle["text/html"] == h and bundle["text/plain"] == repr(net)


@pytest.mark.skipif(not HAS_DOT, reason="Graphviz's dot is not installed")
def test_network_bundle_draws_once_and_holds_every_form():
    net = cnndsl.compile(SMALL)
    bundle = net._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/html", "text/markdown", "image/svg+xml"}
    assert bundle["image/svg+xml"] == net._repr_svg_()
    assert bundle["text/html"] == net._repr_html_()
    assert bundle["text/markdown"] == net._repr_markdown_()


def test_network_views_escape_the_users_text():
    net = cnndsl.compile(HOSTILE)
    h, md = net._repr_html_(), net._repr_markdown_()
    assert SCRIPT not in h and ESCAPED in h and ">2,610</th>" in h
    assert SCRIPT not in md and "&lt;script&gt;" in md
