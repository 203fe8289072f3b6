"""The ONNX front end (cnndsl.importer.onnx_read): cnndsl's own export read back is the
program's graph again, and computes what onnxruntime computes from the file; ONNX
graphs written by hand check the operators exporters write in more than one way, what
the importer refuses, and how.

Zoo networks: a dozen small ones covering every operator family here; every network
and preset with ``-m slow``. Each is exported from a module whose batch norms have
random statistics (a fresh module's would hide a mix-up of the four tensors).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import cnndsl
from cnndsl.diagnostics import UserError
from cnndsl.importer.common import Unsupported
from cnndsl.ir.canon import canonical, first_difference
from cnndsl.ir.graph import Graph

onnx = pytest.importorskip("onnx")
torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from cnndsl.backends.onnx_export import export_onnx  # noqa: E402
from cnndsl.importer.onnx_check import REL_TOL, check_onnx, param_count  # noqa: E402
from cnndsl.importer.onnx_read import import_onnx  # noqa: E402

SMALL = 32  # input side where a network pools globally before its classifier


# ---------------------------------------------------------------- helpers
def logits(graph: Graph) -> Graph:
    """The graph without its classifier's softmax (head=True): the module returns the
    logits either way, so the exported file cannot tell them apart (the import leaves
    the file's Softmax out, with a note)."""
    last = graph[graph.output]
    if last.op != "softmax" or not dict(last.attrs).get("head"):
        return graph
    return dataclasses.replace(graph, nodes=tuple(n for n in graph.nodes if n is not last),
                               output=last.inputs[0])


def small_input(name: str, sets: dict | None = None, side: int = SMALL) -> cnndsl.Network:
    """The network at ``side`` x ``side`` where it allows it (same output, no warning,
    adaptive pools still dividing their input: the exporter's condition), else as is."""
    net = cnndsl.compile(name, bindings=sets)
    c, *hw = net.input_shape
    if not hw or hw[0] <= side:
        return net
    try:
        small = cnndsl.compile(name, bindings=sets, input=f"{c}x{side}x{side}")
    except cnndsl.CnnError:
        return net
    fits = all(small.graph[n.inputs[0]].type.dims[1] % dict(n.attrs)["size"][0] == 0
               for n in small.graph if n.op == "adaptiveavgpool")
    quiet = not [d for d in small.diagnostics if d.severity != "note"]
    return small if fits and quiet and small.output_shape == net.output_shape else net


def randomized(net: cnndsl.Network):
    """The network's module (seeded: a check that passes passes every time) with random
    batch-norm statistics and norm parameters."""
    torch.manual_seed(0)
    model = net.to_torch().eval()
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.running_mean.copy_(torch.rand(m.num_features, generator=g) * 0.2 - 0.1)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            if isinstance(m, (torch.nn.modules.batchnorm._BatchNorm, torch.nn.GroupNorm,
                              torch.nn.LayerNorm, torch.nn.PReLU)) or \
                    type(m).__name__ in ("LayerNorm2d", "PositionBias"):
                for p in m.parameters(recurse=False):
                    p.copy_(torch.rand(p.shape, generator=g) + 0.5)
    return model


def round_trip(net: cnndsl.Network, tmp_path, opset: int = 17):
    """Export (``compile --emit onnx``'s path), import; the graph and outputs must agree."""
    path = tmp_path / f"{net.name}.onnx"
    export_onnx(net, path, opset=opset, model=randomized(net))
    imported = import_onnx(path)
    assert imported.unsupported == []
    assert first_difference(imported.graph, logits(net.graph)) is None
    assert param_count(imported) == net.params_count
    err = check_onnx(path, imported)
    assert err <= REL_TOL, err
    return imported


def model(nodes, inputs, outputs, inits=(), opset=17, **kw):
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], **kw)
    m.ir_version = 8
    return m


def tensor(name, shape, seed=0):
    data = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    return numpy_helper.from_array(data, name)


def ints(name, values):
    return numpy_helper.from_array(np.array(values, dtype=np.int64), name)


def image(name="x", shape=("N", 4, 8, 8)):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape))


def out(*dims, name="y"):
    """A graph output of batch N and these dims (the checker wants a shape there)."""
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, ["N", *dims])


def ops(imported):
    return [(n.op, dict(n.attrs)) for n in imported.graph.nodes[1:]]


# ---------------------------------------------------------------- the zoo
# Small networks, or small members of zoo families, covering the language's operators as
# the export writes them: tanh and average pools, the dropped softmax (lenet5); batch norm
# and option-A shortcuts (Slice, Pad: resnet20); a functional pad before a conv, dropout
# (mnist_task); GELU as erf, a max pool over the whole map, fc without bias as MatMul, a
# constant scale (airbench94); a position bias (alphago_policy); fire modules
# (squeezenet); channel shuffle and slices (shufflenet_v2); hard swish, SE gates
# (mobilenet_v3); SiLU, drop path, adaptive pools (efficientnet); layer norm over
# channels, layer scale (convnext).
DEFAULT = {
    "lenet5": None, "resnet20": {"n": 1}, "mnist_task": None, "nin": None,
    "airbench94": {"w1": 16, "w2": 32, "w3": 32}, "alphago_policy": {"k": 16},
    "squeezenet1_1": {"classes": 10},
    "shufflenet_v2": {"c2": 16, "c3": 32, "c4": 64, "c5": 64, "classes": 10},
    "mobilenet_v3": {"large": 0, "width": 0.25, "classes": 10},
    "efficientnet": {"width": 0.25, "depth": 0.1, "classes": 10},
    "convnext": {"c1": 16, "c2": 32, "c3": 32, "c4": 64, "d3": 1, "classes": 10},
}
# regnet_y_128gf's 645M parameters do not fit one protobuf (2 GB): torch.onnx refuses it.
TOO_LARGE = {"regnet_y_128gf"}


@pytest.mark.parametrize("name", sorted(DEFAULT))
def test_zoo_round_trip(name, tmp_path):
    round_trip(small_input(name, DEFAULT[name]), tmp_path)


def _zoo_names():
    from cnndsl.commands.zoo import entries
    return sorted(dict(entries()))


@pytest.mark.slow
@pytest.mark.parametrize("name", _zoo_names())
def test_every_zoo_network_round_trips(name, tmp_path):
    if name in TOO_LARGE:
        pytest.skip("over protobuf's 2 GB: torch.onnx cannot write it in one file")
    round_trip(small_input(name, side=64), tmp_path)


OPERATORS = [  # the operators no small zoo network has
    "input 3x8x8\ngroupnorm(3) - conv(4) - upsample(2, bilinear) - upsample(3) - "
    "deconv(4) - prelu - elu - leakyrelu(0.2) - hardswish - hardsigmoid - "
    "groupsoftmax(2) - zeropad(0x1x2x0) - gmp - layernorm - bn - fc(3)",
    "input 3x8x8\nadaptiveavgpool(8) - conv(4, 2, pad=same) - lrn(3) - avgpool(3, 1, "
    "pad=1, count_include_pad=false) - maxpool(3, 2, pad=1, ceil_mode=true) - mean(id | relu | sigmoid) - add(id | conv(4, 1) | conv(4, 1) - tanh) - "
    "conv(8, 3, dilation=2, groups=2) - mul(id | gap - fc(8) - sigmoid) - "
    "dropout(0.25) - flatten - fc(6) - relu6 - softmax",
    "block two(c) = concat(conv(c, 1) | conv(c, 3))\n"
    "network nested:\n    input 3x8x8\n    concat(two(4) | conv(4, 1)) - "
    "concat(slice(0, 4) - relu | slice(4, 12)) - shortcut_pad(16, 2) - droppath(0.3) - "
    "scale(0.5) - gap - fc(10)",
]


@pytest.mark.parametrize("text", OPERATORS, ids=["norms-resize", "windows-merges", "blocks"])
def test_every_operator_round_trips(text, tmp_path):
    round_trip(cnndsl.compile(text), tmp_path)


@pytest.mark.parametrize("opset", [11, 13, 20])
def test_other_opsets(opset, tmp_path):
    """Before 17 the exporter writes layer norm out (ReduceMean, Sub, Pow ...); before 14
    hard swish as x * HardSigmoid(x); before 12 Dropout takes its ratio as an attribute;
    from 20 GELU is one node."""
    net = cnndsl.compile("input 3x8x8\nconv(8) - layernorm - hardswish - dropout(0.2) - "
                         "gelu - mul(id | gap - fc(8) - hardsigmoid) - gap - layernorm - fc(4)")
    round_trip(net, tmp_path, opset)


def test_module_paths_are_the_programs(tmp_path):
    """Every node that owns a module gets the module's path (what the writer makes
    blocks of); a node a block computes in its forward gets the block's path and its
    operator (``layer1.basic1.add``)."""
    net = small_input("resnet", {"n1": 1, "n2": 1, "n3": 1, "n4": 1, "width": 16})
    imported = import_onnx(_export(net, tmp_path))
    _, ours = canonical(imported.graph)
    _, theirs = canonical(logits(net.graph))
    modules = net.module_paths()
    assert [a.path for a, b in zip(ours, theirs) if b.name in modules] == \
        [b.path for b in theirs if b.name in modules]
    adds = [a.path for a in ours if a.op == "add"]
    assert adds == [f"layer{k}.basic1.add" for k in (1, 2, 3, 4)]


def _export(net, tmp_path):
    path = tmp_path / "net.onnx"
    export_onnx(net, path)
    return path


def test_the_dropped_softmax_is_said(tmp_path):
    imported = import_onnx(_export(cnndsl.compile("lenet5"), tmp_path))
    assert imported.graph.nodes[-1].op == "fc" and imported.graph.num_classes == 10
    assert any("Softmax" in n and "logits" in n for n in imported.notes)
    assert imported.classes == {}
    assert [len(w) for w in imported.weights.values()] == [2, 2, 2, 2, 2]


# ---------------------------------------------------------------- hand-written graphs
def test_asymmetric_and_same_pads():
    """pads are (top, left, bottom, right) in ONNX, (top, bottom, left, right) in the
    language; SAME_UPPER puts the odd pixel after, as the language's 'same'."""
    m = model([helper.make_node("Conv", ["x", "w1"], ["h"], pads=[0, 1, 2, 3]),
               helper.make_node("Conv", ["h", "w2", "b2"], ["y"], auto_pad="SAME_UPPER")],
              [image()], [out(5, 8, 10)], [tensor("w1", (6, 4, 3, 3)), tensor("w2", (5, 6, 2, 2), 1),
                                   tensor("b2", (5,), 2)])
    imported = import_onnx(m)
    (op1, a1), (op2, a2) = ops(imported)
    assert (op1, a1["pad"], a1["bias"]) == ("conv", (0, 2, 1, 3), False)
    assert (op2, a2["pad"], a2["bias"]) == ("conv", (0, 1, 0, 1), True)
    assert str(imported.graph.output_type) == "5x8x10"
    assert check_onnx(m, imported) <= REL_TOL


@pytest.mark.parametrize("opset", [6, 11])
def test_clip_zero_six_is_relu6(opset):
    if opset == 6:
        clip = helper.make_node("Clip", ["x"], ["y"], min=0.0, max=6.0)
        inits = []
    else:
        clip = helper.make_node("Clip", ["x", "lo", "hi"], ["y"])
        inits = [numpy_helper.from_array(np.array(v, np.float32), k)
                 for k, v in (("lo", 0.0), ("hi", 6.0))]
    m = model([clip], [image()], [out(4, 8, 8)], inits, opset=opset)
    imported = import_onnx(m)
    assert ops(imported) == [("relu6", {})]
    assert check_onnx(m, imported) <= REL_TOL


def test_other_clips_are_not_relu6():
    m = model([helper.make_node("Relu", ["x"], ["h"], name="/act/Relu"),
               helper.make_node("Clip", ["h"], ["y"], name="/act2/Clip", min=-1.0, max=1.0)],
              [image()], [out(4, 8, 8)], opset=6)
    imported = import_onnx(m)
    assert imported.unsupported == [Unsupported("Clip to [-1.0, 1.0]", "act2", 1)]
    assert ops(imported) == [("relu", {})]


def test_channel_shuffle_as_torchvision_writes_it():
    """view(b, g, c/g, h, w) with b, c, h, w read by Shape and Gather, transpose(1, 2),
    view(b, c, h, w): the sizes are read for their values, not reported."""
    nodes = [helper.make_node("Relu", ["x0"], ["x"], name="/stage/relu/Relu"),
             helper.make_node("Shape", ["x"], ["s"])]
    inits = []
    for k in range(4):
        inits.append(ints(f"i{k}", k))
        nodes.append(helper.make_node("Gather", ["s", f"i{k}"], [f"d{k}"], axis=0))
        nodes.append(helper.make_node("Unsqueeze", [f"d{k}", "zero"], [f"u{k}"]))
    inits += [ints("zero", [0]), ints("two", [2]), ints("half", [2])]
    nodes += [helper.make_node("Div", ["u1", "half"], ["cg"]),
              helper.make_node("Concat", ["u0", "two", "cg", "u2", "u3"], ["t5"], axis=0),
              helper.make_node("Reshape", ["x", "t5"], ["r"], name="/stage/Reshape"),
              helper.make_node("Transpose", ["r"], ["t"], perm=[0, 2, 1, 3, 4],
                               name="/stage/Transpose"),
              helper.make_node("Concat", ["u0", "u1", "u2", "u3"], ["t4"], axis=0),
              helper.make_node("Reshape", ["t", "t4"], ["y"], name="/stage/Reshape_1")]
    m = model(nodes, [image("x0")], [out(4, 8, 8)], inits)
    imported = import_onnx(m)
    assert imported.unsupported == []
    assert ops(imported) == [("relu", {}), ("shuffle", {"groups": 2})]
    assert [n.path for n in imported.graph.nodes[1:]] == ["stage.relu", "stage.shuffle"]
    assert check_onnx(m, imported) <= REL_TOL


def test_split_reads_as_slices():
    m = model([helper.make_node("Split", ["x", "sizes"], ["a", "b"], axis=1),
               helper.make_node("Relu", ["b"], ["c"]),
               helper.make_node("Concat", ["c", "a"], ["y"], axis=1)],
              [image()], [out(4, 8, 8)], [ints("sizes", [1, 3])])
    imported = import_onnx(m)
    assert ops(imported) == [("slice", {"start": 0, "stop": 1}), ("slice", {"start": 1, "stop": 4}),
                             ("relu", {}), ("concat", {})]
    assert check_onnx(m, imported) <= REL_TOL


def test_unsupported_operators_are_named_with_path_and_count():
    """Each operator with no counterpart is listed once per module path with a count;
    what reads its output is not (its input is missing); the rest is still read."""
    nodes = [helper.make_node("Relu", ["x"], ["r"], name="/stem/relu/Relu"),
             helper.make_node("Greater", ["r", "zero"], ["m"], name="/block/Greater"),
             helper.make_node("Where", ["m", "r", "zero"], ["w1"], name="/block/Where"),
             helper.make_node("Where", ["m", "w1", "zero"], ["w2"], name="/block/Where_1"),
             helper.make_node("Sigmoid", ["w2"], ["s"], name="/block/act/Sigmoid"),
             helper.make_node("Attention", ["s"], ["y"], name="/head/Attention",
                              domain="com.example")]
    m = model(nodes, [image()], [out(4, 8, 8)],
              [numpy_helper.from_array(np.zeros((), np.float32), "zero")])
    m.opset_import.append(helper.make_opsetid("com.example", 1))
    imported = import_onnx(m)
    assert imported.unsupported == [
        Unsupported("Greater", "block", 1), Unsupported("Where", "block", 2),
        Unsupported("Attention (domain com.example)", "head", 1)]
    assert ops(imported) == [("relu", {})]
    assert str(imported.unsupported[1]) == "Where at block (2 times)"


def test_a_symbolic_spatial_dim_asks_for_the_input():
    m = model([helper.make_node("Relu", ["x"], ["y"])],
              [image(shape=("N", 3, "H", "W"))], [out(3, "H", "W")])
    with pytest.raises(UserError) as e:
        import_onnx(m)
    assert "H, W are not fixed" in e.value.message and "--input" in e.value.help
    assert e.value.exit_code == 2
    imported = import_onnx(m, input_shape="3x16x12")
    assert str(imported.graph.input_type) == "3x16x12"
    with pytest.raises(UserError, match="does not fit"):
        import_onnx(m, input_shape="4x16x12")


def test_malformed_files_are_refused_plainly(tmp_path, capsys):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07 this is not protobuf \xff\xff\xff")
    with pytest.raises(UserError, match="is not an ONNX model"):
        import_onnx(bad)
    good = model([helper.make_node("Relu", ["x"], ["y"])], [image()], [out(4, 8, 8)])
    cut = tmp_path / "cut.onnx"
    cut.write_bytes(good.SerializeToString()[:-7])
    with pytest.raises(UserError, match="not an ONNX model|not a valid ONNX model"):
        import_onnx(cut)
    with pytest.raises(UserError, match="no such file"):
        import_onnx(tmp_path / "missing.onnx")
    from cnndsl.cli import main
    assert main(["import", str(bad)]) != 0
    assert "Traceback" not in capsys.readouterr().err


def test_external_weights_only_beside_the_model(tmp_path):
    from onnx.external_data_helper import convert_model_to_external_data

    def saved(folder, location):
        m = model([helper.make_node("Conv", ["x", "w"], ["y"])], [image()], [out(8, 6, 6)],
                  [tensor("w", (8, 4, 3, 3))])
        convert_model_to_external_data(m, location=location, size_threshold=0)
        return m

    inside = tmp_path / "in"
    inside.mkdir()
    m = saved(inside, "weights.bin")
    onnx.save_model(m, str(inside / "m.onnx"))
    assert ops(import_onnx(inside / "m.onnx"))[0][0] == "conv"
    outside = tmp_path / "out"
    outside.mkdir()
    (tmp_path / "secret.bin").write_bytes(b"\0" * 1152)
    m = saved(outside, "weights.bin")
    for t in m.graph.initializer:
        for kv in t.external_data:
            if kv.key == "location":
                kv.value = "../secret.bin"
    (outside / "m.onnx").write_bytes(m.SerializeToString())
    with pytest.raises(UserError, match="outside the model's folder"):
        import_onnx(outside / "m.onnx")
    with pytest.raises(UserError, match="external files"):
        import_onnx((outside / "m.onnx").read_bytes())


def test_gemm_forms_and_a_softmax_kept_on_a_map():
    """Gemm with transB=0, alpha and beta becomes one fc (weights transposed, scaled); a
    trailing Softmax over a map's channels is not a classifier's: it stays."""
    m = model([helper.make_node("Softmax", ["x"], ["s"], axis=1),
               helper.make_node("GlobalAveragePool", ["s"], ["p"]),
               helper.make_node("Flatten", ["p"], ["f"], axis=1),
               helper.make_node("Gemm", ["f", "w", "b"], ["y"], alpha=0.5, beta=2.0)],
              [image()], [out(6)], [tensor("w", (4, 6)), tensor("b", (6,), 1)])
    imported = import_onnx(m)
    assert [op for op, _ in ops(imported)] == ["softmax", "gap", "fc"]
    assert imported.weights["fc1"][0].shape == (6, 4)
    assert check_onnx(m, imported) <= REL_TOL
    mapped = model([helper.make_node("Conv", ["x", "w"], ["c"]),
                    helper.make_node("Softmax", ["c"], ["y"], axis=1)],
                   [image()], [out(3, 8, 8)], [tensor("w", (3, 4, 1, 1))])
    kept = import_onnx(mapped)
    assert [op for op, _ in ops(kept)] == ["conv", "softmax"] and kept.notes == []
    assert check_onnx(mapped, kept) <= REL_TOL


def test_channels_last_layers_as_torchvision_convnext_writes_them():
    """Transpose to channels-last, LayerNormalization over the last axis, Linear as
    MatMul + Add, GELU, a layer scale, Transpose back: a layer norm over channels and
    1x1 convolutions; a mean over H and W is ``gap``."""
    c = 4
    m = model([helper.make_node("Transpose", ["x"], ["t"], perm=[0, 2, 3, 1]),
               helper.make_node("LayerNormalization", ["t", "g", "b"], ["n"], axis=-1,
                                epsilon=1e-6),
               helper.make_node("MatMul", ["n", "w1"], ["m1"]),
               helper.make_node("Add", ["m1", "b1"], ["a1"]),
               helper.make_node("Gelu", ["a1"], ["h"], domain=""),
               helper.make_node("MatMul", ["h", "w2"], ["m2"]),
               helper.make_node("Add", ["m2", "b2"], ["a2"]),
               helper.make_node("Mul", ["a2", "s"], ["a3"]),
               helper.make_node("Transpose", ["a3"], ["u"], perm=[0, 3, 1, 2]),
               helper.make_node("Add", ["u", "x"], ["r"]),
               helper.make_node("ReduceMean", ["r", "axes"], ["y"], keepdims=0)],
              [image()], [out(c)],
              [tensor("g", (c,)), tensor("b", (c,), 1), tensor("w1", (c, 3 * c), 2),
               tensor("b1", (3 * c,), 3), tensor("w2", (3 * c, c), 4), tensor("b2", (c,), 5),
               tensor("s", (c,), 6), ints("axes", [2, 3])], opset=20)
    imported = import_onnx(m)
    assert [op for op, _ in ops(imported)] == ["layernorm", "conv", "gelu", "conv",
                                               "layerscale", "add", "gap"]
    assert ops(imported)[1][1]["kernel"] == (1, 1) and ops(imported)[0][1]["eps"] == 1e-6
    assert check_onnx(m, imported) <= REL_TOL


@pytest.mark.parametrize("opset", [18, 21])
def test_group_normalization(opset):
    """Opset 18 scales each group, 21 each channel: both are the language's groupnorm."""
    per = 2 if opset == 18 else 4
    m = model([helper.make_node("GroupNormalization", ["x", "s", "b"], ["y"], num_groups=2,
                                epsilon=1e-3)],
              [image()], [out(4, 8, 8)], [tensor("s", (per,)), tensor("b", (per,), 1)],
              opset=opset)
    imported = import_onnx(m)
    assert ops(imported) == [("groupnorm", {"groups": 2, "eps": 0.001})]
    if opset == 21:  # onnxruntime 1.32 runs opset 18's form only as a contrib operator
        assert check_onnx(m, imported) <= REL_TOL
    else:
        assert np.array_equal(imported.weights["groupnorm1"][0],
                              np.repeat(numpy_helper.to_array(m.graph.initializer[0]), 2))
