"""An analysis pass: arithmetic intensity, MACs / (parameters + activations), per layer.

    cnndsl summary net.cnn --pass examples/passes/arithmetic_intensity.py:arithmetic_intensity

A rough roofline measure: how many multiply-accumulates a layer does per element it
must read as weights or write as output (per image, batch 1). Large values (3x3 convs
on big maps) are compute-bound; values near or below 1 (fully connected layers,
depthwise convs) are memory-bound. Layers without MACs get no value (an empty cell).
"""

from __future__ import annotations

from cnndsl.passes import analysis


@analysis("MACs/elem")
def arithmetic_intensity(net) -> dict[str, float]:
    """Node name -> MACs / (params + output elements), for the nodes with MACs."""
    out = {}
    for name, c in net.cost.nodes.items():
        if c.macs:
            out[name] = c.macs / (c.params.total + c.activations)
    return out
