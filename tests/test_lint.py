"""cnndsl lint: each W08xx rule on a small program that should trip it and on a near miss
that should not; allow comments; the command's exit codes; the whole zoo is clean."""

import argparse
import json

import pytest

import cnndsl
from cnndsl import api, cli
from cnndsl.commands import lint as lint_cmd
from cnndsl.diagnostics import UserError
from cnndsl.lint import lint


def codes(src: str, code: str | None = None) -> list:
    """(code, line, col, message) of the lint warnings, only ``code``'s if given."""
    return [(d.code, d.span.line, d.span.col, d.message) for d in lint(cnndsl.compile(src))
            if code is None or d.code == code]


# ------------------------------------------------------------------ W0802
def test_w0802_bias_before_batch_norm():
    [(code, line, col, msg)] = codes("input 3x3x3\nconv(16, 3) - bn - relu\ngap - fc(10)\n")
    assert (code, line, col) == ("W0802", 2, 1)
    assert "16 parameters" in msg
    [d] = lint(cnndsl.compile("input 3x3x3\nconv(16, 3) - bn - relu\ngap - fc(10)\n"))
    assert d.help.startswith("drop it: conv(16, 3, bias=false)")


@pytest.mark.parametrize("layers", [
    "conv(16, 3, bias=false) - bn - relu",  # no bias
    "conv(16, 3) - relu - bn",  # the conv's reader is the relu
    "conv(16, 3) as x - bn - relu - add(id | x)",  # the conv feeds more than the norm
    "conv(16, 3) - layernorm - relu",  # a layer norm does not cancel a per-channel bias
])
def test_w0802_near_misses(layers):
    assert codes(f"input 3x3x3\n{layers}\ngap - fc(10)\n", "W0802") == []


# ------------------------------------------------------------------ W0803
def test_w0803_a_map_narrower_than_the_classes():
    [(code, line, col, msg)] = codes(
        "input 3x32x32\nconv(32, 3) - relu\nconv(4, 1) - relu\ngap - fc(10)\n", "W0803")
    assert (code, line, col) == ("W0803", 3, 1)
    assert msg == "a bottleneck of 4 channels, fewer than the 10 classes"


def test_w0803_a_vector_narrower_than_the_classes():
    [(_, line, col, msg)] = codes(
        "input 3x8x8\nconv(32, 3) - relu - gap\nfc(8) - relu - fc(10)\n", "W0803")
    assert (line, col) == (3, 1) and "8 features, fewer than the 10 classes" in msg


@pytest.mark.parametrize("layers", [
    "conv(4, 3) - relu - gap - fc(10)",  # the first layer may be narrow (LeNet's 6 maps)
    "conv(32, 3) - relu - se(32) - gap - fc(10)",  # the SE gate's 1-unit fc is no bottleneck
    "conv(32, 3) - conv(4, 1) - conv(32, 3) - gap - fc(10)",  # widened again: a linear bottleneck
    "conv(32, 3) - relu - gap - fc(10)",
])
def test_w0803_near_misses(layers):
    assert codes(f"input 3x8x8\n{layers}\n", "W0803") == []


# ------------------------------------------------------------------ W0804
def test_w0804_fc_on_a_large_map_holds_most_parameters():
    [(code, line, col, msg)] = codes(
        "input 3x32x32\nconv(16, 3) - relu - pool\nfc(256) - relu - fc(10)\n")
    assert (code, line, col) == ("W0804", 3, 1)
    assert "1,048,832 of the network's 1,051,850 parameters (99%)" in msg


@pytest.mark.parametrize("layers", [
    "conv(16, 3) - relu - gap - fc(256) - relu - fc(10)",  # pooled first
    "conv(64, 3) - conv(64, 3) - maxpool(8) - fc(10)",  # flattened, but 10,250 of 48,970
    "conv(16, 3) - relu - maxpool(32) - fc(256) - relu - fc(10)",  # a 1x1 map
])
def test_w0804_near_misses(layers):
    assert codes(f"input 3x32x32\n{layers}\n", "W0804") == []


# ------------------------------------------------------------------ W0805
def test_w0805_receptive_field_smaller_than_the_input():
    [(code, line, col, msg)] = codes(
        "input 3x32x32\nconv(16, 3) - relu - conv(16, 3) - relu\ngap - fc(10)\n")
    assert (code, line, col) == ("W0805", 3, 1)
    assert msg == "the classifier's features see 5x5 pixels of the 32x32 input"


@pytest.mark.parametrize("src", [
    "input 3x5x5\nconv(16, 3) - relu - conv(16, 3) - relu\ngap - fc(10)\n",  # covers it
    "input 3x32x32\nconv(16, 3) - relu - conv(16, 3) - relu\nflatten - fc(10)\n",  # no pooling
])
def test_w0805_near_misses(src):
    assert codes(src, "W0805") == []


# ------------------------------------------------------------------ W0806
def test_w0806_activation_after_the_classifier():
    [(code, line, col, msg)] = codes(
        "input 3x5x5\nconv(16, 3) - relu - conv(16, 3) - relu\ngap - fc(10) - relu\n")
    assert (code, line, col) == ("W0806", 3, 16)
    assert msg == "relu after the classifier: the 10 class scores pass through a relu"


@pytest.mark.parametrize("head", ["fc(10) - softmax", "fc(10) - scale(0.5) - softmax",
                                  "fc(64) - relu - fc(10)", "fc(10) - dropout(0.5)"])
def test_w0806_near_misses(head):
    assert codes(f"input 3x5x5\nconv(16, 3) - relu - conv(16, 3) - relu\ngap - {head}\n",
                 "W0806") == []


# ------------------------------------------------------------------ W0807
def test_w0807_pooling_before_any_convolution():
    [(code, line, col, msg)] = codes(
        "input 3x32x32\nmaxpool(8)\nconv(16, 3) - relu - gap - fc(10)\n", "W0807")
    assert (code, line, col) == ("W0807", 2, 1)
    assert "1/64 of the input's area (32x32 -> 4x4)" in msg


def test_w0807_one_large_pooling_step_early():
    [(_, line, col, msg)] = codes("input 3x32x32\nconv(16, 3) - relu - maxpool(4)\n"
                                  "conv(16, 3) - relu - gap - fc(10)\n", "W0807")
    assert (line, col) == (2, 22) and "1 position in 16 of the map in one step" in msg


@pytest.mark.parametrize("src", [
    # ResNet's stem: a 7x7/2 conv, then a 3x3/2 max pool
    "input 3x224x224\nconv(64, 7, stride=2, pad=3, bias=false) - bn - relu - "
    "maxpool(3, stride=2, pad=1)\nconv(64, 3) - relu - gap - fc(10)\n",
    "input 3x227x227\nconv(96, 11, stride=4) - relu - maxpool(3, stride=2)\ngap - fc(10)\n",
    "input 3x224x224\nconv(96, 4, stride=4) - layernorm\ngap - fc(10)\n",  # patchify
    "input 3x32x32\nconv(16, 3) - maxpool(2) - conv(16, 3) - maxpool(2) - maxpool(2)\n"
    "gap - fc(10)\n",
])
def test_w0807_near_misses(src):
    assert codes(src, "W0807") == []


# ------------------------------------------------------------------ W0808
NORMED = "block b(c) = residual(conv(c, 3, bias=false) - bn - relu - conv(c, 3, bias=false) - bn) - relu\n"
PLAIN = "block p(c) = residual(conv(c, 3) - relu - conv(c, 3)) - relu\n"


def _residual(body: str) -> str:
    return (NORMED + PLAIN + "network n(classes=10):\n    input 3x8x8\n"
            f"    conv(16, 3, bias=false) - bn - relu\n    {body}\n    gap - fc(10)\n")


def test_w0808_residual_branch_without_its_siblings_norm():
    [(code, line, col, msg)] = codes(_residual("b(16) * 2 - p(16)"))
    assert (code, line, col) == ("W0808", 2, 14)
    assert "2 of the network's 3 residual branches" in msg


@pytest.mark.parametrize("body", ["b(16) - p(16)", "p(16) * 3", "b(16) * 2 - p(16) * 2"])
def test_w0808_near_misses(body):
    assert codes(_residual(body), "W0808") == []


# ------------------------------------------------------------------ allow, dedup
def test_an_allow_comment_silences_its_warning_only():
    src = "input 3x3x3\nconv(16, 3) - bn - relu  # allow W0802: testing\ngap - fc(10) - relu\n"
    assert [c[0] for c in codes(src)] == ["W0806"]


def test_a_block_line_warns_once_with_its_calls():
    src = ("block cbr(c) = conv(c, 3) - bn - relu\nnetwork n(classes=10):\n"
           "    input 3x4x4\n    cbr(16) - cbr(32) - cbr(32)\n    gap - fc(10)\n")
    [d] = lint(cnndsl.compile(src))
    assert d.code == "W0802" and (d.span.line, d.span.col) == (1, 16)
    assert d.notes == ("in `cbr(16)`, called at line 4:5", "and 2 more layers made by this line")


# ------------------------------------------------------------------ the command
def _run(tmp_path, src: str, *options: str) -> int:
    parser = argparse.ArgumentParser()
    lint_cmd.add_parser(parser.add_subparsers(dest="command"))
    path = tmp_path / "net.cnn"
    path.write_text(src)
    return lint_cmd.run(parser.parse_args(["lint", str(path), *options]))


def test_the_command_exits_1_on_warnings_and_0_when_clean(tmp_path, capsys):
    assert _run(tmp_path, "input 3x3x3\nconv(16, 3) - bn - relu - gap - fc(10)\n") == 1
    out, err = capsys.readouterr()
    assert "warning[W0802]" in err and out.strip().endswith("lint: 1 warning (W0802)")
    clean = "input 3x3x3\nconv(16, 3, bias=false) - bn - relu - gap - fc(10)\n"
    assert _run(tmp_path, clean) == 0
    assert capsys.readouterr().out.strip().endswith("lint: ok")


def test_the_command_writes_json(tmp_path, capsys):
    assert _run(tmp_path, "input 3x3x3\nconv(16, 3) - bn - gap - fc(10)\n",
                "--format", "json") == 1
    data = json.loads(capsys.readouterr().out)
    assert [d["code"] for d in data["diagnostics"]] == ["W0802"]
    assert data["network"]["warnings"] == 1


def test_the_command_usage_errors_exit_2(tmp_path):
    with pytest.raises(SystemExit) as e:
        _run(tmp_path, "conv", "--format", "yaml")
    assert e.value.code == 2
    parser = argparse.ArgumentParser()
    lint_cmd.add_parser(parser.add_subparsers(dest="command"))
    with pytest.raises(UserError) as e:
        lint_cmd.run(parser.parse_args(["lint", "no_such_network_here"]))
    assert e.value.exit_code == 2


@pytest.mark.skipif("lint" not in cli.COMMANDS, reason="`lint` is registered in cli.py")
def test_cnndsl_lint_on_the_command_line(tmp_path, capsys):
    path = tmp_path / "net.cnn"
    path.write_text("input 3x3x3\nconv(16, 3) - bn - relu - gap - fc(10)\n")
    assert cli.main(["lint", str(path)]) == 1
    assert cli.main(["lint", "resnet18"]) == 0
    assert cli.main(["lint", "no_such_network_here"]) == 2


# ------------------------------------------------------------------ the zoo
def _zoo():
    for path in sorted(api.ZOO_DIR.glob("*.cnn")):
        yield path.stem, path, None
    for name, path in sorted(api.zoo_presets().items()):
        yield name, path, name


def test_the_zoo_is_lint_clean():
    found = []
    for name, path, preset in _zoo():
        found += [f"{name}: {d.code} {d.span}: {d.message}"
                  for d in lint(cnndsl.compile(path, preset=preset))]
    assert found == []


# ---------------------------------------------------------------- W0801 (families)
DEAD = """\
network f(K in 0..2, N in {1, 2}):
    input 3x3x3
    conv(8, bias=false) * N - (conv(8, bias=false) - relu) * (K * 0) - if(N > 2, dropout) - gap - fc(10)
"""


def _family_lint(capsys, tmp_path, src, *argv):
    from cnndsl.cli import main as cli_main
    p = tmp_path / "fam.cnn"
    p.write_text(src, encoding="utf-8")
    rc = cli_main(["lint", str(p), "--format", "json", *argv])
    return rc, json.loads(capsys.readouterr().out)["diagnostics"]


def test_w0801_a_part_no_member_of_the_family_builds(capsys, tmp_path):
    rc, diags = _family_lint(capsys, tmp_path, DEAD)
    assert rc == 1
    dead = [(d["span"]["line"], d["span"]["column"], d["message"]) for d in diags
            if d["code"] == "W0801"]
    assert dead == [
        (3, 31, "`(conv(8, bias=false) - relu) * (K * 0)` is not built by any of the "
                "family's 6 members"),
        (3, 82, "`dropout` is not built by any of the family's 6 members")]


def test_w0801_a_part_some_member_builds_is_not_dead(capsys, tmp_path):
    rc, diags = _family_lint(capsys, tmp_path, DEAD, "--set", "N=1..3")
    assert [d["span"]["column"] for d in diags if d["code"] == "W0801"] == [31]
    live = DEAD.replace("(K * 0)", "K").replace("N > 2", "N > 1")
    rc, diags = _family_lint(capsys, tmp_path, live)
    assert (rc, diags) == (0, [])


def test_w0801_judges_only_parts_the_family_controls(capsys, tmp_path):
    # `aux` has no range: the user may bind it; the family cannot turn it on or off
    src = DEAD.replace("if(N > 2, dropout)", "if(aux, dropout)").replace(
        "N in {1, 2})", "N in {1, 2}, aux=0)").replace(" * (K * 0)", " * K")
    rc, diags = _family_lint(capsys, tmp_path, src)
    assert (rc, diags) == (0, [])


def test_w0801_can_be_allowed(capsys, tmp_path):
    src = DEAD.replace("fc(10)\n", "fc(10)  # allow W0801: kept for larger K\n")
    rc, diags = _family_lint(capsys, tmp_path, src)
    assert (rc, diags) == (0, [])


def test_the_families_page_shows_what_lint_prints(capsys, tmp_path, monkeypatch):
    import re
    from pathlib import Path

    from cnndsl.cli import main as cli_main
    page = (Path(__file__).parents[1] / "docs/families.md").read_text(encoding="utf-8")
    source = re.search(r"in `lintdoc.cnn`:\n\n```cnn\n(.*?)```", page, re.S).group(1)
    shown = re.search(r"exits 1 and prints:\n\n```\n(.*?)```", page, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    Path("lintdoc.cnn").write_text(source, encoding="utf-8")
    assert cli_main(["lint", "lintdoc.cnn"]) == 1
    out = capsys.readouterr()
    assert (out.err + "\n" + out.out).strip() == shown.strip()


# ---------------------------------------------------------------- --members
WIDTHS = """\
network f(w in {32, 16, 4}, depth in 1..2):
    input 3x3x3
    conv(32, 3, bias=false) - bn - relu - (conv(w, 1, bias=false) - bn - relu) * depth - gap - fc(10)
"""


def test_members_finds_the_warnings_only_some_members_have(capsys, tmp_path):
    rc, diags = _family_lint(capsys, tmp_path, WIDTHS)
    assert (rc, diags) == (0, [])  # the defaults (w=32, depth=1) are clean
    rc, diags = _family_lint(capsys, tmp_path, WIDTHS, "--members")
    assert rc == 1
    [(code, col, message, notes)] = [(d["code"], d["span"]["column"], d["message"],
                                      d["notes"]) for d in diags]
    assert (code, col, message) == ("W0803", 44, "a bottleneck of 4 channels, fewer than "
                                                 "the 10 classes")
    assert notes[-1] == "in 2 of the family's 6 members, e.g. w=4 depth=1"


def test_members_leaves_out_what_the_defaults_already_say(capsys, tmp_path):
    src = WIDTHS.replace("conv(32, 3, bias=false)", "conv(32, 3)")  # W0802 in every member
    rc, diags = _family_lint(capsys, tmp_path, src, "--members")
    assert [(d["code"], d["notes"][-1:]) for d in diags] == [
        ("W0802", []), ("W0803", ["in 2 of the family's 6 members, e.g. w=4 depth=1"])]


def test_members_can_be_allowed_on_their_line(capsys, tmp_path):
    src = WIDTHS.replace("fc(10)\n", "fc(10)  # allow W0803: w=4 is the ablation\n")
    rc, diags = _family_lint(capsys, tmp_path, src, "--members")
    assert (rc, diags) == (0, [])


def test_a_misspelt_set_is_a_lint_warning(capsys, tmp_path):
    rc, diags = _family_lint(capsys, tmp_path, WIDTHS, "--set", "dpeth=2")
    assert rc == 1
    assert [(d["code"], d["message"]) for d in diags] == [
        ("W0201", "parameter `dpeth` was bound but the network does not use it")]


# ---------------------------------------------------------------- review fixes
ONE_LAYER = """\
block single(c) = conv(c, 1)
network inl2(K in 0..1):
    input 8x8x8
    conv(8, 3) - PART - conv(8, 3) - conv(8, 3) - gap - fc(10)
"""


@pytest.mark.parametrize("part", ["single(8) * K", "if(K > 0, single(8))"])
def test_w0801_sees_a_conditional_call_of_a_one_layer_block(capsys, tmp_path, part):
    # K=1 builds it: the inlined block's node carries the body's span, not the call's
    rc, diags = _family_lint(capsys, tmp_path, ONE_LAYER.replace("PART", part))
    assert [d for d in diags if d["code"] == "W0801"] == []


def test_w0801_a_dead_call_of_a_one_layer_block_built_elsewhere(capsys, tmp_path):
    src = ONE_LAYER.replace("PART", "single(8) - if(K > 1, single(8))")
    rc, diags = _family_lint(capsys, tmp_path, src)
    assert [(d["span"]["column"], d["message"]) for d in diags if d["code"] == "W0801"] == [
        (40, "`single(8)` is not built by any of the family's 2 members")]


def test_w0801_walks_a_copy_and_leaves_the_members_ir_alone():
    from cnndsl.family import Family
    from cnndsl.family.coverage import dead_parts
    fam = Family(ONE_LAYER.replace("PART", "single(8) * K"))
    assert dead_parts(fam) == []
    graph = fam.compile({"K": 1}).graph
    assert [n.name for n in graph.nodes][1:3] == ["conv1", "conv2"]
    assert graph["conv2"].scope == () and graph["conv2"].span.line == 1


def test_w0801_says_when_members_that_fail_to_compile_may_build_it():
    from cnndsl.family import Family
    from cnndsl.family.coverage import dead_parts
    fam = Family("network f(K in 0..1):\n    input 1x4x4\n"
                 "    conv(4) - if(K > 0, pool * 5) - fc(10)\n")
    [d] = dead_parts(fam)
    assert d.message == ("`pool * 5` is not built by any of the family's 1 valid member "
                         "(1 of its 2 fail to compile)")
    assert d.help == ("no binding of K turns it on in a member that compiles; it may be "
                      "built only by members that fail to compile (e.g. K=1): fix those "
                      "members, widen a range, or remove the part")


def test_w0801_says_a_sample_is_a_sample():
    from cnndsl.family import Family
    from cnndsl.family.coverage import dead_parts
    fam = Family("network f(K in 0..5):\n    input 1x8x8\n"
                 "    conv(4) - if(K > 5, dropout) - gap - fc(2)\n")
    [d] = dead_parts(fam, sample=4)
    assert d.message == "`dropout` is not built by any of 4 members sampled from 6"
    assert d.help.startswith("no sampled binding of K turns it on; it may be built only "
                             "by the 2 members not sampled:")


def test_w0805_judges_a_non_square_input_by_its_shorter_side():
    # five 3x3-then-pool stages see 94x94: all of the 64 rows, not all 512 columns
    stages = "(conv(16, 3, bias=false) - bn - relu - maxpool(2)) * 5"
    assert codes(f"input 1x64x512\n{stages}\ngap - fc(10)\n", "W0805") == []
    src = "input 3x32x128\nconv(16, 3) - relu - conv(16, 3) - relu\ngap - fc(10)\n"
    [(code, line, col, msg)] = codes(src, "W0805")
    assert (line, col, msg) == (3, 1, "the classifier's features see 5x5 pixels of the "
                                      "32x128 input")
    [d] = lint(cnndsl.compile(src))
    assert "the input's shorter side (32)" in d.notes[0]


RES_HEAD = "gap - fc(64) - relu - residual(fc(64) - relu - dropout(0.2) - fc(64)) - relu - fc(10)"
NORMED_HEAD = "gap - fc(64) - residual(fc(64) - layernorm - relu - fc(64) - layernorm) * 2"


def test_w0808_a_residual_mlp_head_is_not_a_conv_residual():
    assert codes(_residual(f"b(16) * 3\n    {RES_HEAD}").replace("gap - fc(10)\n", ""),
                 "W0808") == []


def test_w0808_compares_vector_residuals_among_themselves():
    src = _residual(f"b(16) * 3\n    {NORMED_HEAD} - {RES_HEAD[6:]}").replace(
        "gap - fc(10)\n", "")
    [(code, line, col, msg)] = codes(src, "W0808")
    assert "2 of the network's 3 residual branches on vectors" in msg
    [(_, _, _, msg)] = codes(_residual("b(16) * 2 - p(16)"), "W0808")
    assert "2 of the network's 3 residual branches on feature maps" in msg


def test_w0802_after_a_batch_norm_without_affine():
    src = "input 3x3x3\nconv(16, 3) - bn(affine=false) - relu - gap - fc(10)\n"
    [d] = lint(cnndsl.compile(src))
    assert d.code == "W0802" and "cancelled" in d.message
    assert d.help.startswith("drop it: conv(16, 3, bias=false); this batch norm "
                             "(affine=false) has no shift")
    assert "beta" not in d.help
    [d] = lint(cnndsl.compile(src.replace("affine=false", "affine=true")))
    assert d.help.endswith("the batch norm's shift (beta) does its job")


# ------------------------------------------- the first member of the family asked for
NARROW = """\
network ld(w in {4, 64}):
    input 3x3x3
    conv(32, 3, bias=false) - bn - relu - conv(w, 1, bias=false) - bn - relu - gap - fc(10)
"""


def test_lint_compiles_a_ranged_parameter_at_the_first_value_of_its_range(capsys, tmp_path):
    # the header's w=4 is not in the family `--set w=16..32` asks for
    rc, diags = _family_lint(capsys, tmp_path, NARROW, "--set", "w=16..32")
    assert (rc, diags) == (0, [])
    rc, diags = _family_lint(capsys, tmp_path, NARROW, "--set", "w={8,4}")
    assert [(d["code"], d["message"]) for d in diags] == [
        ("W0803", "a bottleneck of 8 channels, fewer than the 10 classes")]
    rc, diags = _family_lint(capsys, tmp_path, NARROW)  # no --set: the header's default
    assert [d["message"] for d in diags] == [
        "a bottleneck of 4 channels, fewer than the 10 classes"]


def test_lint_gives_a_parameter_without_default_its_range(capsys, tmp_path):
    src = NARROW.replace("w in {4, 64}", "w")
    rc, diags = _family_lint(capsys, tmp_path, src, "--set", "w=16..64", "--members")
    assert (rc, diags) == (0, [])
    rc, diags = _family_lint(capsys, tmp_path, src, "--set", "w=8..16", "--members")
    # the first member's own warning: no member count
    assert [(d["code"], d["message"], [n for n in d["notes"] if n.startswith("in ")])
            for d in diags] == [
        ("W0803", "a bottleneck of 8 channels, fewer than the 10 classes", [])]
    rc, diags = _family_lint(capsys, tmp_path, src)  # nothing gives w a value
    assert rc == 1 and {d["code"] for d in diags} == {"E0201"}


def test_lint_does_not_compile_a_failing_default_outside_the_range(capsys, tmp_path):
    src = ("network df(M=4 in 1..4):\n    input 3x8x8\n"
           "    conv(8, 3, bias=false) - bn - relu - (conv(32, bias=false) - bn - relu - pool) * M"
           " - gap - fc(10)\n")  # M=4 pools a 1x1 map
    rc, diags = _family_lint(capsys, tmp_path, src, "--set", "M=2..3")
    assert (rc, diags) == (0, [])
    for asked in ([], ["--set", "M=4,2"]):  # the default, or the first choice
        rc, diags = _family_lint(capsys, tmp_path, src, *asked)
        assert rc == 1 and [d["code"] for d in diags] == ["E0301"]


def test_a_range_wider_than_the_headers_is_linted_without_w0202_under_strict(capsys,
                                                                            tmp_path):
    src = ("network f(N=2 in 1..3):\n    input 3x3x3\n"
           "    conv(8, 3, bias=false) * N - bn - relu - gap - fc(10)\n")
    rc, diags = _family_lint(capsys, tmp_path, src, "--set", "N=4..6", "--strict")
    assert (rc, diags) == (0, [])
    rc, diags = _family_lint(capsys, tmp_path, src, "--set", "N=4", "--strict")
    assert rc == 1 and [d["code"] for d in diags] == ["W0202"]  # a value, not a range


# ------------------------------------------- W0801: values named like layers
@pytest.mark.parametrize("header, body", [
    ("m in 1..3, channels=16, scale=2",
     "conv(channels * m) - relu - conv(channels * m * scale)"),
    ("m in 1..3, dropout=0.2", "conv(16) - relu - dropout(dropout * m / 3)"),
    ("m in 1..3, channels=16", "conv(if(m > 1, channels, 8))"),
    ("m in 1..3", "conv(16) - dropout(if(m > 3, scale, 0.1))"),  # an operator's argument
    ("m in 1..3", "conv(channels * m)"),  # the built-in default
    ("N in 1..2, norm=bn", "conv(16, bias=false) - if(N > 1, norm)"),  # N=2 builds the bn
])
def test_w0801_a_value_named_like_a_layer_is_not_a_part(capsys, tmp_path, header, body):
    src = f"network fp({header}):\n    input 3x8x8\n    {body} - relu - gap - fc(10)\n"
    rc, diags = _family_lint(capsys, tmp_path, src)
    assert [d["message"] for d in diags if d["code"] == "W0801"] == []


def test_w0801_values_in_lets_and_block_parameters(capsys, tmp_path):
    src = ("block wide(c) = conv(c) - relu\nblock normed(norm) = conv(16) - if(m > 1, norm)\n"
           "network fp(m in 1..3):\n    input 3x8x8\n    scale = 8\n"
           "    wide(scale * m) - wide(if(m > 1, channels, 8)) - normed(bn) - gap - fc(10)\n")
    rc, diags = _family_lint(capsys, tmp_path, src)
    assert [d["code"] for d in diags] == ["W0805"]  # `scale * m`, `channels`, `norm`: values


@pytest.mark.parametrize("body, dead", [
    ("conv(channels * m) - if(m > 3, dropout(dropout))", "dropout(dropout)"),
    ("conv(16) - residual(if(m > 3, conv(16) - bn, id))", "conv(16) - bn"),
    ("conv(16, bias=false) - if(m > 3, norm) - if(m > 3, bn)", "bn"),
])
def test_w0801_still_finds_dead_layers_beside_values(capsys, tmp_path, body, dead):
    src = (f"network fp(m in 1..3, dropout=0.2, norm=bn):\n    input 3x8x8\n"
           f"    {body} - relu - gap - fc(10)\n")
    rc, diags = _family_lint(capsys, tmp_path, src)
    assert [d["message"] for d in diags if d["code"] == "W0801"] == [
        f"`{dead}` is not built by any of the family's 3 members"]


# ------------------------------------------- --members counts what it walked
MOSTLY_VALID = """\
network mi(M in 1..6, w in {32, 4}):
    input 3x16x16
    (conv(32) - relu - pool) * M - conv(w, 1) - relu - gap - fc(10)
"""


def test_members_counts_the_bindings_that_compile(capsys, tmp_path):
    rc, diags = _family_lint(capsys, tmp_path, MOSTLY_VALID, "--members")  # M=5, 6 fail: 8 of 12
    assert [d["notes"][-1] for d in diags if d["code"] == "W0803"] == [
        "in 4 of the 8 bindings that compile (12 in all), e.g. M=1 w=4"]


def test_members_counts_bindings_where_two_build_one_graph(capsys, tmp_path):
    src = ("network d(N in 1..2, M in 1..2, w in {32, 4}):\n    input 3x3x3\n"
           "    [(conv(32, bias=false) - bn - relu) * N] * M - conv(w, 1, bias=false) - bn"
           " - relu - gap - fc(10)\n")  # N=2 M=1 builds N=1 M=2's graph
    rc, diags = _family_lint(capsys, tmp_path, src, "--members")
    assert [d["notes"][-1] for d in diags] == [
        "in 4 of the family's 8 bindings, e.g. N=1 M=1 w=4"]


def test_members_says_a_sample_is_a_sample():
    from cnndsl.family import Family
    from cnndsl.family.lint_members import member_warnings
    [d] = member_warnings(Family(WIDTHS), [], sample=4)  # drawn: 0, 2, 3, 4 of 6
    assert (d.code, d.notes[-1]) == ("W0803", "in 1 of 4 members sampled from 6, e.g. w=4 "
                                              "depth=1")
    notes = [d.notes[-1] for d in member_warnings(Family(MOSTLY_VALID), [], sample=6)]
    assert notes == [  # drawn: M=1 w=32, M=3 and M=4 (both w), M=5 w=32 (fails)
        "in 1 of the 5 sampled bindings that compile (6 sampled from 12), e.g. M=1 w=32",
        "in 2 of the 5 sampled bindings that compile (6 sampled from 12), e.g. M=3 w=4"]


def test_a_misspelt_ranged_set_is_a_lint_warning_too(capsys, tmp_path):
    rc, diags = _family_lint(capsys, tmp_path, WIDTHS, "--set", "dpeth=1..2")
    assert rc == 1
    assert [(d["code"], d["message"]) for d in diags] == [
        ("W0201", "parameter `dpeth` was bound but the network does not use it")]
    rc, diags = _family_lint(capsys, tmp_path, WIDTHS, "--set", "depth=1..2")
    assert (rc, diags) == (0, [])
