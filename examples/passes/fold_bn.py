"""A rewrite pass: fold each batch norm into the convolution before it.

    cnndsl summary net.cnn --pass examples/passes/fold_bn.py:fold_bn

At inference a batch norm is an affine map per channel, ``y = g (x - m) / s + b`` with
``s = sqrt(var + eps)``, so a conv followed by it is one conv with scaled filters and a
bias: ``W' = W g / s`` (each output channel's filter) and ``b' = b + (b_conv - m) g / s``
(``b_conv`` is 0 for a conv without bias). The rewrite gives the conv a bias and removes
the norm; its readers (or the network's output) read the conv instead. Only a conv whose
one reader is the norm is folded.

What changes: per folded pair, the parameter count drops by C (the norm's 2C scale and
shift, less the conv's new C biases, where it had none) and the norm's 2C buffers go;
the norm's MACs (2 per element) go too. The folded network computes what the original
computes *in evaluation mode*; it does not train the same (there is no norm left).

Weights: ``cnndsl.port_weights`` cannot carry a trained model over, because the two
hold different tensors (no norm, new biases). :func:`fold_weights` computes them with
the formulas above from the trained model, pairing layers by module path (node names
are kept, so the conv's path is the same in both networks). Without it, use the folded
network for deployment costing only (``summary``, ``compile``).
"""

from __future__ import annotations

import dataclasses

from cnndsl.ir.graph import Graph
from cnndsl.passes import rewrite


@rewrite
def fold_bn(graph: Graph) -> Graph:
    """The graph with every conv -> bn pair made one conv with a bias."""
    readers = graph.consumers()
    folded: dict[str, str] = {}  # removed norm -> the conv that now gives its value
    for node in graph.nodes:
        if node.op != "bn" or len(node.inputs) != 1:
            continue
        src = graph[node.inputs[0]]
        if src.op == "conv" and readers[src.name] == [node.name] and \
                src.name not in (graph.output, *graph.aux):
            folded[node.name] = src.name
    nodes = []
    for node in graph.nodes:
        if node.name in folded:
            continue
        if node.name in folded.values():
            node = dataclasses.replace(node, attrs=tuple(
                (k, True if k == "bias" else v) for k, v in node.attrs))
        inputs = tuple(folded.get(i, i) for i in node.inputs)
        nodes.append(dataclasses.replace(node, inputs=inputs))
    return dataclasses.replace(graph, nodes=tuple(nodes),
                               output=folded.get(graph.output, graph.output),
                               aux=tuple(folded.get(a, a) for a in graph.aux))


def fold_weights(model, net, folded_net) -> dict:
    """A state_dict for ``folded_net.to_torch()`` from ``model``, a trained
    ``net.to_torch()``: each folded conv's weights and bias computed from its norm's
    statistics (evaluation mode), every other tensor copied by module path."""
    import torch

    state = model.state_dict()
    paths = net.module_paths()
    new_paths = folded_net.module_paths()
    graph = net.graph
    out = {}
    for node in folded_net.graph.nodes:
        if node.name not in new_paths:
            continue
        old, new = paths[node.name], new_paths[node.name]
        readers = [graph[r] for r in graph.consumers()[node.name]]
        bn = readers[0] if node.op == "conv" and len(readers) == 1 and \
            readers[0].op == "bn" and readers[0].name not in new_paths else None
        if bn is None:
            for k, v in state.items():
                if k.startswith(old + "."):
                    out[new + k[len(old):]] = v
            continue
        p = paths[bn.name]
        eps = bn.attr_map["eps"]
        mean, var = state[f"{p}.running_mean"], state[f"{p}.running_var"]
        gamma = state.get(f"{p}.weight", torch.ones_like(mean))
        beta = state.get(f"{p}.bias", torch.zeros_like(mean))
        scale = gamma / torch.sqrt(var + eps)
        w = state[f"{old}.weight"]
        b = state.get(f"{old}.bias", torch.zeros_like(mean))
        out[f"{new}.weight"] = w * scale.reshape(-1, *([1] * (w.dim() - 1)))
        out[f"{new}.bias"] = beta + (b - mean) * scale
    return out
