"""`cnndsl summary` and Network.summary(): the JSON contract, formats, --depth, comparison."""

import csv
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import cnndsl
from cnndsl.cli import main
from cnndsl.report import format_markdown, format_table

ROOT = Path(__file__).resolve().parent.parent
NETS = Path(__file__).parent / "data" / "cost"
RESNET50 = NETS / "tv_resnet50.cnn"
SMALL = "input 3x32x32\nconv(16, 3) - bn - relu - pool - fc(10)"

CONTRACT_TOTALS = {"params", "params_trainable", "macs", "flops", "activations",
                   "activation_bytes"}
CONTRACT_LAYER = {"name", "op", "output", "params", "macs", "activations", "receptive_field",
                  "span"}


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(["summary", *argv])
    out, err = capsys.readouterr()
    return rc, out, err


def test_cli_json_equals_the_api_and_never_imports_torch():
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "cnndsl", "summary",
                           str(RESNET50), "--format", "json"], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    imported = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines()
                if line.startswith("import time:")}
    assert "cnndsl.report" in imported
    assert not {m for m in imported if m == "torch" or m.startswith("torch.")}
    data = json.loads(proc.stdout)
    api = cnndsl.compile(RESNET50).summary()
    assert data["totals"] == json.loads(json.dumps(api.totals))
    assert data["totals"]["params"] == 25_557_032
    assert data["totals"]["macs"] == 4_089_184_256
    assert data["totals"]["macs_fvcore"] == 4_111_512_576  # fvcore's total for resnet50
    assert len(data["layers"]) == len(api.layers)


def test_json_contract(capsys):
    rc, out, _ = run_cli(capsys, SMALL, "--format", "json")
    data = json.loads(out)
    assert rc == 0 and {"network", "input", "output", "totals", "layers"} <= set(data)
    assert data["input"] == [3, 32, 32] and data["output"] == [10]
    assert CONTRACT_TOTALS <= set(data["totals"])
    assert data["totals"]["flops"] == 2 * data["totals"]["macs"]
    assert data["totals"]["activation_bytes"] == 4 * data["totals"]["activations"]
    for layer in data["layers"]:
        assert CONTRACT_LAYER <= set(layer)
    conv = data["layers"][1]
    assert conv["name"] == "conv1" and conv["output"] == [16, 32, 32]
    assert conv["receptive_field"]["size"] == [3, 3]
    assert conv["span"]["line"] == 2 and conv["span"]["column"] == 1
    assert (conv["weights"], conv["bias"]) == (432, 16)
    bn = data["layers"][2]
    assert (bn["params"], bn["buffers"], bn["macs"]) == (32, 32, 0)
    assert bn["macs_by_kind"] == {"norm": 2 * 16 * 32 * 32}
    assert sum(r["macs"] for r in data["layers"]) == data["totals"]["macs"]
    assert sum(r["created"] for r in data["layers"]) == data["totals"]["activations"]


def test_summary_object_matches_the_cost_pass():
    net = cnndsl.compile(NETS / "tv_resnet18.cnn")
    s = net.summary()
    c = net.cost
    assert (s.params, s.weights, s.bias, s.buffers) == (11_689_512, 11_683_712, 5_800, 9_600)
    assert s.macs == c.macs and s.macs_fvcore == 1_819_065_856 and s.flops == 2 * c.macs
    assert [r.name for r in s.layers] == [n.name for n in net.graph.nodes]
    assert [r.activations for r in s.layers] == [n.type.numel for n in net.graph.nodes]
    assert str(s.layers[-3].receptive_field) == "435"  # the last block (ResNet-18's known 435)
    assert str(s.layers[-1].receptive_field) == "627"  # gap: + (7 - 1) x 32


def test_batch_dtype_and_optimizer(capsys):
    rc, out, _ = run_cli(capsys, SMALL, "--format", "json", "--batch", "8", "--dtype", "bf16",
                         "--optimizer", "SGD")
    t = json.loads(out)["totals"]
    assert rc == 0 and (t["batch"], t["dtype"]) == (8, "bf16")
    assert t["activation_bytes"] == 2 * t["activations"]
    mem = t["memory"]
    assert mem["forward_bytes"] == 8 * t["activation_bytes"]
    train = mem["training"]
    assert train["optimizer"] == "sgd" and train["optimizer_bytes"] == 4 * t["params"]
    assert train["activations_bytes"] == 8 * 2 * t["activations"]


def test_depth_collapses_block_calls():
    net = cnndsl.compile(NETS / "tv_resnet18.cnn")
    full = net.summary()
    one = net.summary(depth=0)
    assert [r.name for r in one.layers] == [
        "input", "conv1", "bn1", "relu1", "pool1", "layer1", "layer2", "layer3", "layer4",
        "gap1", "fc1"]
    layer2 = one.layers[6]
    assert (layer2.op, layer2.label, layer2.output) == ("layer", "layer(128, 2)", (128, 28, 28))
    assert layer2.path == "layer2" and str(layer2.receptive_field) == "99"
    for key in ("params", "macs", "created"):
        assert sum(getattr(r, key) for r in one.layers) == sum(getattr(r, key) for r in full.layers)
    two = net.summary(depth=1)
    assert "layer2/basic1" in [r.name for r in two.layers]
    assert len(full.layers) > len(two.layers) > len(one.layers)
    with pytest.raises(ValueError):
        net.summary(depth=-1)


def test_table_reads_like_the_slides(capsys):
    rc, out, _ = run_cli(capsys, str(NETS / "tv_vgg16.cnn"))
    assert rc == 0
    lines = out.splitlines()
    assert lines[0] == "tv_vgg16: 3x224x224 -> 1000"
    assert lines[1].split() == ["layer", "op", "output", "activations", "params", "MACs", "RF"]
    total = next(line for line in lines if line.startswith("total"))
    # the slides' 15,237,608 plus the 7x7 adaptive pool's output (a tensor of its own)
    assert total.split()[1:] == ["1000", "15,262,696", "138,357,544", "15,470,264,320"]
    assert "(3,211,264)" in out  # an in-place ReLU, outside the total
    assert "15,470,289,408" in out  # with the adaptive pool: fvcore's count


def test_markdown_and_csv(capsys):
    s = cnndsl.compile(SMALL).summary()
    md = format_markdown(s)
    assert "| **total** | | 10 | " in md and md.count("\n|") == len(s.layers) + 3
    rc, out, _ = run_cli(capsys, SMALL, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rc == 0 and [r["name"] for r in rows] == [r.name for r in s.layers]
    assert int(rows[1]["macs"]) == 16 * 32 * 32 * 27 and rows[1]["receptive_field"] == "3"
    assert int(rows[2]["macs_norm"]) == 2 * 16 * 32 * 32


def test_comparing_two_networks(capsys):
    a, b = str(NETS / "tv_resnet18.cnn"), str(NETS / "tv_resnet50.cnn")
    rc, out, _ = run_cli(capsys, a, b, "--format", "json")
    data = json.loads(out)
    assert rc == 0 and [n["network"] for n in data["networks"]] == ["tv_resnet18", "tv_resnet50"]
    assert data["ratios"][1]["params"] == pytest.approx(25_557_032 / 11_689_512)
    assert data["ratios"][0]["macs"] == 1.0
    rc, out, _ = run_cli(capsys, a, b)
    params = next(line for line in out.splitlines() if line.startswith("params"))
    assert params.split()[1:] == ["11,689,512", "25,557,032", "2.19x"]


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as e:
        main(["summary", SMALL, "--depth", "-1"])
    assert e.value.code == 2
    with pytest.raises(SystemExit) as e:
        main(["summary", SMALL, "--dtype", "fp8"])
    assert e.value.code == 2
    assert main(["summary", "no/such/net.cnn"]) == 2
    capsys.readouterr()


def test_demo_table_still_formats():
    assert "total" in format_table(cnndsl.compile(SMALL).summary())


def test_cost_doc_examples_run_and_every_operator_has_a_convention():
    import doctest

    import cnndsl.ops as ops

    text = (ROOT / "docs" / "cost.md").read_text()
    for block in re.findall(r"```python\n(.*?)```", text, re.S):
        test = doctest.DocTestParser().get_doctest(block, {}, "cost.md", "docs/cost.md", 0)
        runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
        runner.run(test)
        assert runner.failures == 0
    table = text[text.index("## Per operator"):text.index("### Against other counters")]
    missing = [op.name for op in ops.all_ops() if f"`{op.name}`" not in table]
    assert not missing


def test_the_summary_reads_the_cached_analysis_and_runs_no_pass_again(monkeypatch):
    import cnndsl.passes.cost as cost_mod
    import cnndsl.passes.pipeline as pipeline

    net = cnndsl.compile("input 3x32x32\nconv(16, 3) - relu - pool - fc(10)")
    first = net.summary()
    assert net.analysis is net.analysis  # made once

    def refuse(*args, **kwargs):
        raise AssertionError("a pass ran again")

    for module, name in ((pipeline, "receptive_field"), (pipeline, "cost"),
                         (cost_mod, "cost")):
        monkeypatch.setattr(module, name, refuse)
    again = net.summary(depth=0)
    assert (again.params, again.macs) == (first.params, first.macs) == (41418, 483328)
