"""The package stays light to import, and is callable."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("module", ["cnndsl.train", "cnndsl.train.cli"])
def test_importing_does_not_load_torch(module: str) -> None:
    code = f"import sys, {module}; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout.strip()
    assert out == "False"


def test_package_is_callable_and_exports_lazily() -> None:
    import cnndsl.train as T
    from cnndsl.train.api import train

    assert callable(T) and T.train is train
    assert T.History.__name__ == "History"
    with pytest.raises(AttributeError):
        T.no_such_thing  # noqa: B018


def test_call_through_the_package(tiny_net) -> None:
    import cnndsl.train as T

    h = T(tiny_net, "synthetic:N=32,classes=10", epochs=1, progress="none", plots=False)
    assert len(h) == 1 and h.network == "tiny"
