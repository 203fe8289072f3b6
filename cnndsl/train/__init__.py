"""Training: data sources, the loop, metrics, checkpoints, plots (issue 7).

``import cnndsl.train`` is light: torch and the submodules load on first use. The
package is itself callable, so ``cnndsl.train(network, data, ...)`` and
``cnndsl.train.train(network, data, ...)`` are the same call.

>>> import cnndsl.train
>>> sorted(cnndsl.train.__all__)[:3]
['Comparison', 'History', 'NetworkLike']
>>> net = cnndsl.compile("input 1x8x8\\nconv(4) - relu - gap - fc(10)")
>>> history = cnndsl.train(net, "synthetic:N=64", epochs=1, progress=False, device="cpu")
>>> len(history.records), history.records[0]["epoch"], type(history.model).__name__
(1, 1, 'Network')
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

__all__ = ["Comparison", "History", "NetworkLike", "TrainedModel", "evaluate_checkpoint",
           "export", "load_checkpoint", "load_run", "predict", "train"]

_LAZY = {
    "train": ("api", "train"), "Comparison": ("api", "Comparison"),
    "History": ("history", "History"), "NetworkLike": ("protocol", "NetworkLike"),
    "load_checkpoint": ("checkpoint", "load"),
    "evaluate_checkpoint": ("inference", "evaluate_checkpoint"),
    "predict": ("inference", "predict"),
    "load_run": ("export", "load_run"), "export": ("export", "export"),
    "TrainedModel": ("export", "TrainedModel"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(f"{__name__}.{module}"), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


class _CallableModule(types.ModuleType):
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.train(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
