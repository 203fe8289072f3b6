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


def test_onnx_export_keeps_every_operator(tmp_path):
    """The file is the program: batch norms stay (the TorchScript exporter folds them into
    the convs before them in eval mode unless training=PRESERVE), dropout and drop path
    are nodes (identities at inference: ONNX Dropout and the file's cnndsl.DropPath),
    LRN is one node, a channel shuffle the Reshape-Transpose-Reshape; onnxruntime
    computes the softmax of the module's logits, and the module is left as it was."""
    from collections import Counter

    torch = pytest.importorskip("torch")
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from cnndsl.backends.onnx_export import export_onnx

    net = cnndsl.compile("input 3x16x16\nconv(8) - bn - relu - lrn(3) - dropout(0.2) - "
                         "add(id | conv(8) - droppath(0.1)) - shuffle(2) - gap - fc(10)")
    model = net.to_torch().train()
    with torch.no_grad():
        bn = model.get_submodule(net.module_paths()["bn1"])
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.5, 1.5)
    out = tmp_path / "net.onnx"
    export_onnx(net, out, model=model)
    proto = onnx.load(str(out))
    onnx.checker.check_model(proto)
    kinds = Counter(n.op_type for n in proto.graph.node)
    assert kinds["BatchNormalization"] == kinds["Dropout"] == kinds["DropPath"] == 1
    assert kinds["LRN"] == 1 and kinds["Conv"] == 2 and kinds["Transpose"] == 1
    assert [f.name for f in proto.functions] == ["DropPath"]
    assert model.training and all("forward" not in vars(m) for m in model.modules())
    x = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        want = torch.softmax(model.eval()(x), 1).numpy()
    got = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(
        None, {"input": x.numpy()})[0]
    assert abs(got - want).max() <= 1e-5 * abs(want).max()
