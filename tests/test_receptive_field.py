"""Receptive fields: the slides' 7x7 claim, VGG16's figures, branches, merges, W0601."""

from pathlib import Path

import pytest

import cnndsl
from cnndsl.cli import main
from cnndsl.passes.receptive_field import RF, adaptive_window, alignment_warnings, receptive_field

NETS = Path(__file__).parent / "data" / "cost"

VGG16 = """input 3x224x224
[conv3-64]*2 - maxpool - [conv3-128]*2 - maxpool - [conv3-256]*3 - maxpool - [conv3-512]*3 \
- maxpool - [conv3-512]*3 - maxpool - FC-4096 - relu - FC-4096 - relu - FC-1000"""


def rf_of(src: str) -> dict:
    return receptive_field(cnndsl.compile(src).graph)


def test_three_stacked_3x3_convs_see_7x7():
    rf = rf_of("input 3x32x32\nconv(8, 3) - conv(8, 3) - conv(8, 3)")
    assert [rf[f"conv{i}"].size for i in (1, 2, 3)] == [(3, 3), (5, 5), (7, 7)]
    assert rf["conv3"].jump == (1, 1) and rf["conv3"].start == (0.0, 0.0)
    assert rf_of("input 3x32x32\nconv(8, 7)")["conv1"].size == (7, 7)  # the same field


def test_vgg16_conv5_3_and_pool5():
    rf = rf_of(VGG16)
    assert rf["conv13"].size == (196, 196)  # conv5_3
    assert rf["pool5"].size == (212, 212) and rf["pool5"].jump == (32, 32)
    assert [rf[f"pool{i}"].square for i in range(1, 6)] == [6, 16, 44, 100, 212]
    assert rf["pool1"].start == (0.5, 0.5)  # a 2x2 window is centred between pixels


def test_stride_dilation_and_rectangular_kernels():
    rf = rf_of("input 3x32x32\nconv(8, 3, stride=2) - conv(8, 3)")
    assert rf["conv2"].size == (7, 7) and rf["conv2"].jump == (2, 2)
    rf = rf_of("input 3x32x32\nconv(8, 3x1) - conv(8, 3, dilation=2)")
    assert rf["conv1"].size == (3, 1) and rf["conv2"].size == (7, 5)
    assert str(rf["conv2"]) == "7x5" and rf["conv2"].square is None
    rf = rf_of("input 3x32x32\nconv(8, 3, stride=2, pad=0)")
    assert rf["conv1"].start == (1.0, 1.0)  # no padding: the first window is centred at 1


def test_branches_take_the_maximum_over_paths():
    rf = rf_of("input 8x16x16\nconcat(conv(8, 1) | conv(8, 3) | conv(8, 3) - conv(8, 3))")
    assert rf["concat1"].size == (5, 5)
    rf = rf_of("input 8x16x16\nadd(id | conv(8, 3) - conv(8, 3) - conv(8, 3))")
    assert rf["add1"].size == (7, 7)


def test_global_pooling_sees_the_whole_map_and_vectors_keep_it():
    rf = rf_of("input 3x32x32\nconv(8, 3, stride=2) - gap - fc(10)")
    assert rf["conv1"].size == (3, 3)
    assert rf["gap1"].size == (3 + 15 * 2, 3 + 15 * 2)
    assert rf["fc1"] == rf["gap1"]
    assert rf_of("input 64\nfc(10)") == {"input": None, "fc1": None}


def test_adaptive_pooling_windows():
    assert adaptive_window(14, 7) == (2, 2) and adaptive_window(7, 7) == (1, 1)
    assert adaptive_window(13, 6) == (3, 2)
    rf = rf_of("input 3x14x14\nadaptiveavgpool(7)")
    assert rf["avgpool1"] == RF((2, 2), (2, 2), (0.5, 0.5))


SKEWED = "input 8x16x16\nconcat(conv(8, 2, stride=2, pad=0) | conv(8, 3, stride=2, pad=1))"


def test_misaligned_branches_warn_w0601():
    net = cnndsl.compile(SKEWED)
    warnings = alignment_warnings(net.graph)
    assert [d.code for d in warnings] == ["W0601"]
    assert warnings[0].span is not None and "conv1: centre 0.5" in warnings[0].label
    assert "W0601" in [d.code for d in net.summary().diagnostics]


@pytest.mark.parametrize("src", [
    # ResNet-D's shortcut: a 2x2 average pool against the body's strided 3x3 conv
    "input 8x16x16\nresidual(conv(16, 3, 2) - bn, shortcut=avgpool(2) - conv(16, 1) - bn)",
    "input 8x16x16\nconcat(maxpool(2) | conv(8, 3, stride=2, pad=1))",
    # a U-Net / HRNet fusion: the coarse path upsampled back onto the fine one
    "input 8x16x16\nconv(8, 3) as fine\nfine - conv(8, 3, 2) - upsample(2) as coarse\n"
    "add(fine | coarse)",
    "input 8x16x16\nconv(8, 3) as fine\nfine - conv(8, 3, 2) - deconv(8) as coarse\n"
    "concat(fine | coarse)",
])
def test_deliberate_half_pixel_offsets_do_not_warn(src):
    """Offsets an even pooling window or an upsampling makes cannot be padded away."""
    net = cnndsl.compile(src)
    assert alignment_warnings(net.graph) == [] and net.warnings == []


@pytest.mark.parametrize("src", [
    "input 8x16x16\nconcat(conv(8, 1) | conv(8, 3) | conv(8, 5) | maxpool(3, stride=1, pad=1))",
    "input 16x32x32\nresidual(conv(32, 3, 2) - bn - relu - conv(32, 3) - bn, shortcut=pad) - "
    "residual(conv(32, 3) - bn - se(32)) - relu",
])
def test_aligned_merges_do_not_warn(src):
    assert alignment_warnings(cnndsl.compile(src).graph) == []


def test_resnet_projection_shortcuts_are_aligned():
    net = cnndsl.compile(NETS / "tv_resnet18.cnn")
    assert alignment_warnings(net.graph) == []
    rf = receptive_field(net.graph)
    out = [n for n in net.graph.nodes if n.op == "add"][-1]
    assert rf[out.name].size == (435, 435) and rf[out.name].jump == (32, 32)


def test_strict_summary_turns_w0601_into_an_error(capsys, tmp_path):
    f = tmp_path / "skew.cnn"
    f.write_text(SKEWED + "\n")
    assert main(["summary", str(f)]) == 0
    assert "warning[W0601]" in capsys.readouterr().err
    assert main(["summary", str(f), "--strict"]) == 1
    assert "error[W0601]" in capsys.readouterr().err


def test_w0601_can_be_allowed_on_its_line():
    src = SKEWED + "  # allow W0601\n"
    assert [d.code for d in cnndsl.compile(src).summary().diagnostics] == []
