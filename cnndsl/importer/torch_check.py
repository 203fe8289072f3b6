"""A numerical self-check of an import, without the writer: the imported graph emitted
as PyTorch straight away (:func:`cnndsl.backends.torch_render.emit`), the original's
weights copied in node by node (:attr:`Imported.weights`, by the emission's module
map), and both run in eval mode on the same seeded batch.

>>> import torch.nn as nn
>>> from cnndsl.importer.torch_trace import import_module
>>> m = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten())
>>> error = self_check(m, import_module(m, (3, 6, 6)))
>>> error < 1e-6
True
"""

from __future__ import annotations

from typing import Any

import torch

from ..backends.torch_build import build
from ..backends.torch_render import emit
from .common import GraphMaker, Imported, ImportFailure


class CheckFailure(AssertionError):
    """The rebuilt module cannot take the original's weights, or computes otherwise."""


def rebuild(imported: Imported) -> torch.nn.Module:
    """A fresh module of the imported graph (as ``Network.to_torch`` builds one) holding
    the original's weights; raises :class:`CheckFailure` where a node's tensors do not
    fit the module the emission gives it."""
    emitted = emit(imported.graph, imported.graph.name, None, inplace=False)
    model = build(emitted.source)
    missing = set(imported.weights) - set(emitted.modules)
    if missing:
        raise CheckFailure(f"no module holds the weights of {sorted(missing)[:3]}")
    with torch.no_grad():
        for node, tensors in imported.weights.items():
            module = model.get_submodule(emitted.modules[node])
            slots = [t for k, t in module.state_dict(keep_vars=True).items()
                     if not k.endswith("num_batches_tracked")]
            if len(slots) != len(tensors):
                raise CheckFailure(f"{node}: {len(tensors)} tensors for {len(slots)} slots")
            for slot, value in zip(slots, tensors):
                if tuple(slot.shape) != tuple(value.shape):
                    raise CheckFailure(f"{node}: a tensor of {tuple(value.shape)} for "
                                       f"{tuple(slot.shape)}")
                slot.copy_(value)
    return model


def self_check(original: torch.nn.Module, imported: Imported, batch: int = 2,
               seed: int = 0) -> float:
    """The largest difference between the outputs of ``original`` and of the rebuilt
    import, over the largest output (both in eval mode; the original's training
    flags are restored)."""
    model = rebuild(imported).eval()
    shape = imported.graph.input_type.dims
    first = next(iter(original.parameters()), None)
    x = torch.randn((batch, *shape), generator=torch.Generator().manual_seed(seed))
    if first is not None:
        x = x.to(first.device, first.dtype)
    flags = {m: m.training for m in original.modules()}
    try:
        original.eval()
        with torch.no_grad():
            want = _tensor(original(x))
            got = model.to(x.device, x.dtype)(x)
    finally:
        for m, training in flags.items():
            m.training = training
    if tuple(got.shape) != tuple(want.shape):
        raise CheckFailure(f"outputs of {tuple(got.shape)} against {tuple(want.shape)}")
    scale = float(want.abs().max())
    return float((want - got).abs().max()) / max(scale, 1e-12)


def behaves_as(module: torch.nn.Module, op: str, attrs: dict[str, Any],
               shape: tuple[int, ...], weights: list[Any]) -> bool:
    """Whether ``module`` computes, in eval mode, what the emission of ``op`` with
    ``attrs`` and ``weights`` computes on inputs of ``shape`` (batch aside): how a class
    claimed by its bare name (``LayerScale``, ``DropPath``) is told from another class
    of that name."""
    try:
        g = GraphMaker("probe", shape)
        node = g.add(op, attrs, [g.input], "probe")
        ours = rebuild(Imported(g.graph(), weights={node: weights} if weights else {}))
    except (ImportFailure, CheckFailure):
        return False
    first = next(iter(module.parameters()), None)
    x = torch.randn((2, *shape), generator=torch.Generator().manual_seed(0))
    if first is not None:
        x = x.to(first.device, first.dtype)
    training = module.training
    try:
        module.eval()
        with torch.no_grad():
            want = module(x)
            got = ours.eval().to(x.device, x.dtype)(x)
    except Exception:  # it cannot even take such an input
        return False
    finally:
        module.train(training)
    if not isinstance(want, torch.Tensor) or want.shape != got.shape:
        return False
    scale = float(want.abs().max())
    return float((want - got).abs().max()) <= 1e-5 * max(scale, 1e-12)


def _tensor(out: Any) -> torch.Tensor:
    """The first tensor of a model's output (a tuple or dict of outputs)."""
    while not isinstance(out, torch.Tensor):
        out = next(iter(out.values())) if isinstance(out, dict) else out[0]
    return out
