"""Checking an import: the written program computes what the original computes.

Three checks, each a number in the :class:`Verification`:

1. the program compiles to the graph the front end read (names aside,
   :func:`cnndsl.ir.canon.first_difference`);
2. its parameter count equals the original's (a model's parameters that its forward
   never uses are named: they are not part of the network);
3. with the original's weights copied node by node (:attr:`Imported.weights`), its
   outputs equal the original's on a seeded random batch, in eval mode, within a
   relative error of :data:`REL_TOL` (the largest difference over the largest output).

torch (and, for ONNX, onnxruntime) is imported here only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..ir.canon import canonical, first_difference
from .common import Imported

REL_TOL = 1e-5
BATCH = 2  # two samples: batch statistics never enter, but a batch of one hides bugs


@dataclass
class Verification:
    """What the check found; ``ok`` when every figure agrees."""

    params_original: int = 0
    params_program: int = 0
    max_rel_error: float | None = None
    input: tuple[int, ...] = ()
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def __str__(self) -> str:
        if not self.ok:
            return "not verified: " + "; ".join(self.problems)
        err = f"{self.max_rel_error:.1e}" if self.max_rel_error is not None else "n/a"
        shape = "x".join(map(str, self.input))
        return (f"verified: {self.params_program:,} parameters as the original; outputs "
                f"equal on {BATCH}x{shape} (max relative error {err})")


def _node_pairs(imported: Imported, network: Any) -> dict[str, str]:
    """The imported graph's node names to the program's, by canonical position."""
    _, ours = canonical(imported.graph)
    _, theirs = canonical(network.graph)
    return {a.name: b.name for a, b in zip(ours, theirs)}


def copy_weights(imported: Imported, network: Any, built: Any) -> list[str]:
    """Copy the original's weights into ``built`` (``network.to_torch()``); returns the
    problems (a node whose tensors do not fit its module)."""
    import torch

    pairs = _node_pairs(imported, network)
    paths = network.module_paths()
    problems = []
    with torch.no_grad():
        for name, tensors in imported.weights.items():
            path = paths.get(pairs.get(name, ""))
            if path is None:
                problems.append(f"{name}: no module in the program holds its weights")
                continue
            module = built.get_submodule(path)
            slots = [t for k, t in module.state_dict(keep_vars=True).items()
                     if not k.endswith("num_batches_tracked")]
            if len(slots) != len(tensors):
                problems.append(f"{name}: {len(tensors)} tensors for {len(slots)} in "
                                f"{path}")
                continue
            for slot, value in zip(slots, tensors):
                if not isinstance(value, torch.Tensor):  # an array, maybe read-only
                    value = torch.from_numpy(value.copy())
                if value.numel() != slot.numel():
                    problems.append(f"{name}: a tensor of shape {tuple(value.shape)} for "
                                    f"{tuple(slot.shape)} in {path}")
                    break
                slot.copy_(value.reshape(slot.shape))
    return problems


def relative_error(expected: Any, got: Any) -> float:
    """max |expected - got| / max |expected| (over the whole batch)."""
    scale = float(expected.abs().max())
    return float((expected - got).abs().max()) / max(scale, 1e-12)


def compare(network: Any, imported: Imported, run_original: Callable[[Any], Any],
            params_original: int, unused: list[str], input_shape: tuple[int, ...],
            after: Callable[[Any], Any] | None = None, seed: int = 0) -> Verification:
    """The three checks; ``run_original`` maps a batch (a torch tensor) to the
    original's output tensor, ``after`` applies to the program's output what the
    original does beyond it (a softmax an ONNX file ends with)."""
    import torch

    v = Verification(params_original, network.params_count, input=tuple(input_shape))
    diff = first_difference(imported.graph, network.graph)
    if diff is not None:
        v.problems.append(f"the program is not the graph that was read ({diff})")
        return v
    if v.params_original != v.params_program:
        v.problems.append(f"the original has {v.params_original:,} parameters, the program "
                          f"{v.params_program:,}")
        if unused:
            v.problems[-1] += (f"; the original's forward never uses {len(unused)} of its "
                               f"tensors ({', '.join(unused[:3])}{', ...' * (len(unused) > 3)})")
    built = network.to_torch(inplace=False).eval()
    v.problems += copy_weights(imported, network, built)
    if v.problems:
        return v
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn((BATCH, *input_shape), generator=gen)
    with torch.no_grad():
        expected = run_original(x)
        got = built(x)
        if after is not None:
            got = after(got)
    if tuple(expected.shape) != tuple(got.shape):
        v.problems.append(f"the original's output is {tuple(expected.shape)}, the "
                          f"program's {tuple(got.shape)}")
        return v
    v.max_rel_error = relative_error(expected.double(), got.double())
    if not v.max_rel_error <= REL_TOL:
        v.problems.append(f"outputs differ: max relative error {v.max_rel_error:.2e} "
                          f"(tolerance {REL_TOL:.0e})")
    return v


def first_tensor(out: Any) -> Any:
    """A model's main output: the tensor itself, a named tuple's ``logits`` or first
    field, a dict's ``logits`` or first value."""
    import torch

    if isinstance(out, torch.Tensor):
        return out
    if isinstance(out, dict):
        return first_tensor(out.get("logits", next(iter(out.values()))))
    if hasattr(out, "logits"):
        return first_tensor(out.logits)
    if isinstance(out, (tuple, list)) and out:
        return first_tensor(out[0])
    raise TypeError(f"the model returned a {type(out).__name__}, not a tensor")


def verify_torch(model: Any, imported: Imported, network: Any,
                 input_shape: tuple[int, ...]) -> Verification:
    """The checks against a ``torch.nn.Module`` (its training flag restored after)."""
    import torch

    used = {t.data_ptr() for ts in imported.weights.values() for t in ts
            if isinstance(t, torch.Tensor)}
    named = list(model.named_parameters())
    unused = [k for k, p in named if p.data_ptr() not in used]
    was_training = model.training
    model.eval()
    try:
        return compare(network, imported, lambda x: first_tensor(model(x)),
                       sum(p.numel() for _, p in named), unused, input_shape)
    finally:
        model.train(was_training)
