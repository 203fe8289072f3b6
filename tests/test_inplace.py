"""In-place operations in the emitted forward (``nn.ReLU(inplace=True)``, ``x += identity``)
change no value: outputs, gradients and batch-norm statistics equal, bit for bit, those
of the out-of-place emission (``emit(..., inplace=False)``, the emission before in-place
operations existed), in training and in evaluation, from the same weights and seed.

An in-place operation that overwrote a value read later would change an output or a
gradient; one that overwrote a value its producer's backward reads would make backward
raise. The last tests check that this comparison catches both.
"""

from __future__ import annotations

import pytest

import cnndsl
from cnndsl.api import ZOO_DIR
from cnndsl.backends import inplace
from cnndsl.backends.torch_source import build, emit

from .conftest import HAS_TORCH, needs_torch

if HAS_TORCH:
    import torch

ZOO = sorted(p.stem for p in ZOO_DIR.glob("*.cnn"))
# One network per kind of in-place site, at inputs small enough for the default suite.
SUBSET = [
    ("resnet18", {}, "3x64x64"),  # ReLU after BN, += after a projection shortcut
    ("resnet20", {}, None),  # += onto the zero-padded shortcut
    ("mobilenet_v2", {}, "3x32x32"),  # ReLU6, += in the inverted residual
    ("densenet121", {}, "3x32x32"),  # ReLU after BN of a concatenation
    ("googlenet", {"aux": 1}, "3x64x64"),  # auxiliary heads, dropout
    ("inception_resnet_v2", {}, "3x75x75"),  # += after a scaled branch
    ("resnet110_sd", {"n": 2}, None),  # += after drop path (random in training)
    ("alphago_policy", {}, None),  # position bias
    ("preact_resnet164", {"n": 2}, None),  # += onto a projection conv
    ("seresnet50", {}, "3x32x32"),  # channel scaling by mul
    ("fractalnet", {}, None),  # dropout before BN, means of shared columns
    ("vgg11_lrn", {}, "3x32x32"),  # LRN, ReLU after fc
]


def pair(net) -> tuple:
    """The out-of-place and in-place modules of ``net``, with the same weights."""
    reference = emit(net.graph, net.source_name, net.params_count, inplace=False).source
    torch.manual_seed(0)
    ref = build(reference)
    torch.manual_seed(0)
    ours = build(net.to_python())
    ours.load_state_dict(ref.state_dict())
    return ref, ours


def run(model, x, training: bool, seed: int = 1) -> list:
    """Everything a step computes: outputs, input and parameter gradients, buffers."""
    model.train(training)
    model.zero_grad(set_to_none=True)
    x = x.clone().requires_grad_(True)
    torch.manual_seed(seed)  # dropout and drop path draw the same masks on both sides
    out = model(x)
    outs = out if isinstance(out, tuple) else (out,)
    g = torch.Generator().manual_seed(seed)
    torch.autograd.backward(outs, [torch.randn(o.shape, generator=g) for o in outs])
    with torch.no_grad():
        plain = model(x)
    return ([o.detach() for o in outs] + [x.grad] + list(plain if isinstance(plain, tuple)
                                                          else (plain,))
            + [p.grad for p in model.parameters()] + list(model.buffers()))


def assert_same(net, batch: int = 2) -> None:
    ref, ours = pair(net)
    x = torch.randn(batch, *net.graph.input_type.dims)
    before = x.clone()
    for training in (True, False):
        expected, got = run(ref, x, training), run(ours, x, training)
        assert len(expected) == len(got)
        for k, (e, g) in enumerate(zip(expected, got)):
            assert (e is None and g is None) or torch.equal(e, g), \
                f"{net.name}: value {k} differs ({'training' if training else 'evaluation'})"
    assert torch.equal(x, before)  # the caller's input is never overwritten


@needs_torch
@pytest.mark.parametrize("name,params,shape", SUBSET, ids=[s[0] for s in SUBSET])
def test_inplace_emission_is_bit_identical(name, params, shape):
    net = cnndsl.compile(name, bindings=params, input=shape)
    assert "inplace=True" in net.to_python()
    assert_same(net)


@needs_torch
@pytest.mark.slow
@pytest.mark.parametrize("name", ZOO)
def test_inplace_emission_is_bit_identical_for_every_zoo_network(name):
    net = cnndsl.compile(name)
    assert_same(net, batch=2)
    if "aux" in net.graph.params:
        assert_same(cnndsl.compile(name, bindings={"aux": 1}), batch=2)


SITES = """
block basic(c) = residual(conv(c) - bn - relu - conv(c) - bn) - relu
network sites:
    input 4x8x8
    relu - conv(8) as a - relu - conv(8) - add(id | a)
    conv(8) - sigmoid - relu - conv(8) - tanh - relu6
    conv(8) - dropout - leakyrelu(0.2) - conv(8) - elu - relu
    basic(8) as r - relu - add(id | r)
    flatten - relu - fc(16) as h - dropout - relu - fc(16) - add(id | h) - relu - fc(10)
"""


@needs_torch
def test_only_safe_sites_go_in_place():
    net = cnndsl.compile(SITES)
    text = net.to_python()
    sites = [ln.split("  #")[0].strip() for ln in text.splitlines()
             if "inplace=True" in ln or "+=" in ln]
    # Not in place: the relu of the network's input, of `a` (read again by the add),
    # after sigmoid, tanh and elu (their backward reads their output), of the block's
    # result `r` (read again), and after dropout of `h` (read again); the add of a relu's
    # output to `r` (neither may be overwritten).
    assert sites == [
        "self.relu1 = nn.ReLU(inplace=True)",  # the residual block's
        "self.relu2 = nn.ReLU(inplace=True)",
        "x += identity",
        "self.leakyrelu1 = nn.LeakyReLU(0.2, inplace=True)",  # conv - dropout - here
        "self.relu6 = nn.ReLU(inplace=True)",  # of a flattened sum
        "self.relu8 = nn.ReLU(inplace=True)",
        "x += conv1",  # conv(8) as a - ... - conv(8): the second conv's output
        "x += fc1",
    ], "\n".join(sites)
    assert_same(net)


@needs_torch
def test_the_comparison_catches_an_unsafe_inplace_operation(monkeypatch):
    """Allowed everywhere, in-place operations overwrite a value read later (a wrong
    output) or one a sigmoid's backward reads (backward raises): the check fails."""
    monkeypatch.setattr(inplace.Overwrites, "allowed", lambda self, value, reader: True)
    read_later = cnndsl.compile("input 4x8x8\nconv(8) as a - relu - conv(8) - add(id | a)")
    with pytest.raises(AssertionError, match="differs"):
        assert_same(read_later)
    saved = cnndsl.compile("input 4x8x8\nconv(8) - sigmoid - relu - conv(8)")
    with pytest.raises(RuntimeError, match="inplace operation"):
        assert_same(saved)
