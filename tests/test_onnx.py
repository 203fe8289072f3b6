"""ONNX export: a valid model whose output is the softmax of the PyTorch module's logits."""

import pytest

import cnndsl
from cnndsl.cli import main


def test_onnx_export_ends_in_softmax(tmp_path):
    pytest.importorskip("torch")
    onnx = pytest.importorskip("onnx")
    out = tmp_path / "lenet5.onnx"
    assert main(["compile", "lenet5", "-o", str(out)]) == 0
    model = onnx.load(str(out))
    onnx.checker.check_model(model)
    assert model.graph.node[-1].op_type == "Softmax"
    dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert dims[1:] == [1, 32, 32]
    n_conv = sum(node.op_type == "Conv" for node in model.graph.node)
    assert n_conv == sum(n.op == "conv" for n in cnndsl.compile("lenet5").graph.nodes)


def test_onnx_needs_an_output_file(capsys):
    assert main(["compile", "lenet5", "--emit", "onnx"]) == 2
