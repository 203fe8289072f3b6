"""Activation memory: dtypes, the peak of a straight-line forward, the training estimate."""

import pytest

import cnndsl
from cnndsl.passes.memory import (
    activation_memory,
    dtype_bytes,
    live_intervals,
    peak_live,
    training_memory,
)

VGG16 = """input 3x224x224
[conv3-64]*2 - maxpool - [conv3-128]*2 - maxpool - [conv3-256]*3 - maxpool - [conv3-512]*3 \
- maxpool - [conv3-512]*3 - maxpool - FC-4096 - relu - FC-4096 - relu - FC-1000"""


def graph(src: str):
    return cnndsl.compile(src).graph


def test_vgg16_bytes_per_image_by_dtype():
    g = graph(VGG16)
    fp32 = activation_memory(g)
    assert fp32.elements == 15_237_608 and fp32.bytes == 60_950_432  # 61.0 MB, not 96 MB
    assert activation_memory(g, "bf16").bytes == activation_memory(g, "fp16").bytes == 30_475_216
    assert fp32.peak_elements == 2 * 64 * 224 * 224 and fp32.peak_at == "conv2"


def test_peak_of_a_chain_holds_a_layer_input_and_output():
    g = graph("input 3x32x32\nconv(16, 3) - relu - pool - fc(10)")
    assert peak_live(g) == (16 * 32 * 32 + 16 * 16 * 16, "pool1")  # relu was in place
    assert activation_memory(g).elements == 3072 + 16384 + 4096 + 10


def test_a_shortcut_keeps_the_block_input_alive():
    g = graph("input 8x16x16\nconv(8, 3) - add(id | conv(8, 3) - conv(8, 3))")
    n = 8 * 16 * 16
    # running conv3: conv1 (held for the add), conv2 and conv3
    assert peak_live(g) == (3 * n, "conv3")
    plain = graph("input 8x16x16\nconv(8, 3) - conv(8, 3) - conv(8, 3)")
    assert peak_live(plain)[0] == 2 * n


def test_live_intervals_follow_aliases():
    net = cnndsl.compile("input 4x8x8\nconv(4, 3) - relu - flatten - fc(2)")
    spans = live_intervals(net.graph, net.cost)
    assert set(spans) == {"input", "conv1", "fc1"}  # relu and flatten reuse conv1's memory
    assert spans["conv1"] == (1, 4)  # created by conv1, last read by fc1
    assert spans["fc1"] == (4, 4)


def test_training_estimate():
    g = graph("input 3x32x32\nconv(16, 3) - bn - relu - gap - fc(10)")
    params = 448 + 32 + 170
    acts = 3072 + 2 * 16384 + 16 + 10
    t = training_memory(g, batch=32, optimizer="adamw")
    assert t.activations == acts * 32 * 4
    assert t.params == t.grads == params * 4
    assert t.optimizer_state == 2 * params * 4
    assert t.buffers == 32 * 4  # BN running mean and variance
    assert t.total == t.activations + 4 * params * 4 + 32 * 4
    assert training_memory(g, optimizer="sgd").optimizer_state == params * 4
    assert training_memory(g, optimizer="none").optimizer_state == 0
    half = training_memory(g, batch=32, optimizer="adam", dtype="bf16")
    assert half.activations == t.activations // 2 and half.params == t.params


@pytest.mark.parametrize("call", [
    lambda g: dtype_bytes("fp13"),
    lambda g: training_memory(g, optimizer="adamax2"),
    lambda g: training_memory(g, batch=0),
])
def test_bad_settings_are_value_errors(call):
    with pytest.raises(ValueError):
        call(graph("input 3x8x8\nconv(4, 3)"))


def test_peak_is_bounded_by_the_total_and_the_largest_tensor():
    net = cnndsl.compile("input 3x64x64\nconv(16, 3) - bn - relu - concat(conv(8, 1) | "
                         "conv(8, 3) | maxpool(3, stride=1, pad=1)) - gap - fc(10)")
    peak, _ = peak_live(net.graph)
    largest = max(c.activations for c in net.cost.nodes.values())
    assert largest < peak <= net.cost.activations
