"""Runs and stand-ins written before "bindings" was the word for bound values still work:
a checkpoint that records them only as ``params`` loads, evaluates and resumes; a
NetworkLike with ``params`` trains; a recipe's ``network_params`` reads; the old
one-letter names (``ImageSet.x``, ``Trainer.r``) answer, each with a
``DeprecationWarning``."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch
from fakenet import FakeNetwork

import cnndsl
from cnndsl.train import train
from cnndsl.train.config import Recipe, make_recipe
from cnndsl.train.data import ImageSet
from cnndsl.train.inference import load_model

FAST = dict(progress="none", plots=False)
SYN = "synthetic:N=64,shape=1x8x8,classes=4,seed=1,noise=0.3"
NET = "network t(w=4, classes=4):\n  input 1x8x8\n  conv(w, 3) - relu - pool - fc(classes)"


def as_written_before(run: Path) -> None:
    """The run's checkpoints as cnndsl wrote them before: bindings under ``params``
    only, the recipe's proposal under ``network_params``."""
    for name in ("last.pt", "best.pt"):
        ckpt = torch.load(run / name, weights_only=True)
        ckpt["params"] = ckpt.pop("bindings")
        ckpt["recipe"]["network_params"] = ckpt["recipe"].pop("network_bindings")
        torch.save(ckpt, run / name)


def test_a_run_written_before_bindings_loads_evaluates_and_resumes(tmp_path):
    run = tmp_path / "run"
    net = cnndsl.compile(NET, bindings={"w": 6})
    first = train(net, SYN, epochs=1, batch_size=16, out=run, **FAST)
    written = torch.load(run / "last.pt", weights_only=True)
    assert written["bindings"] == written["params"] == {"w": 6}
    as_written_before(run)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)  # reading old files is not
        model = cnndsl.load_run(run)
        loaded = load_model(run, "cpu")
    assert model.network.bindings == loaded.network.bindings == {"w": 6}
    x = torch.randn(2, 1, 8, 8)
    assert torch.equal(model.module(x), first.model.eval()(x))
    again = train(cnndsl.compile(NET, bindings={"w": 6}), SYN, epochs=2, batch_size=16,
                  resume=run, **FAST)
    assert len(again) == 2 and again.records[0] == first.records[0]
    with pytest.raises(cnndsl.UserError, match=r"bindings \{'w': 6\}"):
        train(cnndsl.compile(NET, bindings={"w": 5}), SYN, epochs=3, resume=run, **FAST)


class OldStandIn:
    """A NetworkLike as written before: its bindings are ``params``."""

    def __init__(self, params: dict):
        self._net = FakeNetwork("tiny", (1, 8, 8), 4, params, name="tiny")
        self.params = params
        self.name, self.source, self.path = "tiny", self._net.source, None
        self.input_shape, self.num_classes = (1, 8, 8), 4

    def to_torch(self) -> torch.nn.Module:
        return self._net.to_torch()


def test_a_stand_in_with_params_trains_and_warns(tmp_path):
    old = OldStandIn({"dropout": 0.1})
    assert not hasattr(old, "bindings")
    with pytest.warns(DeprecationWarning, match=r"network's `params` \(OldStandIn.params\)"):
        train(old, SYN, epochs=1, out=tmp_path / "run", **FAST)
    ckpt = torch.load(tmp_path / "run" / "last.pt", weights_only=True)
    assert ckpt["bindings"] == {"dropout": 0.1}


def test_a_recipe_reads_its_old_field_name_and_answers_to_it():
    r = make_recipe("alexnet2012")
    assert r.network_bindings == {"dropout": 0.5}
    assert Recipe.from_json({**r.to_json(), "network_bindings": {}} | {
        "network_params": {"dropout": 0.25}}).network_bindings == {"dropout": 0.25}
    with pytest.warns(DeprecationWarning, match="`Recipe.network_params` is deprecated"):
        assert r.network_params == {"dropout": 0.5}


def test_one_letter_names_of_images_and_the_trainer_are_deprecated_aliases():
    images = ImageSet(torch.zeros(3, 1, 2, 2), torch.tensor([0, 1, 0]))
    with pytest.warns(DeprecationWarning, match="`ImageSet.x` is deprecated: use "
                      "`ImageSet.pixels`"):
        assert images.x is images.pixels
    with pytest.warns(DeprecationWarning, match="`ImageSet.y`"):
        assert images.y is images.labels
    seen = []

    def callback(event):
        if not seen:
            with pytest.warns(DeprecationWarning, match="`Trainer.r` is deprecated"):
                seen.append(event.trainer.r is event.trainer.recipe)
            with pytest.warns(DeprecationWarning, match="`Trainer.o`"):
                seen.append(event.trainer.o is event.trainer.options)
    train(FakeNetwork("tiny", (1, 8, 8), 4, name="tiny"), SYN, epochs=1, callback=callback,
          **FAST)
    assert seen == [True, True]
