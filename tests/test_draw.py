"""Diagrams: DOT/Mermaid text, rendering with Graphviz, levels of detail, folding, CLI.

Shapes are written CxHxW, the project's convention (the naive inception module's output
is 672x28x28, the slides' 28x28x672).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import cnndsl
from cnndsl import draw as cdraw
from cnndsl.api import zoo_entry
from cnndsl.cli import main
from cnndsl.diagnostics import UserError
from cnndsl.draw import rendering
from cnndsl.ir.graph import Argument

HAS_DOT = shutil.which("dot") is not None
needs_dot = pytest.mark.skipif(not HAS_DOT, reason="needs the Graphviz dot program")

BOTTLENECK = """
block bottleneck(c, stride=1) = residual(conv(c, 1, bias=false) - bn - relu - conv(c, 3, stride, bias=false) - bn - relu - conv(4*c, 1, bias=false) - bn) - relu
block stage(c, n, stride=2) = bottleneck(c, stride) - bottleneck(c)*(n-1)
"""
RESNET50 = BOTTLENECK + """
network resnet50(classes=1000):
    input 3x224x224
    conv(64, 7, stride=2, pad=3, bias=false) - bn - relu - maxpool(3, stride=2, pad=1)
    stage(64, 3, stride=1) - stage(128, 4) - stage(256, 6) - stage(512, 3)
    gap - fc(classes)
"""
RESNET18 = """
block basic(c, stride=1) = residual(conv(c, 3, stride, bias=false) - bn - relu - conv(c, 3, bias=false) - bn) - relu
block stage(c, n, stride=2) = basic(c, stride) - basic(c)*(n-1)
network resnet18(classes=1000):
    input 3x224x224
    conv(64, 7, stride=2, pad=3, bias=false) - bn - relu - maxpool(3, stride=2, pad=1)
    stage(64, 2, stride=1) - stage(128, 2) - stage(256, 2) - stage(512, 2)
    gap - fc(classes)
"""
VGG16 = """
network vgg16(classes=1000):
    input 3x224x224
    conv3-64 - relu - conv3-64 - relu - maxpool
    conv3-128 - relu - conv3-128 - relu - maxpool
    conv3-256 - relu - conv3-256 - relu - conv3-256 - relu - maxpool
    conv3-512 - relu - conv3-512 - relu - conv3-512 - relu - maxpool
    conv3-512 - relu - conv3-512 - relu - conv3-512 - relu - maxpool
    FC-4096 - relu - dropout - FC-4096 - relu - dropout - FC-1000 - soft-max
"""
GOOGLENET = """
block inc(a, b1, b2, c1, c2, p) = concat(conv(a, 1) - relu | conv(b1, 1) - relu - conv(b2, 3) - relu | conv(c1, 1) - relu - conv(c2, 5) - relu | maxpool(3, stride=1, pad=1) - conv(p, 1) - relu)
network googlenet(classes=1000):
    input 3x224x224
    conv(64, 7, stride=2, pad=3) - relu - maxpool(3, stride=2, pad=1) - lrn
    conv(64, 1) - relu - conv(192, 3) - relu - lrn - maxpool(3, stride=2, pad=1)
    inc(64, 96, 128, 16, 32, 32) - inc(128, 128, 192, 32, 96, 64) - maxpool(3, stride=2, pad=1)
    inc(192, 96, 208, 16, 48, 64) - inc(160, 112, 224, 24, 64, 64) - inc(128, 128, 256, 24, 64, 64)
    inc(112, 144, 288, 32, 64, 64) - inc(256, 160, 320, 32, 128, 128) - maxpool(3, stride=2, pad=1)
    inc(256, 160, 320, 32, 128, 128) - inc(384, 192, 384, 48, 128, 128)
    gap - dropout(0.4) - fc(classes)
"""
DENSENET = """
block layer(k) = concat(identity | bn - relu - conv(4*k, 1, bias=false) - bn - relu - conv(k, 3, bias=false))
block trans(c) = bn - relu - conv(c, 1, bias=false) - avgpool(2)
network densenet121(classes=1000, k=32):
    input 3x224x224
    conv(64, 7, stride=2, pad=3, bias=false) - bn - relu - maxpool(3, stride=2, pad=1)
    layer(k)*6 - trans(128) - layer(k)*12 - trans(256) - layer(k)*24 - trans(512) - layer(k)*16
    bn - relu - gap - fc(classes)
"""
NAIVE_INCEPTION = """
network naive_inception:
    input 256x28x28
    concat(conv(128, 1) | conv(192, 3) | conv(96, 5) | maxpool(3, stride=1, pad=1))
"""
NETS = {"vgg16": VGG16, "resnet50": RESNET50, "googlenet": GOOGLENET, "densenet": DENSENET}


# ---------------------------------------------------------------- helpers
def nodes(dot: str) -> dict[str, str]:
    """Node id -> its attribute text, from node statements (legend excluded)."""
    found = re.findall(r'^\s*"([^"]+)" (\[.*\])$', dot, re.M)
    return dict(found)


def edges(dot: str) -> list[tuple[str, str, str]]:
    """(src, dst, label) of the visible edges."""
    out = []
    for src, dst, rest in re.findall(r'^\s*"([^"]+)" -> "?([^"\s]+)"?(.*)$', dot, re.M):
        if "invis" in rest:
            continue
        m = re.search(r'label="([^"]*)"', rest)
        out.append((src, dst, m.group(1) if m else ""))
    return out


def family_count(dot: str, family: str) -> int:
    return sum(f'class="{family}"' in a for a in nodes(dot).values())


def labels(dot: str) -> list[str]:
    out = []
    for a in nodes(dot).values():
        m = re.match(r'\[label=(?:"([^"]*)"|<([^<>]*)(?:<|>))', a)
        out.append(m.group(1) if m.group(1) is not None else m.group(2))
    return out


def ir_count(net, op_family: str) -> int:
    from cnndsl import ops
    return sum(ops.get(n.op).family == op_family for n in net.graph.nodes)


def longest_path(dot: str) -> int:
    """Boxes on the longest chain of edges (the number of ranks of a TB drawing)."""
    best: dict[str, int] = {}
    order = list(nodes(dot))
    incoming: dict[str, list[str]] = {n: [] for n in order}
    for s, d, _ in edges(dot):
        incoming[d].append(s)
    for n in order:  # node statements come in topological order
        best[n] = 1 + max((best[s] for s in incoming[n]), default=0)
    return max(best.values())


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


@pytest.fixture(scope="module")
def resnet50():
    return cnndsl.compile(RESNET50)


# ---------------------------------------------------------------- formats
@needs_dot
@pytest.mark.parametrize("name", sorted(NETS))
def test_every_format_is_produced_and_valid(name, tmp_path):
    net = cnndsl.compile(NETS[name])
    written = {ext: net.draw(tmp_path / f"{name}.{ext}") for ext in ("dot", "svg", "png", "mmd")}
    dot = written["dot"].read_text()
    assert dot == net.to_dot()

    root = ET.fromstring(written["svg"].read_bytes())
    assert root.tag.endswith("svg")
    titles = {t.text for t in root.iter("{http://www.w3.org/2000/svg}title")}
    assert set(nodes(dot)) <= titles  # every box is in the picture

    w, h = png_size(written["png"].read_bytes())
    ranks = longest_path(dot)
    assert 50 <= w <= 2000
    assert 30 * ranks <= h <= 200 * ranks + 400  # a column of boxes, plus the legend

    mmd = written["mmd"].read_text()
    assert mmd.splitlines()[1] == "flowchart TB"
    assert mmd.count("subgraph ") == len(re.findall(r"^\s*end$", mmd, re.M))

    check = subprocess.run(["dot", "-Tsvg", str(written["dot"])], capture_output=True)
    assert check.returncode == 0 and check.stderr == b""


@needs_dot
def test_pdf_and_svg_in_notebooks(resnet50, tmp_path):
    assert resnet50.draw(tmp_path / "r.pdf").read_bytes().startswith(b"%PDF")
    svg = resnet50._repr_svg_()
    assert svg is not None and ET.fromstring(svg.encode()).tag.endswith("svg")


def test_mermaid_declares_every_edge_end(resnet50):
    mmd = cdraw.to_mermaid(resnet50, depth=99)
    declared = set(re.findall(r"^\s*(n_\w+)[\[\(]", mmd, re.M))
    ends = re.findall(r"^\s*(n_\w+) -->(?:\|\"[^\"]*\"\|)? (n_\w+)$", mmd, re.M)
    assert len(ends) > 100
    assert {x for e in ends for x in e} <= declared
    assert mmd.count("subgraph ") == len(re.findall(r"^\s*end$", mmd, re.M))


# ---------------------------------------------------------------- levels of detail
def test_resnet50_default_depth_folds_stages(resnet50):
    dot = resnet50.to_dot()
    assert len(nodes(dot)) <= 25
    blocks = [lab for lab in labels(dot) if " x " in lab]
    assert blocks == ["bottleneck(64) x 3", "bottleneck(128) x 4", "bottleneck(256) x 6",
                      "bottleneck(512) x 3"]
    assert "first: bottleneck(128, stride=2)" in dot  # the strided first block is named
    assert "first: + 1x1 conv, 256" in dot  # stage 1's first block projects the shortcut
    assert [e[2] for e in edges(dot) if "bottleneck" in e[0]] == [
        "256x56x56", "512x28x28", "1024x14x14", "2048x7x7"]


def test_depth_zero_is_one_box_per_top_level_call(resnet50):
    dot = resnet50.to_dot(depth=0)
    assert [lab for lab in labels(dot) if lab.startswith("stage")] == [
        "stage(64, 3, stride=1)", "stage(128, 4)", "stage(256, 6)", "stage(512, 3)"]
    assert family_count(dot, "conv") == 1 and family_count(dot, "block") == 4
    assert "bottleneck(128) x 4" in nodes(dot)["stage2"]  # a block that is one run says so


def test_unroll_at_full_depth_draws_every_conv(resnet50):
    dot = resnet50.to_dot(depth=99, unroll=True)
    assert family_count(dot, "conv") == ir_count(resnet50, "conv") == 53
    assert set(nodes(dot)) == {n.name for n in resnet50.graph.nodes} | {"output"}
    assert " x " not in dot


def test_expanded_runs_draw_one_copy_without_loops(resnet50):
    dot = resnet50.to_dot(depth=99)
    clusters = re.findall(r'label="(bottleneck\([^"]*\)(?: x \d+)?)"', dot)
    assert clusters == ["bottleneck(64)", "bottleneck(64) x 2", "bottleneck(128, stride=2)",
                        "bottleneck(128) x 3", "bottleneck(256, stride=2)",
                        "bottleneck(256) x 5", "bottleneck(512, stride=2)",
                        "bottleneck(512) x 2"]
    assert family_count(dot, "conv") == 1 + 4 * (4 + 3)  # stem; first with projection, copy
    into = {}
    for src, dst, _ in edges(dot):
        into.setdefault(dst, []).append(src)
    assert all(len(v) == 2 for k, v in into.items() if k.endswith("add1"))
    assert longest_path(dot) < 12 * 8 + 10  # no arrow goes back from a copy to itself


def test_calls_show_defaults_dropped_and_keywords_named():
    dot = cnndsl.compile(RESNET18).to_dot(depth=2)
    assert 'label="basic(128, stride=2)"' in dot and 'label="basic(64) x 2"' in dot
    assert "basic(64, 1)" not in dot


def test_densenet_layers_fold_although_channels_grow():
    net = cnndsl.compile(DENSENET)
    dot = net.to_dot(depth=0)
    assert re.findall(r"layer\(32\) x (\d+)", dot) == ["6", "12", "24", "16"]
    assert len(nodes(dot)) <= 20
    full = net.to_dot(depth=99, unroll=True)
    assert family_count(full, "conv") == ir_count(net, "conv") == 120


def test_different_calls_never_fold():
    dot = cnndsl.compile(GOOGLENET).to_dot(depth=0)
    assert " x " not in dot
    assert len([lab for lab in labels(dot) if lab.startswith("inc(")]) == 9


def test_first_call_folds_only_when_it_extends_the_others():
    src = ("block b(a, act=relu) = conv(a, 3) - act\nnetwork q:\n    input 3x16x16\n"
           "    b(8, act=gelu) - b(8, act=gelu) - b(8, tanh) - b(8, leaky_relu(0.1))")
    assert [lab for lab in labels(cnndsl.compile(src).to_dot(depth=0)) if "b(" in lab] == [
        "b(8, act=gelu) x 2", "b(8, act=tanh)", "b(8, act=leaky_relu(0.1))"]


def test_parallel_identical_blocks_do_not_fold():
    src = ("block b(c) = conv(c, 3) - relu\nnetwork p:\n    input 8x16x16\n"
           "    concat(b(8) | b(8)) - b(8) - b(8)")
    dot = cnndsl.compile(src).to_dot(depth=0)
    assert labels(dot).count("b(8)") == 2 and "b(8) x 2" in labels(dot)


# ---------------------------------------------------------------- what draw reads
def test_frames_carry_the_kind_and_the_arguments():
    src = RESNET18.replace("gap - fc(classes)", "aux(gap - fc(10)) - gap - fc(classes)")
    frames = {f for n in cnndsl.compile(src).graph.nodes for f in n.scope}
    basic = next(f for f in frames if f.call == "basic(128, 2)")
    assert basic.kind == "block" and basic.arguments == (
        Argument("c", "128", "positional", None), Argument("stride", "2", "positional", "1"))
    stage = next(f for f in frames if f.call == "stage(128, 2)")
    assert stage.arguments[2] == Argument("stride", "2", "default", "2")
    residual = next(f for f in frames if f.block == "residual")
    assert residual.kind == "builtin" and not residual.named
    aux = next(f for f in frames if f.block == "aux")
    assert aux.kind == "builtin" and aux.named and aux.arguments is None
    assert aux.call == "aux(gap - fc(10))"


def test_draw_reads_the_ir_only():
    """One-way layering: the diagrams never import the compiler, and calls are not
    parsed from their text (the frames carry the arguments)."""
    import ast as pyast
    for path in Path(cdraw.__file__).parent.glob("*.py"):
        tree = pyast.parse(path.read_text(encoding="utf-8"))
        imported = [f"{n.module or ''}.{a.name}".split(".") for n in pyast.walk(tree)
                    if isinstance(n, pyast.ImportFrom) for a in n.names]
        imported += [a.name.split(".") for n in pyast.walk(tree) if isinstance(n, pyast.Import)
                     for a in n.names]
        assert not [m for m in imported if {"elaborate", "syntax"} & set(m)], path.name
        if path.name in ("calls.py", "view.py"):
            assert ["re"] not in imported, path.name


def _strip(dot: str) -> str:
    return "\n".join(line for line in dot.splitlines() if "drawn by cnndsl" not in line)


@pytest.mark.parametrize("depth", [0, 2, None])
def test_a_graph_and_its_json_draw_as_the_network(depth):
    net = cnndsl.compile(RESNET18)
    want = _strip(net.to_dot(depth=depth))
    assert _strip(cdraw.to_dot(net.graph, depth=depth)) == want
    assert _strip(cnndsl.from_json(net.to_json()).to_dot(depth=depth)) == want


def test_an_ir_without_call_arguments_draws_the_calls_as_written():
    data = json.loads(cnndsl.compile(RESNET18).to_json())
    for frame in data["frames"]:
        del frame["kind"]
        frame.pop("arguments", None)
    net = cnndsl.from_json(data)
    scope = net.graph.nodes[-3].scope
    assert [(f.kind, f.arguments) for f in scope] == [("block", None), ("block", None)]
    assert {f.kind for n in net.graph.nodes for f in n.scope if not f.named} == {"builtin"}
    assert "basic(128, 2)" in labels(net.to_dot(depth=1))


# ---------------------------------------------------------------- merges and labels
def test_naive_inception_four_branches_into_one_concat():
    net = cnndsl.compile(NAIVE_INCEPTION)
    dot = net.to_dot()
    concat = [n for n, a in nodes(dot).items() if 'label="concat"' in a]
    assert len(concat) == 1
    branches = [s for s, d, _ in edges(dot) if d == concat[0]]
    assert len(branches) == 4
    assert all(("input", b, "") in edges(dot) for b in branches)
    assert [lab for s, _, lab in edges(dot) if s == concat[0]] == ["672x28x28"]
    assert sorted(labels(dot))[:4] == ["1x1 conv, 128", "3x3 conv, 192", "3x3 max pool",
                                       "5x5 conv, 96"]


def test_slide_labels_and_shape_edges():
    dot = cnndsl.compile(VGG16).to_dot()
    labs = labels(dot)
    assert labs.count("3x3 conv, 64") == 2 and labs.count("FC 4096") == 2
    assert "2x2 max pool, /2" in labs and "softmax" in labs
    shown = [lab for _, _, lab in edges(dot) if lab]
    assert shown[:3] == ["64x224x224", "64x112x112", "128x112x112"]
    every = cnndsl.compile(VGG16).to_dot(shapes="all")
    assert all(lab for _, _, lab in edges(every))
    assert not any(lab for s, d, lab in edges(cnndsl.compile(VGG16).to_dot(shapes="none"))
                   if d != "output")


def test_residual_merge_is_a_small_plus_with_a_skip_arc():
    dot = cnndsl.compile(RESNET18).to_dot(depth=99, unroll=True)
    add = nodes(dot)["stage1_basic1_add1"]
    assert 'label="+"' in add and "shape=circle" in add
    assert ("pool1", "stage1_basic1_add1", "64x56x56") in edges(dot)  # identity shortcut


def test_colours_and_legend_follow_families(resnet50):
    dot = resnet50.to_dot(depth=99)
    legend = re.search(r"^\s*legend \[.*$", dot, re.M).group(0)
    for fill, name in (("#9ecae1", "convolution"), ("#fee391", "normalization"),
                       ("#f0f0f0", "merge")):
        assert fill in legend and name in legend
    assert "block (collapsed)" not in legend  # nothing is collapsed at depth 99
    assert all('fillcolor="#9ecae1"' in a for a in nodes(dot).values() if 'class="conv"' in a)
    assert "legend" not in resnet50.to_dot(legend=False)
    assert "rankdir=LR" in resnet50.to_dot(rankdir="lr")


def test_annotations_sum_over_collapsed_blocks(resnet50):
    dot = resnet50.to_dot(depth=0, annotate="params,macs")
    stem = nodes(dot)["conv1"]
    assert "9.41K params" in stem and "118M MACs" in stem  # 64*3*7*7; 112*112 of them
    stage4 = [a for a in nodes(dot).values() if "stage(512, 3)" in a][0]
    total = sum(c.params.total for name, c in resnet50.cost.nodes.items()
                if name.startswith("stage4_"))
    assert total == 14_964_736 and "15M params" in stage4


def test_receptive_field_annotation(resnet50):
    pytest.importorskip("cnndsl.passes.receptive_field")
    dot = resnet50.to_dot(depth=0, annotate=("rf",))
    assert "RF 7" in nodes(dot)["conv1"] and "RF 11" in nodes(dot)["pool1"]


def test_bad_options_are_usage_errors(resnet50):
    for kwargs in ({"annotate": "flops"}, {"rankdir": "up"}, {"depth": -1},
                   {"shapes": "some"}):
        with pytest.raises(UserError) as e:
            resnet50.to_dot(**kwargs)
        assert e.value.exit_code == 2


# ---------------------------------------------------------------- determinism
def test_same_source_twice_gives_identical_text(tmp_path):
    a, b = cnndsl.compile(RESNET50), cnndsl.compile(RESNET50)
    for opts in ({}, {"depth": 99}, {"depth": 0, "annotate": "params,macs"}):
        assert a.to_dot(**opts) == b.to_dot(**opts)
        assert cdraw.to_mermaid(a, **opts) == cdraw.to_mermaid(b, **opts)
    assert a.draw(tmp_path / "1.dot").read_bytes() == b.draw(tmp_path / "2.dot").read_bytes()


def test_identical_across_processes(tmp_path):
    src = tmp_path / "g.cnn"
    src.write_text(GOOGLENET)
    code = ("import sys, cnndsl; sys.stdout.write(cnndsl.compile(sys.argv[1])"
            ".to_dot(depth=99, annotate='params'))")
    outs = set()
    for seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        outs.add(subprocess.run([sys.executable, "-c", code, str(src)], env=env, check=True,
                                capture_output=True).stdout)
    assert len(outs) == 1 and b"inc(64, 96, 128, 16, 32, 32)" in outs.pop()


# ---------------------------------------------------------------- without Graphviz
@pytest.fixture
def no_dot(monkeypatch):
    monkeypatch.setattr(rendering.shutil, "which", lambda name: None)


def test_missing_dot_writes_the_dot_and_explains(no_dot, tmp_path, capsys):
    src = tmp_path / "r.cnn"
    src.write_text(RESNET18)
    out = tmp_path / "img" / "r.png"
    assert main(["draw", str(src), "-o", str(out)]) == 1
    assert not out.exists()
    assert (tmp_path / "img" / "r.dot").read_text() == cnndsl.compile(RESNET18).to_dot()
    err = capsys.readouterr().err
    assert "Graphviz" in err and "apt-get install graphviz" in err and "brew" in err
    assert main(["draw", str(src), "-o", str(tmp_path / "r.mmd")]) == 0  # no dot needed
    assert main(["draw", str(src), "-o", str(tmp_path / "r2.dot")]) == 0


def test_missing_dot_in_the_api(no_dot, tmp_path):
    net = cnndsl.compile(NAIVE_INCEPTION)
    with pytest.raises(UserError, match="not installed"):
        net.draw(tmp_path / "n.svg")
    assert (tmp_path / "n.dot").is_file()
    assert net._repr_svg_() is None


# ---------------------------------------------------------------- CLI
@needs_dot
def test_cli_renders_with_options(tmp_path, capsys):
    src = tmp_path / "r.cnn"
    src.write_text(RESNET50)
    out = tmp_path / "r.svg"
    assert main(["draw", str(src), "-o", str(out), "--depth", "2", "--annotate",
                 "params,macs", "--rankdir", "LR", "--no-legend"]) == 0
    assert f"wrote {out}" in capsys.readouterr().err
    svg = out.read_text()
    ET.fromstring(svg)
    assert "bottleneck(128) x 3" in svg and "legend" not in svg


def test_cli_prints_dot_without_output(tmp_path, capsys):
    src = tmp_path / "r.cnn"
    src.write_text(RESNET50)
    assert main(["draw", str(src), "--unroll", "--depth", "99"]) == 0
    out = capsys.readouterr().out
    assert out == cnndsl.compile(RESNET50).to_dot(depth=99, unroll=True)


def cli(argv: list[str]) -> int:
    """The exit code of ``cnndsl ARGV`` (argparse's usage errors exit by SystemExit)."""
    try:
        return main(argv)
    except SystemExit as e:
        return int(e.code)


@pytest.mark.parametrize("argv", [["--depth", "-1"], ["--depth", "two"],
                                  ["--annotate", "flops"], ["--rankdir", "XY"],
                                  ["--shapes", "few"], ["-o", "net.jpeg"], ["-o", "net"]])
def test_cli_usage_errors(argv, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "n.cnn").write_text(NAIVE_INCEPTION)
    assert cli(["draw", "n.cnn", *argv]) == 2
    assert "error:" in capsys.readouterr().err
    assert not list(tmp_path.glob("net*"))


def test_cli_input_errors(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a relative path: api.read_source takes a missing path
    bad = tmp_path / "bad.cnn"   # with a dash in it for source text
    bad.write_text("input 3x8x8\nconv(4, 9, pad=0)")  # the window is larger than the input
    assert cli(["draw", str(bad), "-o", str(tmp_path / "b.svg")]) == 1
    assert "E0301" in capsys.readouterr().err
    assert cli(["draw", "missing.cnn"]) == 2
    assert not (tmp_path / "b.svg").exists()


# ---------------------------------------------------------------- the zoo
ZOO = ["vgg16", "resnet50", "googlenet", "densenet121"]


@needs_dot
@pytest.mark.parametrize("name", ZOO)
def test_zoo_diagrams(name, tmp_path):
    assert zoo_entry(name) is not None
    net = cnndsl.compile(name)
    for ext in ("dot", "svg", "png", "mmd"):
        assert net.draw(tmp_path / f"{name}.{ext}").stat().st_size > 0
    ET.fromstring((tmp_path / f"{name}.svg").read_bytes())
    w, h = png_size((tmp_path / f"{name}.png").read_bytes())
    assert 0 < w <= 2500 and 0 < h <= 200 * longest_path(net.to_dot()) + 400
    check = subprocess.run(["dot", "-Tsvg", str(tmp_path / f"{name}.dot")],
                           capture_output=True)
    assert check.returncode == 0 and check.stderr == b""
    full = net.to_dot(depth=99, unroll=True)
    assert family_count(full, "conv") == ir_count(net, "conv")
    if name == "resnet50":
        dot = net.to_dot()
        assert len(nodes(dot)) <= 25
        assert re.findall(r" x (\d+)", dot) == ["3", "4", "6", "3"]


def _zoo_names() -> list[str]:
    from cnndsl.commands.zoo import entries
    return [name for name, _ in entries()]


@pytest.mark.parametrize("name", _zoo_names())
def test_every_zoo_network_draws(name):
    net = cnndsl.compile(name)
    dot = net.to_dot()
    assert len(nodes(dot)) <= 50  # the automatic depth keeps drawings small
    assert {s for s, _, _ in edges(dot)} | {d for _, d, _ in edges(dot)} <= set(nodes(dot))
    assert [lab for s, d, lab in edges(dot) if d == "output"] == [str(net.graph.output_type)]
    mmd = cdraw.to_mermaid(net)
    assert mmd.count("subgraph ") == len(re.findall(r"^\s*end$", mmd, re.M))
    if HAS_DOT:
        check = subprocess.run(["dot", "-Tsvg"], input=dot.encode(), capture_output=True)
        assert check.returncode == 0 and check.stderr == b""


def test_docs_mermaid_example_is_current():
    doc = (Path(__file__).resolve().parent.parent / "docs" / "diagrams.md").read_text()
    block = re.search(r"```mermaid\n(.*?)```", doc, re.S).group(1)
    assert block == cdraw.to_mermaid(cnndsl.compile("resnet50"), depth=0)
    assert "![ResNet-50 at the default depth](img/resnet50.svg)" in doc
