"""Conformance of `cnndsl import` on torchvision: each of the 68 classification CNNs
(torchvision 0.29.1; the catalogue in tests/data/refs/torchvision_catalogue.json) is
written as a program that compiles without warnings, verifies (its parameter count is
the model's, and after copying the model's weights its outputs equal the model's within
a relative error of 1e-5, eval mode) and is at most three times the length of the zoo's
hand-written file for that architecture.

Inputs are small (the importer writes the model for the input it traces); the sizes
are the smallest each architecture takes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import cnndsl

pytestmark = pytest.mark.conformance

torch = pytest.importorskip("torch")
models = pytest.importorskip("torchvision.models")

CATALOGUE = json.loads((Path(__file__).parents[1] / "data" / "refs" /
                        "torchvision_catalogue.json").read_text())["params"]
SIZE = {"alexnet": 64, "inception_v3": 75}
ZOO_NAME = {"alexnet": "alexnet_tv"}
# The auxiliary classifiers run only while training: an eval-mode trace never reaches
# them, so the models are built without them (their parameters would be unused).
KWARGS = {"googlenet": {"aux_logits": False, "init_weights": True},
          "inception_v3": {"aux_logits": False, "init_weights": True}}


def _lines(text: str) -> int:
    """Lines of program: comments and blank lines aside (the import's header, the zoo's
    citations)."""
    return sum(1 for line in text.splitlines() if line.strip() and not line.lstrip()
               .startswith("#"))


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_torchvision_model_imports_verifies_and_reads_like_the_zoo(name):
    torch.manual_seed(0)
    model = getattr(models, name)(**KWARGS.get(name, {}))
    size = SIZE.get(name, 32)
    result = cnndsl.from_torch(model, input=f"3x{size}x{size}", name=name)
    assert result.verification.ok, result.verification
    if name not in KWARGS:
        assert result.network.params_count == CATALOGUE[name]  # torchvision's own count
    assert result.verification.max_rel_error <= 1e-5
    assert not cnndsl.compile(result.source, strict=True).diagnostics
    zoo = cnndsl.compile(ZOO_NAME.get(name, name))
    zoo_lines = _lines(Path(zoo.path).read_text())
    assert _lines(result.source) <= 3 * zoo_lines, result.source
