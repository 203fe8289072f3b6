"""PyTorch's tools accept every emitted module and compute what eager mode computes:
``torch.jit.script``, ``torch.fx.symbolic_trace``, ``torch.export.export`` and
``torch.compile`` (the ``eager`` backend: Dynamo's capture without code generation, so
that it runs on any CPU in seconds).

Modules are compared in evaluation mode. A network with auxiliary heads returns the
logits in evaluation and ``(logits, aux1, ...)`` while training; its forward is
annotated ``-> Any`` so that TorchScript accepts both returns (and the scripted module
returns what the eager one does in either mode); the tracing tools (fx, export, Dynamo)
capture the mode they are given. The default suite checks a representative subset at
small inputs; ``-m slow`` checks every zoo network at its own input.
"""

from __future__ import annotations

import warnings

import pytest

import cnndsl
from cnndsl.api import ZOO_DIR

from .conftest import HAS_TORCH, needs_torch

if HAS_TORCH:
    import torch

ZOO = sorted(p.stem for p in ZOO_DIR.glob("*.cnn"))
TOOLS = ("script", "fx", "export", "compile")
# One network per feature the emission has (name, params, input): residual adds with
# projections, auxiliary heads, concatenation, ReLU6 and the shortcut-less inverted
# residual, scaled residuals, the position bias, stochastic depth.
SUBSET = [
    ("resnet18", {}, "3x64x64"),
    ("googlenet", {"aux": 1}, "3x96x96"),
    ("densenet121", {}, "3x32x32"),
    ("mobilenet_v2", {}, "3x32x32"),
    ("inception_resnet_v2", {}, "3x75x75"),
    ("alphago_policy", {}, None),
    ("resnet110_sd", {"n": 2}, None),
]


def _apply(tool: str, model, x):
    """The tool's version of ``model``, called on ``x``."""
    if tool == "script":
        return torch.jit.script(model)(x)
    if tool == "fx":
        return torch.fx.symbolic_trace(model)(x)
    if tool == "export":
        return torch.export.export(model, (x,)).module()(x)
    torch._dynamo.reset()  # no guards or caches left over from other modules
    return torch.compile(model, backend="eager")(x)


def check_tools(name: str, params: dict, shape: str | None, tools=TOOLS) -> None:
    net = cnndsl.compile(name, bindings=params, input=shape)
    torch.manual_seed(0)
    model = net.to_torch().eval()
    x = torch.randn(2, *net.graph.input_type.dims)
    with torch.no_grad():
        expected = model(x)
        for tool in tools:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the tools' own deprecation notes
                got = _apply(tool, model, x)
            assert torch.equal(got, expected), f"{name}: {tool} computes another output"


@needs_torch
@pytest.mark.parametrize("name,params,shape", SUBSET, ids=[s[0] for s in SUBSET])
def test_tools_accept_representative_modules(name, params, shape):
    check_tools(name, params, shape)


@needs_torch
def test_scripted_aux_network_returns_what_eager_returns_in_both_modes():
    net = cnndsl.compile("googlenet", bindings={"aux": 1}, input="3x64x64")
    model = net.to_torch()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit.script's deprecation note
        scripted = torch.jit.script(model)
    x = torch.randn(2, 3, 64, 64)
    for training in (True, False):
        model.train(training)
        scripted.train(training)
        torch.manual_seed(1)
        expected = model(x)
        torch.manual_seed(1)
        got = scripted(x)
        if training:
            assert isinstance(got, tuple) and len(got) == 3
            assert all(torch.equal(g, e) for g, e in zip(got, expected))
        else:
            assert torch.equal(got, expected)


@needs_torch
@pytest.mark.slow
@pytest.mark.parametrize("name", ZOO)
def test_tools_accept_every_zoo_module(name):
    check_tools(name, {}, None)
    if "aux" in cnndsl.compile(name).graph.params:
        check_tools(name, {"aux": 1}, None)
