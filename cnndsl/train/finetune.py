"""Fine-tuning: start from a weights file of the same architecture (``--init FILE``).

The file is a state dict as torchvision, timm or ``torch.save(model.state_dict())``
write it (also inside a ``{"state_dict": ...}``/``{"model": ...}`` checkpoint, with
DistributedDataParallel's ``module.`` prefixes, or a cnndsl checkpoint). It is read with
``weights_only=True`` (a file cannot run code) and copied in by the structural weight
transfer (:func:`cnndsl.port_weights`): names may differ, the order and shapes of the
tensors must not. Only the classifier may differ: when the data has another number of
classes than the file's head, the network is compiled with the data's ``classes`` and its
last layers whose shapes changed start from their fresh initialisation; the run says so.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import torch

from cnndsl.diagnostics import UserError
from cnndsl.port import COUNTER, TORCHVISION_AUX_PREFIXES, port_weights

from .protocol import NetworkLike

NESTED = ("state_dict", "model", "model_state_dict", "module", "net")


def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    p = Path(path).expanduser()
    if not p.is_file():
        raise UserError(f"--init {path}: no such file", help="give a state-dict file saved "
                        "with torch.save (torchvision's or timm's weights, a checkpoint)",
                        exit_code=2)
    try:
        data = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:  # pickle refusals, damaged zips, ...: one message
        first = (str(e).splitlines() or [type(e).__name__])[0]
        raise UserError(f"--init {path}: cannot read it as a PyTorch weights file: {first}",
                        help="cnndsl reads weights with weights_only=True; save a plain "
                             "state dict: torch.save(model.state_dict(), FILE)") from None
    for _ in range(2):  # {"state_dict": {...}} and the like
        if isinstance(data, Mapping):
            inner = next((data[k] for k in NESTED if isinstance(data.get(k), Mapping)), None)
            if inner is not None and not any(isinstance(v, torch.Tensor) for v in data.values()):
                data = inner
    if not isinstance(data, Mapping) or not data or \
            not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise UserError(f"--init {path}: not a state dict (a mapping of names to tensors)",
                        help="save one with torch.save(model.state_dict(), FILE)")
    prefix = "module."
    if all(k.startswith(prefix) for k in data):
        data = {k[len(prefix):]: v for k, v in data.items()}
    return dict(data)


def head_classes(state: Mapping[str, torch.Tensor]) -> int | None:
    """The class count of the file's classifier: the rows of its last 2-d weight."""
    weights = [v for k, v in state.items() if k.endswith("weight") and v.dim() == 2
               and not k.startswith(TORCHVISION_AUX_PREFIXES)]
    return int(weights[-1].shape[0]) if weights else None


def with_classes(net: NetworkLike, classes: int) -> NetworkLike:
    """``net`` compiled again with ``classes`` outputs (its ``classes`` parameter)."""
    from .protocol import bindings_of, rebuild

    imported = getattr(net, "imported", None)
    try:
        changed = rebuild(net.source, {**bindings_of(net), "classes": classes},
                          net.input_shape, imported.to_json() if imported else None, net.name,
                          getattr(net, "preset", None))
    except UserError:
        changed = None
    if changed is None or changed.num_classes != classes:
        raise UserError(
            f"the data has {classes} classes and the network {net.num_classes} outputs, and "
            f"its `classes` parameter cannot change that",
            help=f"declare it (network NAME(classes={net.num_classes}): ... fc(classes)) or "
                 f"write fc({classes}) as its last layer", exit_code=1)
    return changed


def load_init(model: torch.nn.Module, path: str) -> list[str]:
    """Copy the file's weights into ``model``; notes on what was left out."""
    state = read_state_dict(path)
    ignore = tuple(p for p in TORCHVISION_AUX_PREFIXES if any(k.startswith(p) for k in state))
    try:
        port_weights(state, model, ignore=ignore)
        return [f"init: every weight from {path}"]
    except UserError as strict:
        pairs = port_weights(state, model, strict=False, ignore=ignore)
        copied = {ours for _, ours in pairs}
        ours = [k for k in model.state_dict() if not k.endswith(COUNTER)]
        missed = [k for k in ours if k not in copied]
        tail = ours[len(ours) - len(missed):]
        if not missed or missed != tail or len(missed) > 2:  # more than the classifier
            raise UserError(f"--init {path}: its weights do not fit this network: "
                            f"{strict.message}", help=strict.help or "the file must hold "
                            "the same architecture's weights", exit_code=1) from None
        modules = sorted({k.rsplit(".", 1)[0] for k in missed})
        return [f"init: weights from {path}; the classifier ({', '.join(modules)}) starts "
                f"afresh: the file's has {head_classes(state)} classes"]
