"""User passes (cnndsl.passes): the examples/passes rewrites and analysis, from Python
and from `--pass` on the command line, and the diagnostics of broken ones."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
from pathlib import Path

import pytest

import cnndsl
from cnndsl import passes
from cnndsl.cli import main
from cnndsl.ir.graph import Graph

from .conftest import needs_torch

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "passes"
RELU = f"{EXAMPLES / 'relu_to_gelu.py'}:relu_to_gelu"
FOLD = f"{EXAMPLES / 'fold_bn.py'}:fold_bn"
INTENSITY = f"{EXAMPLES / 'arithmetic_intensity.py'}:arithmetic_intensity"
# conv1 (no bias) -> bn1 is folded; conv2 (bias) -> bn2 too; bn3 follows an add: kept
SOURCE = """input 3x16x16
conv(8, 3, bias=false) - bn - relu
residual(conv(8, 3) - bn - relu - conv(8, 3, bias=false)) - bn - relu
gap - fc(10)
"""


def _example(name: str):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def net_file(tmp_path) -> Path:
    p = tmp_path / "net.cnn"
    p.write_text(SOURCE)
    return p


def _ops(net) -> list[str]:
    return [n.op for n in net.graph]


# ---------------------------------------------------------------- from Python
def test_relu_to_gelu_from_python_leaves_the_original_alone():
    net = cnndsl.compile(SOURCE)
    out = passes.run(net, [_example("relu_to_gelu").relu_to_gelu])
    assert "relu" not in _ops(out) and _ops(out).count("gelu") == 3
    assert _ops(net).count("relu") == 3 and out is not net
    assert out.params_count == net.params_count and out.output_shape == (10,)
    assert out.to_python().count("nn.GELU()") == 3


def test_fold_bn_from_python_counts_by_hand():
    net = cnndsl.compile(SOURCE)
    out = passes.run(net, [_example("fold_bn").fold_bn])
    assert _ops(out).count("bn") == 1  # bn3 reads the residual add, not a conv
    assert out.graph["conv1"].attr_map["bias"] is True and out.graph["conv2"].attr_map["bias"] is True
    assert out.graph["relu1"].inputs == ("conv1",)
    # conv1 8*3*9 + conv2 8*8*9+8 + conv3 8*8*9, three BNs of 16, fc 8*10+10
    assert net.params_count == 216 + 584 + 576 + 3 * 16 + 90 == 1514
    # folded: conv1 and conv2 with biases, bn1 and bn2 gone
    assert out.params_count == 224 + 584 + 576 + 16 + 90 == 1490
    assert out.summary().buffers == 16 and net.summary().buffers == 48


@needs_torch
def test_folded_weights_compute_what_the_trained_network_computes():
    import torch
    fold = _example("fold_bn")
    net = cnndsl.compile(SOURCE)
    folded = passes.run(net, [fold.fold_bn])
    model = net.to_torch()
    for m in model.modules():  # statistics as training would leave them
        if isinstance(m, torch.nn.BatchNorm2d):
            for t in (m.running_mean, m.weight, m.bias):
                t.data.uniform_(-1, 1)
            m.running_var.data.uniform_(0.5, 2)
    model.eval()
    small = folded.to_torch().eval()
    small.load_state_dict(fold.fold_weights(model, net, folded))
    x = torch.randn(2, 3, 16, 16)
    assert torch.allclose(model(x), small(x), atol=1e-5)


def test_the_analysis_gives_a_column_of_values():
    net = cnndsl.compile(SOURCE)
    cols = passes.analyze(net, [_example("arithmetic_intensity").arithmetic_intensity])
    values = cols["MACs/elem"]
    c = net.cost.nodes["conv1"]
    # 8x16x16 outputs x 27 MACs, over 216 weights + 2,048 outputs
    assert values["conv1"] == c.macs / (c.params.total + c.activations) == 55296 / (216 + 2048)
    assert "relu1" not in values


def test_run_and_analyze_refuse_the_other_kind():
    net = cnndsl.compile(SOURCE)
    with pytest.raises(TypeError, match="is an analysis"):
        passes.run(net, [_example("arithmetic_intensity").arithmetic_intensity])
    with pytest.raises(TypeError, match="is a rewrite"):
        passes.analyze(net, [_example("fold_bn").fold_bn])


# ---------------------------------------------------------------- broken rewrites
def _widen(graph: Graph) -> Graph:
    """conv3 (the residual body's last conv) made 16 wide: the add gets 16 and 8."""
    nodes = [dataclasses.replace(n, attrs=tuple((k, 16 if k == "out" else v)
                                                for k, v in n.attrs))
             if n.name == "conv3" else n for n in graph.nodes]
    return dataclasses.replace(graph, nodes=tuple(nodes))


def _codes(e: pytest.ExceptionInfo) -> list[str]:
    return [d.code for d in e.value.diagnostics]


def test_a_rewrite_that_breaks_shapes_is_a_diagnostic_naming_it():
    with pytest.raises(cnndsl.CnnError) as e:
        passes.run(cnndsl.compile(SOURCE), [_widen])
    d = e.value.diagnostics[0]
    assert d.code == "E0903" and "after pass `_widen`: add1 (add)" in d.message
    assert d.span is not None and d.span.line == 3  # the residual's line


@pytest.mark.parametrize("bad, code, text", [
    (lambda g: None, "E0901", "returned a NoneType, not a Graph"),
    (lambda g: 1 / 0, "E0901", "raised ZeroDivisionError"),
    (lambda g: dataclasses.replace(g, nodes=g.nodes[:1] + g.nodes[2:]), "E0902",
     "bn1 uses conv1, which is not a node"),
    (lambda g: dataclasses.replace(g, nodes=tuple(dataclasses.replace(n, op="nosuch")
                                                  if n.name == "relu1" else n
                                                  for n in g.nodes)), "E0902",
     "operator `nosuch` is not registered"),
    (lambda g: dataclasses.replace(g, nodes=tuple(dataclasses.replace(n, attrs=())
                                                  if n.name == "conv1" else n
                                                  for n in g.nodes)), "E0902",
     "conv needs the attribute `out`"),
])
def test_malformed_results_are_diagnostics(bad, code, text):
    with pytest.raises(cnndsl.CnnError) as e:
        passes.run(cnndsl.compile(SOURCE), [bad])
    assert _codes(e) == [code] and text in e.value.diagnostics[0].message


def test_attributes_left_out_take_their_defaults_and_types_are_reinferred():
    def to_bn(graph):  # relu1 -> a bn with no attributes given; conv1 widened to 8 (same)
        return dataclasses.replace(graph, nodes=tuple(
            dataclasses.replace(n, op="bn", attrs=()) if n.name == "relu1" else n
            for n in graph.nodes))
    out = passes.run(cnndsl.compile(SOURCE), [to_bn])
    assert out.graph["relu1"].attr_map == {"eps": 1e-5, "momentum": 0.1, "affine": True}


# ---------------------------------------------------------------- command line
def test_rewrites_from_the_command_line(net_file, tmp_path, capsys):
    assert main(["check", str(net_file), "--pass", RELU, "--pass", FOLD, "--dump-ir"]) == 0
    out = capsys.readouterr().out
    assert "relu(" not in out and "gelu(" in out and out.count("= bn(") == 1
    assert "1,490 parameters" in out
    assert main(["compile", str(net_file), "--pass", FOLD, "-o", str(tmp_path / "n.py")]) == 0
    assert (tmp_path / "n.py").read_text().count("nn.BatchNorm2d") == 1
    assert main(["draw", str(net_file), "--pass", RELU, "-o", str(tmp_path / "n.dot")]) == 0
    assert "gelu" in (tmp_path / "n.dot").read_text()
    assert main(["summary", str(net_file), "--pass", FOLD, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["totals"]["params"] == 1490


def test_an_analysis_is_a_summary_column(net_file, capsys):
    assert main(["summary", str(net_file), "--pass", INTENSITY]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split()[-1] == "MACs/elem" and len(set(map(len, lines[1:3]))) == 1
    conv1 = next(ln for ln in lines if ln.startswith("conv1 "))
    assert conv1.split()[-1] == f"{55296 / 2264:.4g}"
    assert main(["summary", str(net_file), "--pass", INTENSITY, "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["columns"] == ["MACs/elem"]
    layers = {r["name"]: r for r in data["layers"]}
    assert layers["conv1"]["columns"] == {"MACs/elem": 55296 / 2264}
    assert layers["relu1"]["columns"] == {"MACs/elem": None}
    for fmt in ("csv", "markdown"):
        assert main(["summary", str(net_file), "--pass", INTENSITY, "--format", fmt]) == 0
        assert "MACs/elem" in capsys.readouterr().out


def test_a_pass_that_breaks_shapes_exits_1(net_file, tmp_path, capsys):
    (tmp_path / "widen.py").write_text(
        "import dataclasses\n"
        "def widen(graph):\n"
        "    nodes = [dataclasses.replace(n, attrs=tuple((k, 16 if k == 'out' else v)\n"
        "             for k, v in n.attrs)) if n.name == 'conv3' else n for n in graph.nodes]\n"
        "    return dataclasses.replace(graph, nodes=tuple(nodes))\n")
    assert main(["summary", str(net_file), "--pass", f"{tmp_path / 'widen.py'}:widen"]) == 1
    err = capsys.readouterr().err
    assert "error[E0903]: after pass `widen`: add1 (add)" in err
    assert "net.cnn:3:" in err


@pytest.mark.parametrize("spec, text", [
    ("no_such_module_xyz:f", "cannot import no_such_module_xyz: ModuleNotFoundError"),
    ("nowhere/missing.py:f", "no such file: nowhere/missing.py"),
    ("json:no_such_function", "json has no `no_such_function`"),
    ("json", "expected MODULE:FUNCTION or FILE.py:FUNCTION"),
    ("json:__name__", "is a function, @rewrite or @analysis, got str"),
])
def test_a_pass_that_cannot_be_imported_exits_2(net_file, spec, text, capsys):
    assert main(["check", str(net_file), "--pass", spec]) == 2
    assert text in capsys.readouterr().err


def test_an_analysis_is_refused_where_nothing_shows_it(net_file, capsys):
    assert main(["check", str(net_file), "--pass", INTENSITY]) == 2
    assert "only `cnndsl summary` shows analyses" in capsys.readouterr().err


def test_a_module_pass_is_found_from_the_current_folder(net_file, tmp_path, monkeypatch,
                                                        capsys):
    (tmp_path / "my_passes.py").write_text(
        "from cnndsl.passes import analysis\n"
        "@analysis('depth')\n"
        "def depth(net):\n"
        "    return {n.name: i for i, n in enumerate(net.graph)}\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delitem(__import__("sys").modules, "my_passes", raising=False)
    assert main(["summary", "net.cnn", "--pass", "my_passes:depth", "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines()[2].endswith(",1")  # conv1's row


def test_a_rewrite_whose_attrs_are_not_pairs_is_malformed(tmp_path):
    import dataclasses

    from cnndsl import passes

    def junk(graph):
        return dataclasses.replace(graph, nodes=tuple(
            dataclasses.replace(n, attrs="junk") if n.op == "conv" else n for n in graph.nodes))

    net = cnndsl.compile("input 1x8x8\nconv(4) - gap - fc(2)")
    with pytest.raises(cnndsl.CnnError) as e:
        passes.run(net, [junk])
    assert e.value.diagnostics[0].code == "E0902"
    assert "its attrs are not (name, value) pairs" in e.value.diagnostics[0].message
