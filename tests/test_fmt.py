"""`cnndsl fmt`: one canonical layout, idempotent, and the same program afterwards."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings

import cnndsl
from cnndsl.api import ZOO_DIR
from cnndsl.cli import main
from cnndsl.diagnostics import CnnError
from cnndsl.fmt import format_source
from cnndsl.syntax.parser import parse

from .security.programs import Program, programs

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted(ZOO_DIR.glob("*.cnn")) + sorted((ZOO_DIR / "lib").glob("*.cnn")) + [
    ROOT / "cnndsl" / "prelude.cnn"]


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_the_zoo_is_formatted_and_formatting_keeps_the_program(path):
    text = path.read_text(encoding="utf-8")
    formatted = format_source(text)
    assert parse(formatted) == parse(text)  # the same tree, spans aside
    assert format_source(formatted) == formatted
    if path.parent.name != "cnndsl":  # the zoo is kept formatted (CI runs fmt --check)
        assert formatted == text


@settings(max_examples=300, derandomize=True, database=None, deadline=None,
          phases=[Phase.generate], suppress_health_check=list(HealthCheck))
@given(programs())
def test_generated_programs_format_to_the_same_program(prog: Program):
    try:
        before = cnndsl.loads(prog.text, bindings=prog.params)
    except CnnError:
        return  # the generator's rare slips: formatting them proves nothing
    formatted = format_source(prog.text)
    assert format_source(formatted) == formatted
    after = cnndsl.loads(formatted, bindings=prog.params)
    assert after.dump_ir() == before.dump_ir()


@pytest.mark.parametrize("source, want", [
    ("conv(8,3)-relu-POOL", "conv(8, 3) - relu - POOL"),
    ("[(CONV-RELU)*N-POOL?]*M-(FC-RELU)*K,SOFTMAX",
     "[(CONV - RELU) * N - POOL?] * M - (FC - RELU) * K, SOFTMAX"),
    ("INPUT 3x32x32 -> conv3-64 -> FC-10", "input 3x32x32 -> conv3-64 -> FC-10"),
    ("conv(8, pad = -1 , stride=2)", "conv(8, pad=-1, stride=2)"),
    ("conv(if(a>1 AND NOT b,1,2))", "conv(if(a > 1 and not b, 1, 2))"),
    ("x as y - s.lo - concat( id|conv(4) )", "x as y - s.lo - concat(id | conv(4))"),
    ("conv(c*width//64*groups)", "conv(c * width // 64 * groups)"),
    ("input(3,size,size)", "input(3, size, size)"),
])
def test_spacing_and_keywords(source, want):
    assert format_source(source) == want + "\n"


def test_sections_comments_and_blank_lines():
    source = ("#  A net.\n\n\n\nBLOCK b( c ) =conv(c)-bn\nNETWORK n(c=8) :\n"
              "  input 3x8x8  \n# the body\n  b(c)   # one\n  relu # two\n\n\n")
    assert format_source(source) == (
        "#  A net.\n\nblock b(c) = conv(c) - bn\nnetwork n(c=8):\n    input 3x8x8\n"
        "    # the body\n    b(c)  # one\n    relu  # two\n")


def test_long_lines_break_after_an_outer_sequencing_operator():
    source = ("block b(c, s=1) = residual(conv(c, 3, s, bias=false) - bn - relu - conv(c, 3, "
              "bias=false) - bn, shortcut=avgpool(2) - conv(c, 1)) - relu\n")
    out = format_source(source, width=60)
    lines = out.splitlines()
    assert all(len(ln) <= 60 for ln in lines) and len(lines) > 1
    assert all(ln.startswith("    ") for ln in lines[1:])
    assert parse(out) == parse(source) and format_source(out, width=60) == out


def test_fmt_skip_keeps_a_line_as_written():
    source = "input 3x8x8\n[(CONV-RELU)*2-POOL]*2  # fmt: skip\n"
    assert format_source(source) == source


def test_a_syntax_error_is_reported_not_guessed():
    with pytest.raises(CnnError) as e:
        format_source("conv(8,3)-\n", name="bad.cnn")
    assert e.value.diagnostics[0].span.source.name == "bad.cnn"


def test_the_command_checks_diffs_and_rewrites(tmp_path, capsys, monkeypatch):
    ugly, neat = tmp_path / "ugly.cnn", tmp_path / "sub" / "neat.cnn"
    neat.parent.mkdir()
    ugly.write_text("input 3x8x8\nconv(8,3)-relu\n")
    neat.write_text("input 3x8x8\nconv(8, 3) - relu\n")
    assert main(["fmt", str(tmp_path), "--check"]) == 1
    assert f"would reformat {ugly}" in capsys.readouterr().err
    assert main(["fmt", str(ugly), "--diff"]) == 0
    assert "+conv(8, 3) - relu" in capsys.readouterr().out
    assert ugly.read_text() == "input 3x8x8\nconv(8,3)-relu\n"  # --diff writes nothing
    assert main(["fmt", str(tmp_path)]) == 0
    assert ugly.read_text() == neat.read_text()
    assert main(["fmt", str(tmp_path), "--check"]) == 0
    bad = tmp_path / "bad.cnn"
    bad.write_text("conv(8,3)-\n")
    assert main(["fmt", str(bad)]) == 1 and bad.read_text() == "conv(8,3)-\n"
    assert "E0005" in capsys.readouterr().err
    (tmp_path / "latin1.cnn").write_bytes(b"\xff bad\n")
    late = tmp_path / "z_late.cnn"
    late.write_text("conv(8,3)-relu\n")
    assert main(["fmt", str(tmp_path / "latin1.cnn"), str(late)]) == 1
    assert late.read_text() == "conv(8, 3) - relu\n"  # the bad file stops only itself
    assert "E0012" in capsys.readouterr().err
    monkeypatch.setattr(sys, "stdin", io.StringIO("conv(8,3)-relu"))
    assert main(["fmt", "-"]) == 0 and capsys.readouterr().out == "conv(8, 3) - relu\n"
    assert main(["fmt", str(tmp_path / "missing.cnn")]) == 2


def test_a_hash_inside_a_string_is_not_a_comment_to_align():
    source = 'import "a#b.cnn"  # x\nimport "c.cnn"  # longer\ninput 3x8x8\nrelu\n'
    assert format_source(source) == source
