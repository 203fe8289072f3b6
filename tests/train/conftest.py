"""Fixtures for the training tests: stand-in networks (see fakenet.py)."""

from __future__ import annotations

import importlib.util

import pytest

if importlib.util.find_spec("torch") is None:  # training needs torch
    collect_ignore_glob = ["test_*.py"]
else:
    import torch
    from fakenet import FakeNetwork

    @pytest.fixture
    def tiny_net() -> FakeNetwork:
        return FakeNetwork("tiny", (1, 8, 8), 10, name="tiny")

    @pytest.fixture
    def lenet_net() -> FakeNetwork:
        return FakeNetwork("lenet", (1, 32, 32), 10, name="lenet5")

    @pytest.fixture(autouse=True)
    def _no_image_cache(monkeypatch: pytest.MonkeyPatch) -> None:
        """Folders are decoded afresh (test_photo_folder checks the cache on its own)."""
        monkeypatch.setenv("CNNDSL_IMAGE_CACHE", "off")

    @pytest.fixture(autouse=True)
    def _threads() -> None:
        torch.set_num_threads(min(2, torch.get_num_threads()))
