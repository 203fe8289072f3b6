"""Replayed block calls (cnndsl/elaborate/memo.py) change nothing: every zoo network and
generated programs compile to the same IR, diagnostics and PyTorch source with and
without the replay, and the replay does happen where calls repeat."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

import cnndsl
from cnndsl.api import ZOO_DIR
from cnndsl.elaborate import calls

from .security.programs import Program, programs

ZOO = sorted(p.stem for p in ZOO_DIR.glob("*.cnn"))


def compiled(text_or_name: str, bindings=None, memo: bool = True, **kw):
    old = calls.MEMOIZE
    calls.MEMOIZE = memo
    try:
        return cnndsl.compile(text_or_name, bindings=bindings, **kw)
    except cnndsl.CnnError as e:
        return [(d.code, d.message, str(d.span)) for d in e.diagnostics]
    finally:
        calls.MEMOIZE = old


def facts(net) -> object:
    if isinstance(net, list):
        return net
    return (net.graph.to_json(), net.dump_ir(), net.to_python(),
            [(d.code, d.message, str(d.span)) for d in net.diagnostics])


@pytest.mark.parametrize("name", ZOO)
def test_zoo_networks_compile_alike_with_and_without_replay(name):
    assert facts(compiled(name)) == facts(compiled(name, memo=False))


@settings(max_examples=300, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.filter_too_much])
@given(programs())
def test_generated_programs_compile_alike_with_and_without_replay(prog: Program):
    assert facts(compiled(prog.text, prog.params)) == \
        facts(compiled(prog.text, prog.params, memo=False))


def test_resnet152_replays_its_repeated_bottlenecks():
    from cnndsl.elaborate import Elaborator
    from cnndsl.syntax.parser import parse
    el = Elaborator(parse((ZOO_DIR / "resnet.cnn").read_text(), "zoo/resnet.cnn"),
                    {}, None, base_dir=ZOO_DIR, preset="resnet152")
    el.run()
    bottlenecks = [k for k in el.memo.done if el.blocks["bottleneck"].defn is not None
                   and k[0] == id(el.blocks["bottleneck"].defn)]
    assert len(bottlenecks) == 8  # 50 bottleneck calls: 4 stages, the first and the rest
    assert len(el.builder.nodes) == 515


def test_a_block_reading_a_named_tensor_is_never_replayed():
    text = ("block up(c) = conv(c) - concat(skip | id)\ninput 3x8x8\n"
            "conv(4) as skip - up(4) - conv(4) as skip2 - up(4)")
    net = compiled(text)
    assert [n.inputs for n in net.graph if n.op == "concat"] == \
        [("conv1", "up1_conv1"), ("conv1", "up2_conv1")]
    assert facts(net) == facts(compiled(text, memo=False))
