"""Checked = built: for generated programs (tests/security/programs.py), the PyTorch
module built from the emitted code is the network the compiler checked. Its parameter
count is the static count; every module that has a node runs once and gives the node's
shape; the module's outputs and every hooked module output equal an independent
reference interpreter's value for that node (tests/security/reference.py), in
evaluation and in training (batch statistics; auxiliary heads returned), with random BN
statistics and affine parameters so that nothing passes by default initialization.

The default run draws 2,000 programs; ``-m long`` draws CNNDSL_LONG_EXAMPLES (100,000).
"""

from __future__ import annotations

import os
import zlib

import pytest
from hypothesis import HealthCheck, Phase, assume, given, settings

import cnndsl
from cnndsl import ops

from .programs import BUILTINS, Program, coverage, programs

torch = pytest.importorskip("torch")
from .reference import REFS, run_reference  # noqa: E402

RTOL, ATOL, BATCH = 1e-4, 1e-5, 2
# Derandomized: a failure reproduces. No shrinking: it takes minutes on these programs,
# and the failing program is printed whole (a few lines).
SETTINGS = dict(deadline=None, derandomize=True, database=None, report_multiple_bugs=False,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.filter_too_much])


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: threads only add overhead
    yield
    torch.set_num_threads(threads)


def randomize(model: torch.nn.Module) -> None:
    """Random BN statistics, and random values for parameters that start constant
    (BN and group-norm affine, PReLU slopes, position biases), so they are really used."""
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, torch.nn.modules.batchnorm._BatchNorm):
                mod.running_mean.normal_(0, 0.5)
                mod.running_var.uniform_(0.5, 2.0)
        for p in model.parameters():
            first = p.flatten()[0]
            if bool((p == first).all()):  # a default: ones (scales) or zeros (biases)
                lo = 0.5 if float(first) else -0.5
                p.uniform_(lo, lo + 1.0)


def close(got: torch.Tensor, want: torch.Tensor, what: str, text: str) -> None:
    assert got.shape == want.shape, f"{what}: shape {tuple(got.shape)} != {tuple(want.shape)}"
    same = bool(torch.allclose(got, want, rtol=RTOL, atol=ATOL))
    diff = (got - want).abs().max().item() if got.numel() else 0.0
    assert same, f"{what}: the module differs from the reference by {diff:.3g}\n{text}"


def forward(net: cnndsl.Network, model: torch.nn.Module, x: torch.Tensor, training: bool
            ) -> tuple[object, dict[str, list]]:
    """The model's output and each node's module outputs (a list: one call each), copied
    when made: an in-place ReLU or add later overwrites the tensor a module returned."""
    seen: dict[str, list] = {}
    hooks = []
    for name, path in net.module_paths().items():
        seen[name] = []
        hooks.append(model.get_submodule(path).register_forward_hook(
            lambda mod, inp, out, name=name: seen[name].append(out.clone())))
    model.train(training)
    try:
        with torch.no_grad():
            y = model(x)
    finally:
        for h in hooks:
            h.remove()
    return y, seen


def check_program(net: cnndsl.Network, text: str) -> None:
    """Every claim the compiler makes about ``net``, checked on the built module."""
    graph = net.graph
    torch.manual_seed(zlib.crc32(text.encode()))
    model = net.to_torch().double()
    assert sum(p.numel() for p in model.parameters()) == net.params_count, text
    paths = net.module_paths()
    assert len(set(paths.values())) == len(paths), f"a module serves two nodes\n{text}"
    randomize(model)
    x = torch.randn((BATCH,) + tuple(net.input_shape), dtype=torch.float64)
    main = graph.ancestors([graph.output])
    for training in (False, True):  # training: batch statistics, the auxiliary heads
        y, seen = forward(net, model, x, training)
        want = run_reference(net, model, x, training)
        if training and graph.aux:
            assert isinstance(y, tuple) and len(y) == 1 + len(graph.aux), (
                f"training: expected (main, *{len(graph.aux)} aux)\n{text}")
            outs = dict(zip((graph.output, *graph.aux), y))
        else:
            assert isinstance(y, torch.Tensor), f"expected the main output alone\n{text}"
            outs = {graph.output: y}
        for name, out in outs.items():
            assert tuple(out.shape) == (BATCH,) + graph[name].type.dims, f"{name}\n{text}"
            if want[name] is not None:
                close(out, want[name], f"output {name} (training={training})", text)
        for name, calls in seen.items():
            node = graph[name]
            runs = {1} if training or name in main else {0, 1}  # heads only while training
            assert len(calls) in runs, (
                f"module of {name} ran {len(calls)} times (training={training})\n{text}")
            for out in calls:
                assert tuple(out.shape) == (BATCH,) + node.type.dims, (
                    f"{name}: module gives {tuple(out.shape)[1:]}, IR says {node.type}\n{text}")
                if want[name] is not None:
                    close(out, want[name], f"node {name} (training={training})", text)


def run(prog: Program) -> None:
    try:
        net = cnndsl.loads(prog.text, bindings=prog.params)
    except cnndsl.CnnError:
        assume(False)  # the shape model and the compiler disagree: rare, see programs.py
    check_program(net, prog.text + f"params={prog.params}")


@settings(max_examples=2000, **SETTINGS)
@given(programs())
def test_checked_equals_built(prog: Program) -> None:
    run(prog)


@pytest.mark.long
@settings(max_examples=int(os.environ.get("CNNDSL_LONG_EXAMPLES", "100000")), **SETTINGS)
@given(programs())
def test_checked_equals_built_long(prog: Program) -> None:
    run(prog)


def test_every_operator_has_a_reference() -> None:
    missing = sorted(op.name for op in ops.all_ops() if op.name not in REFS)
    assert not missing, f"add a reference function for {missing} in tests/security/reference.py"


def test_programs_compile_and_use_every_operator() -> None:
    """The generator's programs compile (a skip is a shape-model slip) and use every
    operator (the identity leaves no node), the inner softmax, builtin and prelude block."""
    skipped, total, counts = coverage(600)
    assert skipped <= 0.05 * total, f"{skipped} of {total} generated programs do not compile"
    want = {op.name for op in ops.all_ops()} - {"identity"}
    want |= {"softmax/inner"} | {f"{b}(...)" for b in BUILTINS if b not in ("res", "cat", "sum",
                                                                            "avg", "join")}
    assert not want - set(counts), f"never generated: {sorted(want - set(counts))}"


# ---------------------------------------------------------------- regressions
UNET = """
block double(c) = conv(c, 3) - bn - relu - conv(c, 3) - bn - relu
block up(c, skip) = deconv(c, 2, stride=2) - concat(skip | id) - double(c)
network unet:
    input 1x32x32
    double(8) as e1 - maxpool - double(16) as e2 - maxpool - double(32)
    up(16, e2) - up(8, e1) - conv(2, 1)
"""


def test_unet_decoder_block_taking_a_named_tensor() -> None:
    net = cnndsl.loads(UNET)
    assert net.params_count == 29_650
    assert net.output_shape == (2, 32, 32)
    check_program(net, UNET)


ATTENTION = "input 3x8x8\nconv(8) as a - mul(a | gap - fc(8) - softmax) - conv(4)\n"


def test_inner_softmax_is_computed() -> None:
    net = cnndsl.loads(ATTENTION)
    soft = next(n for n in net.graph.nodes if n.op == "softmax")
    model = net.to_torch().double()
    x = torch.randn(2, 3, 8, 8, dtype=torch.float64)
    want = run_reference(net, model, x)
    weights = want[soft.name]
    assert torch.allclose(weights.sum(1), torch.ones(2, dtype=torch.float64)), "softmax over 8"
    assert torch.allclose(weights, torch.softmax(want[soft.inputs[0]], dim=1))
    with torch.no_grad():
        y = model.eval()(x)
    assert torch.allclose(y, want[net.graph.output], rtol=RTOL, atol=ATOL), (
        "the module does not compute the channel-attention softmax (emitted as the identity?)")
    check_program(net, ATTENTION)


# Bugs this test found (minimal programs); each is a way the built module is not the
# network the compiler checked.
FOUND = {
    # a tensor named at the end of an aux head and used by the main chain: the module
    # computes the head only while training, so evaluation gets None
    "aux-result-used-by-main-chain":
        "input 2x8x8\nconv(4) - aux(gap - fc(3) as t) - gap - concat(id | t)\n",
    # an aux head read from outside is inlined after the main output, whose variable `x`
    # it overwrites: the module returns the head's tensor
    "inlined-aux-overwrites-output":
        "input 2x8x8\nconv(4) as t - conv(4) - aux(add(id | t) - gap)\n",
    # the network's last block ends with aux(...): emission fails (KeyError)
    "block-ending-with-aux-is-last": "block b = conv(4) - aux(gap - fc(3))\ninput 2x8x8\nb\n",
    # droppath(1) (p=1 is allowed) divides by keep = 0 while training: NaN, not zeros
    "droppath-p1-training": "input 2x8x8\nconv(4) - residual(conv(4) - droppath(1))\n",
    # two calls of a block share a class whose conv width is written `2 * theta` from a
    # fractional argument: nn.Conv2d(2, 1.0) (also `block b(w) = conv(w)`, b(4) - b(3.0))
    "shared-class-float-argument": "input 2x8x8\ntransition(1) - transition(0.5)\n",
}


@pytest.mark.parametrize("text", FOUND.values(), ids=FOUND.keys())
def test_found(text: str) -> None:
    check_program(cnndsl.loads(text), text)
