"""The CoordConv plugin: its operator in every cnndsl pass, its module, its weights.

Run with the plugin installed (``pip install -e examples/plugin_coordconv``) or from
cnndsl's checkout: ``pytest examples/plugin_coordconv/tests`` (the package folder is put
on sys.path here when it is not installed).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

try:
    import cnndsl_coordconv  # noqa: F401
except ImportError:  # run from a checkout, not installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cnndsl_coordconv.modules import CoordConv, add_coords  # noqa: E402
from cnndsl_coordconv.op import COORDCONV, operators  # noqa: E402

import cnndsl  # noqa: E402
from cnndsl import plugins  # noqa: E402

SOURCE = "input 1x8x8\ncoordconv(8, 3) - relu - coordconv(4, 3, stride=2) - gap - fc(10)"


@pytest.fixture
def op():
    """The operator registered for one test (unless the installed plugin already is)."""
    with plugins.registered(COORDCONV, plugin="test"):
        yield cnndsl.ops.lookup("coordconv")


def test_the_entry_point_gives_the_operator():
    assert operators() == [COORDCONV]


def test_coordinates_run_from_minus_one_to_one():
    x = torch.zeros(2, 3, 4, 5)
    y = add_coords(x)
    assert y.shape == (2, 5, 4, 5)
    assert torch.equal(y[0, 3, 0], torch.linspace(-1, 1, 5))  # x along a row
    assert torch.equal(y[1, 4, :, 2], torch.linspace(-1, 1, 4))  # y down a column


def test_shapes_costs_and_receptive_fields_by_hand(op):
    net = cnndsl.compile(SOURCE)
    s = {r.name: r for r in net.summary().layers}
    # 8 filters of (1 + 2) x 3 x 3, and 8 biases; MACs: 8x8x8 outputs x 27
    assert (s["coordconv1"].params, s["coordconv1"].macs) == (8 * 27 + 8, 512 * 27)
    assert (s["coordconv2"].params, s["coordconv2"].macs) == (4 * 90 + 4, 64 * 90)
    assert s["coordconv2"].output == (4, 4, 4)
    assert str(s["coordconv1"].receptive_field) == "3"
    assert str(s["coordconv2"].receptive_field) == "5"  # the conv's window, stride 2
    assert s["coordconv2"].label == "3x3 coordconv, 4, /2"


def test_shape_errors_are_diagnostics(op):
    with pytest.raises(cnndsl.CnnError) as e:
        cnndsl.compile("input 1x8x8\ncoordconv(8, 11, pad=0)")
    assert [d.code for d in e.value.diagnostics] == ["E0301"]
    with pytest.raises(cnndsl.CnnError) as e:
        cnndsl.compile("input 1x8x8\ncoordconv(8, 4, pad='same')")
    assert [d.code for d in e.value.diagnostics] == ["E0305"]


def test_emitted_code_imports_the_module_and_matches_the_counts(op):
    net = cnndsl.compile(SOURCE)
    text = net.to_python()
    assert "from cnndsl_coordconv.modules import CoordConv" in text
    assert "CoordConv(1, 8, kernel_size=3, padding=1)" in text
    model = net.to_torch()
    assert sum(p.numel() for p in model.parameters()) == net.params_count
    assert model(torch.randn(2, 1, 8, 8)).shape == (2, 10)


def test_weights_port_from_a_reference_implementation(op):
    class AddCoords(torch.nn.Module):
        def forward(self, x):
            return add_coords(x)

    ref = torch.nn.Sequential(AddCoords(), torch.nn.Conv2d(3, 8, 3, padding=1))
    net = cnndsl.compile("input 1x8x8\ncoordconv(8, 3)")
    model = net.to_torch().eval()
    pairs = cnndsl.port_weights(ref, model)
    assert pairs == [("1.weight", "coordconv1.conv.weight"), ("1.bias", "coordconv1.conv.bias")]
    x = torch.randn(2, 1, 8, 8)
    assert torch.allclose(ref(x), model(x), atol=1e-6)


def test_the_module_alone():
    m = CoordConv(3, 4, 3, padding=1)
    assert m(torch.randn(1, 3, 6, 7)).shape == (1, 4, 6, 7)
    assert m.conv.weight.shape == (4, 5, 3, 3)


def test_a_model_holding_coordconv_imports(op):
    """The operator reads its module back (``torch_classes``, ``from_torch``): a model
    with a CoordConv imports to coordconv, its weights as they are."""
    from cnndsl.importer.torch_check import self_check
    from cnndsl.importer.torch_trace import import_module

    model = torch.nn.Sequential(CoordConv(1, 8, 3, padding=1), torch.nn.ReLU(),
                                CoordConv(8, 4, 3, stride=2, bias=False))
    imported = import_module(model, (1, 8, 8))
    assert imported.unsupported == []
    assert [(n.op, n.path, str(n.type)) for n in imported.graph][1:] == [
        ("coordconv", "0", "8x8x8"), ("relu", "1", "8x8x8"), ("coordconv", "2", "4x3x3")]
    assert dict(imported.graph["2"].attrs)["bias"] is False
    assert [tuple(t.shape) for t in imported.weights["0"]] == [(8, 3, 3, 3), (8,)]
    assert self_check(model, imported) < 1e-6
