"""Run a compiled network's module and record what really comes out of each layer."""

from __future__ import annotations


def observed_shapes(net, batch: int = 2) -> dict[str, tuple[int, ...]]:
    """Output shape (without batch) of every module that has an IR node, by node path."""
    import torch

    model = net.to_torch().eval()
    paths = {n.path for n in net.graph.nodes}
    seen: dict[str, tuple[int, ...]] = {}
    hooks = []
    for name, module in model.named_modules():
        if name in paths:
            def hook(mod, inp, out, name=name):
                seen[name] = tuple(out.shape[1:])
            hooks.append(module.register_forward_hook(hook))
    with torch.no_grad():
        y = model(torch.randn((batch,) + tuple(net.input_shape)))
    for h in hooks:
        h.remove()
    seen["<output>"] = tuple(y.shape)
    return seen


def module_params(net) -> int:
    model = net.to_torch()
    return sum(p.numel() for p in model.parameters())
