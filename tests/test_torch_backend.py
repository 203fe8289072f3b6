"""The emitted PyTorch module computes exactly the shapes and counts the compiler predicts."""

import subprocess
import sys
from pathlib import Path

import pytest

import cnndsl
from cnndsl.api import ZOO_DIR

from .conftest import needs_torch
from .torch_oracle import module_params, observed_shapes

ZOO = sorted(p.stem for p in ZOO_DIR.glob("*.cnn"))
# Networks too heavy for a quick CPU forward pass (and module build) run under -m slow.
HEAVY_MACS = 5e9
HEAVY_NODES = 1500


def _zoo_case(name):
    net = cnndsl.compile(name)
    heavy = net.cost.macs > HEAVY_MACS or len(net.graph) > HEAVY_NODES
    marks = [pytest.mark.slow] if heavy else []
    return pytest.param(name, marks=marks, id=name)


@needs_torch
@pytest.mark.parametrize("name", [_zoo_case(n) for n in ZOO])
def test_zoo_network_shapes_and_params_match_the_module(name):
    net = cnndsl.compile(name)
    seen = observed_shapes(net, batch=1)
    checked = 0
    for node in net.graph.nodes:
        if node.path in seen:
            assert seen[node.path] == node.type.dims, node.name
            checked += 1
    assert checked >= sum(n.op in ("conv", "fc") for n in net.graph.nodes)
    assert seen["<output>"] == (1,) + net.output_shape
    assert module_params(net) == net.params_count


@needs_torch
def test_general_form_module_maps_batch_to_classes():
    import torch
    net = cnndsl.compile("[(CONV-RELU)*N-POOL?]*M-(FC-RELU)*K,SOFTMAX",
                         params={"N": 2, "M": 3, "K": 1}, input="3x32x32")
    y = net.to_torch()(torch.randn(4, 3, 32, 32))
    assert tuple(y.shape) == (4, 10)


@needs_torch
def test_generated_file_is_standalone(tmp_path):
    net = cnndsl.compile("resnet18")
    src = net.to_python()
    assert not any(ln.startswith(("import cnndsl", "from cnndsl")) for ln in src.splitlines())
    assert "zoo/lib/resnet.cnn:" in src  # spans of imported blocks, named portably
    assert "import torch" in src and "# 64x56x56" in src and "zoo/resnet18.cnn:" in src
    f = tmp_path / "model.py"
    f.write_text(src)
    code = ("import sys, importlib.util; sys.modules.pop('cnndsl', None)\n"
            "spec = importlib.util.spec_from_file_location('m', sys.argv[1])\n"
            "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
            "model = m.build(); print(sum(p.numel() for p in model.parameters()))\n"
            "assert not any(k.startswith('cnndsl') for k in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code, str(f)], capture_output=True, text=True,
                       cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert int(r.stdout.strip()) == 11_689_512


@needs_torch
def test_names_come_from_the_source_scopes():
    src = """
block basic(c, stride=1) = residual(conv(c, 3, stride) - bn - relu - conv(c, 3) - bn) - relu
network tiny:
    input 3x16x16
    basic(8, 2) - basic(8) - gap - fc(4)
"""
    net = cnndsl.compile(src)
    model = net.to_torch()
    names = dict(model.named_modules())
    assert "basic1.conv1" in names and "basic1.downsample1" in names and "basic2.conv2" in names
    text = net.to_python()
    assert "class Basic(nn.Module)" in text and "self.basic1 = Basic" in text


def test_static_commands_import_no_heavy_package():
    # check, summary, compile to source, draw to .dot/.mmd text, zoo and ops need none of
    # torch, numpy, matplotlib, graphviz (the Python package) or PIL
    code = ("import sys; from cnndsl.cli import main\n"
            "rc = main(['check', 'vgg16']); main(['summary', 'vgg16', '--format', 'json'])\n"
            "main(['compile', 'vgg16', '-o', sys.argv[1]])\n"
            "main(['draw', 'resnet18', '-o', sys.argv[1] + '.dot'])\n"
            "main(['zoo', 'list']); main(['ops'])\n"
            "heavy = [m for m in ('torch', 'numpy', 'matplotlib', 'graphviz', 'PIL')\n"
            "         if m in sys.modules]\n"
            "assert not heavy, f'imported: {heavy}'; sys.exit(rc)")
    out = Path(__file__).parent / ".tmp_model.py"
    try:
        r = subprocess.run([sys.executable, "-c", code, str(out)], capture_output=True,
                           text=True)
    finally:
        out.unlink(missing_ok=True)
        out.with_name(out.name + ".dot").unlink(missing_ok=True)
    assert r.returncode == 0, r.stderr


def test_compile_command_writes_the_file(tmp_path, capsys):
    from cnndsl.cli import main
    out = tmp_path / "lenet.py"
    assert main(["compile", "lenet5", "-o", str(out)]) == 0
    text = out.read_text()
    assert "class Lenet5(nn.Module)" in text and "INPUT_SHAPE = (1, 32, 32)" in text
    assert main(["compile", "lenet5", "-o", str(tmp_path / "ir.json")]) == 0
    import json
    assert json.loads((tmp_path / "ir.json").read_text())["name"] == "lenet5"
