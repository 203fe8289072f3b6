"""The round trip over the zoo: compile -> to_torch -> ``cnndsl.from_torch`` gives a
program that compiles to the same network (same operators, attributes and edges, names
aside: cnndsl.ir.canon) and verifies against the module it was read from.

A handful run by default; the whole zoo with -m slow.
"""

from __future__ import annotations

import pytest

import cnndsl
from cnndsl.commands.zoo import entries
from cnndsl.ir.canon import first_difference

torch = pytest.importorskip("torch")

from tests.test_import_torch import compile_small, randomize, without_head  # noqa: E402

ZOO = sorted(name for name, _ in entries())
# None: the network's own input (the slides' AlexNets end in a fixed 6x6x256 flatten)
SIZE = {"squeezenet1_0": 64, "squeezenet1_1": 64, "alexnet": None, "alexnet_tv": 64,
        "alexnet_2tower": None, "zfnet": 64, "inception_v3": 75, "inception_v4": 75,
        "inception_resnet_v2": 75, "googlenet": 32}
QUICK = ["resnet18", "densenet121", "mobilenet_v3_small", "shufflenet_v2_x0_5", "lenet5"]


def _size(name: str) -> int | None:
    net = cnndsl.compile(name)
    if net.input_shape[1:] in ((28, 28), (32, 32)) or len(net.input_shape) == 1 or \
            net.input_shape[1] < 32:
        return None  # already small
    return SIZE.get(name, 32)


def _round_trip(name: str) -> None:
    net = compile_small(name, _size(name))
    model = randomize(net.to_torch())
    result = cnndsl.from_torch(model, input=tuple(net.input_shape), name=name)
    assert first_difference(result.network.graph, without_head(net.graph)) is None
    assert result.verification.ok, result.verification
    assert not cnndsl.compile(result.source, strict=True).diagnostics


@pytest.mark.parametrize("name", QUICK)
def test_zoo_networks_round_trip_through_pytorch(name):
    _round_trip(name)


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in ZOO if n not in QUICK])
def test_the_whole_zoo_round_trips_through_pytorch(name):
    _round_trip(name)
