"""Which layers train: ``--freeze NAME`` and the classifier of ``--head-lr``.

Layers are named as ``cnndsl summary`` and the module name them: a node
(``layer2_basic1_conv1``), a module path (``layer2.basic1.conv1``) or a block instance
(``layer2``, ``layer2.basic1``). ``--freeze NAME`` freezes every layer from the input up
to and including the last one NAME covers, in the network's order: their parameters
stop training and their batch norms keep the statistics they were given (evaluation
mode while training), as fine-tuning a pretrained backbone expects.
"""

from __future__ import annotations

import torch
from torch import nn

from cnndsl.diagnostics import UserError
from cnndsl.suggest import suggestions

from .optim import NORMS


def _paths(network: object) -> list[tuple[str, str]]:
    """(node name, module path) of every layer with a module, in the network's order."""
    paths = network.module_paths() if hasattr(network, "module_paths") else {}
    order = [n.name for n in network.graph.nodes] if hasattr(network, "graph") else []
    return [(name, paths[name]) for name in order if name in paths]


def frozen_paths(network: object, name: str) -> list[str]:
    """The module paths ``--freeze name`` freezes."""
    layers = _paths(network)
    covered = [i for i, (node, path) in enumerate(layers)
               if name in (node, path) or path.startswith(name + ".")]
    if not covered:
        names = [node for node, _ in layers] + sorted({p.split(".")[0] for _, p in layers})
        close = suggestions(name, names)
        raise UserError(f"--freeze {name}: no layer or block of that name",
                        help=(f"did you mean {', '.join(close)}? " if close else "")
                        + "names are those of `cnndsl summary` (layer2_basic1_conv1) or "
                          "module paths and blocks (layer2.basic1, layer2)", exit_code=2)
    return [path for _, path in layers[:covered[-1] + 1]]


def freeze(model: nn.Module, paths: list[str]) -> list[nn.Module]:
    """Stop training the modules at ``paths``; the norm layers among them (to keep in
    evaluation mode). Returns those norm layers."""
    norms = []
    for path in paths:
        m = model.get_submodule(path)
        for p in m.parameters():
            p.requires_grad_(False)
        norms += [x for x in m.modules() if isinstance(x, NORMS)]
    return norms


def head_parameters(network: object, model: nn.Module) -> list[torch.nn.Parameter]:
    """The parameters of the last layer that has any: the classifier."""
    for _, path in reversed(_paths(network)):
        params = list(model.get_submodule(path).parameters())
        if params:
            return params
    return []
