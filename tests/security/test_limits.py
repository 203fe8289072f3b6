"""Bounded, fast failure: every runaway input ends in a diagnostic after a bounded amount
of work (counted here in nodes built, expansion steps and files read, never timed), and
imports stay inside their roots.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import cnndsl
from cnndsl import CnnError, UserError
from cnndsl.cli import main
from cnndsl.diagnostics import render
from cnndsl.elaborate import Elaborator
from cnndsl.elaborate.imports import FileSystem
from cnndsl.limits import Limits
from cnndsl.syntax.parser import parse


def codes(text: str, **kwargs) -> list[str]:
    with pytest.raises(CnnError) as e:
        cnndsl.loads(text, **kwargs)
    return [d.code for d in e.value.diagnostics]


def elaborate(text: str, limits: Limits | None = None) -> Elaborator:
    """Run the elaborator itself, to count what it built on the way to its verdict."""
    el = Elaborator(parse(text), {}, None, limits=limits)
    el.run()
    return el


# ---------------------------------------------------------------- expansion
@pytest.mark.parametrize("text,most_nodes", [
    ("input 3x8x8\nconv*1000000000", 2),
    ("input 3x8x8\n((conv*1000)*1000)*1000", 1_001),
    ("input 3x8x8\n(conv - relu)*30000", 3),
    ("input 3x8x8\nblock b(n) = (conv(4) - relu)*n\nb(3) - b(100000)", 10),
])
def test_a_runaway_repeat_fails_after_its_first_iteration(text, most_nodes):
    el = elaborate(text)
    assert [d.code for d in el.diags] == ["E0111"]
    assert len(el.builder.nodes) <= most_nodes


def test_repeating_nothing_is_bounded_by_steps():
    el = elaborate("input 3x8x8\n(id*1000)*40000 - conv")
    assert [d.code for d in el.diags] == ["E0111"] and "steps" in el.diags[0].message
    assert el.steps == Limits().steps + 1


def test_a_limit_is_raised_by_the_api_and_the_command_line(capsys):
    text = "input 1x4x4\nrelu*200"
    assert codes(text, limits={"nodes": 100}) == ["E0111"]
    assert len(cnndsl.loads(text, limits={"nodes": 300}).graph) == 201
    assert main(["check", text, "--limit", "nodes=100"]) == 1
    assert "--limit nodes=200" in capsys.readouterr().err  # the help names what is needed
    assert main(["check", text, "--limit", "nodes=300"]) == 0
    assert main(["check", text, "--limit", "nodez=300"]) == 2


def test_any_one_number_change_to_a_zoo_file_is_bounded():
    """Every whole number in a few zoo files, replaced by 10**9 in turn."""
    import re
    for name, preset in (("resnet", "resnet50"), ("densenet121", None), ("cs231n", None),
                         ("seresnet50", None)):
        text = (Path(cnndsl.api.ZOO_DIR) / f"{name}.cnn").read_text()
        for m in re.finditer(r"(?<![\w.])\d+(?![\w.x])", text):
            changed = text[:m.start()] + "1000000000" + text[m.end():]
            el = Elaborator(parse(changed, name), {}, None, base_dir=Path(cnndsl.api.ZOO_DIR),
                            preset=preset)
            el.run()
            assert len(el.builder.nodes) <= Limits().nodes and el.steps <= Limits().steps + 1


# ---------------------------------------------------------------- sizes and numbers
@pytest.mark.parametrize("text,code", [
    ("input 3x8x8\nfc(1000000000000)", "E0115"),
    ("input 3x100000x100000", "E0115"),
    ("input 3x8x8\nupsample(100000) - conv(8)", "E0115"),
    ("input 4096\n(fc(65536) - fc(4096))*200", "E0116"),
    ("input 3x8x8\nconv(64, 99999999999999999999)", "E0114"),
    ("input 3x8x8\nbn(eps=1e309)", "E0114"),
    ("input 3x8x8\nbn(eps=1e308 * 10)", "E0114"),
    ("input 3x8x8\nconv(4611686018427387904 * 4)", "E0114"),
    ("input 3x8x8\nconv(make_divisible(1e300 * 1e10))", "E0114"),
    ("input 3x8x8\nconv(make_divisible(8, 0))", "E0105"),
    ("input 3x8x8\nconv(" + "9" * 5000 + ")", "E0114"),
    ("input 3x8x8\nconv(4)*" + "9" * 30, "E0114"),
])
def test_sizes_and_numbers_out_of_bounds_are_diagnostics(text, code):
    assert code in codes(text)


def test_bindings_that_are_not_values_are_usage_errors():
    for bad in (float("inf"), float("nan"), 2**70, [1, 2], None):
        with pytest.raises(UserError):
            cnndsl.loads("input 3x8x8\nconv(w)", bindings={"w": bad})
    assert "E0104" in codes("input 3x8x8\nconv(w)", bindings={"w": "inf"})


def test_a_huge_stride_warns_at_once():
    """The W0301 suggestions are arithmetic: a stride of 10**11 answers immediately."""
    net = cnndsl.loads("input 3x9x9\nconv(4, 2, stride=100000000001, pad=99999999993, "
                       "dilation=100000000000)")
    assert [d.code for d in net.diagnostics] == ["W0301"]
    assert net.diagnostics[0].help == "use stride 99999999994; or an input of 16 fits"


def test_receptive_fields_beyond_any_image_are_none_not_an_overflow():
    net = cnndsl.loads("input 3x1x1\nconv(4, 3, stride=2)*1200 - gap - fc(3)")
    s = net.summary()
    assert s.totals["params"] == net.params_count
    assert net.cost.macs > 0


# ---------------------------------------------------------------- text
def test_deep_brackets_stop_at_the_nesting_limit():
    assert codes("input 3x8x8\n" + "(" * 100_000 + "conv" + ")" * 100_000) == ["E0011"]
    assert len(cnndsl.loads("input 3x8x8\n" + "(" * 99 + "conv" + ")" * 99).graph) == 2
    assert codes("input 3x8x8\nconv" + "?" * 100_000) == ["E0011"]  # no brackets


def test_a_50_mb_source_is_refused_before_parsing(tmp_path):
    big = "input 3x8x8\n" + "conv - " * (50 * 2**20 // 7) + "conv"
    assert codes(big) == ["E0013"]
    f = tmp_path / "big.cnn"
    f.write_text(big)
    with pytest.raises(CnnError) as e:
        cnndsl.compile(f)
    assert e.value.diagnostics[0].code == "E0013"


def test_control_characters_are_shown_escaped():
    with pytest.raises(CnnError) as e:
        cnndsl.loads("input 3x8x8\nconv(8) \x1b[2J\u202e - nosuch", name="n\x1b]0;t\x07.cnn")
    shown = "\n".join(render(d) for d in e.value.diagnostics)
    assert "\x1b" not in shown and "\u202e" not in shown and "\x07" not in shown
    assert "\\x1b" in shown and "\\u202e" in shown


# ---------------------------------------------------------------- imports
class CountingFiles(FileSystem):
    reads = 0

    def read(self, key: str) -> str:
        CountingFiles.reads += 1
        return super().read(key)


def test_an_import_diamond_reads_each_file_once(tmp_path):
    depth = 17
    for i in range(depth):
        for x in "ab":
            nxt = "" if i == depth - 1 else f'import "a{i + 1}.cnn"\nimport "b{i + 1}.cnn"\n'
            (tmp_path / f"{x}{i}.cnn").write_text(nxt + f"block {x}{i}blk = conv(4)\n")
    text = 'import "a0.cnn"\nimport "b0.cnn"\ninput 3x8x8\na0blk - b16blk'
    CountingFiles.reads = 0
    el = Elaborator(parse(text), {}, None, files=CountingFiles(tmp_path))
    assert el.run() is not None
    assert CountingFiles.reads == 2 * depth


def test_an_import_chain_stops_at_the_depth_limit(tmp_path):
    for i in range(2000):
        nxt = "" if i == 1999 else f'import "c{i + 1}.cnn"\n'
        (tmp_path / f"c{i}.cnn").write_text(nxt + f"block c{i}blk = relu\n")
    (tmp_path / "net.cnn").write_text('import "c0.cnn"\ninput 3x8x8\nconv(4) - c0blk')
    with pytest.raises(CnnError) as e:
        cnndsl.compile(tmp_path / "net.cnn")
    assert [d.code for d in e.value.diagnostics] == ["E0407"]


@pytest.fixture
def tree(tmp_path):
    """proj/net.cnn beside proj/lib/, and a secret outside proj."""
    (tmp_path / "proj" / "lib").mkdir(parents=True)
    (tmp_path / "proj" / "lib" / "blocks.cnn").write_text("block b = conv(4)\n")
    (tmp_path / "secret.cnn").write_text("password hunter2\n")
    (tmp_path / "notes.txt").write_text("block b = conv(4)\n")
    return tmp_path


def compile_importing(tree: Path, path: str, **kwargs):
    net = tree / "proj" / "net.cnn"
    net.write_text(f'import "{path}"\ninput 3x8x8\nb')
    return cnndsl.compile(net, **kwargs)


@pytest.mark.parametrize("path,code", [
    ("../secret.cnn", "E0406"),
    ("lib/../../secret.cnn", "E0406"),
    ("/etc/hostname", "E0406"),
    ("lib", "E0408"),
    ("lib/missing.cnn", "E0403"),
])
def test_imports_stay_inside_their_roots(tree, path, code, capsys):
    with pytest.raises(CnnError) as e:
        compile_importing(tree, path)
    assert code in [d.code for d in e.value.diagnostics]
    assert "hunter2" not in str(e.value)  # nothing outside the roots is quoted


def test_a_symlink_out_of_the_roots_is_refused(tree):
    os.symlink(tree / "secret.cnn", tree / "proj" / "lib" / "link.cnn")
    with pytest.raises(CnnError) as e:
        compile_importing(tree, "lib/link.cnn")
    assert [d.code for d in e.value.diagnostics][0] == "E0406"


def test_include_allows_a_folder_and_only_cnn_files_are_read(tree):
    assert compile_importing(tree, "lib/blocks.cnn").params_count == 4 * 27 + 4
    with pytest.raises(CnnError):
        compile_importing(tree, "../secret.cnn")
    with pytest.raises(CnnError) as e:  # included, but a parse error would quote it
        compile_importing(tree, "../secret.cnn", include=[tree])
    assert [d.code for d in e.value.diagnostics][0].startswith("E000")  # read: a syntax error
    with pytest.raises(CnnError) as e:
        compile_importing(tree, "../notes.txt", include=[tree])
    assert [d.code for d in e.value.diagnostics] == ["E0408", "E0101"]


def test_a_fifo_import_is_refused_without_blocking(tree):
    os.mkfifo(tree / "proj" / "pipe.cnn")
    with pytest.raises(CnnError) as e:
        compile_importing(tree, "pipe.cnn")
    assert [d.code for d in e.value.diagnostics] == ["E0408", "E0101"]  # then `b` is unknown


def test_bad_utf8_in_an_import_is_located_in_that_file(tree):
    (tree / "proj" / "lib" / "bad.cnn").write_bytes(b"block b = conv(4)\n# caf\xe9\n")
    with pytest.raises(CnnError) as e:
        compile_importing(tree, "lib/bad.cnn")
    d = e.value.diagnostics[0]
    assert (d.code, d.span.line, d.span.col) == ("E0012", 2, 6)
    assert d.span.source.name.endswith("lib/bad.cnn")


def test_a_string_names_only_a_cnn_file(tmp_path, monkeypatch):
    """An embedder's string is never taken for the path of another kind of file."""
    (tmp_path / "secret.txt").write_text("password hunter2\n")
    (tmp_path / "net.cnn").write_text("input 3x8x8\nconv(4)\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CnnError) as e:
        cnndsl.compile("secret.txt")
    assert "hunter2" not in str(e.value)
    assert cnndsl.compile("net.cnn").params_count == 112
    assert main(["check", "secret.txt"]) == 1  # the command line reads the file it is given
