"""Weight transfer between two implementations of the same architecture, by structure.

A reference model (torchvision's, timm's, a hand-written ``nn.Module``, or just its
``state_dict``) and a compiled network name their tensors differently
(``layer1.0.conv1.weight`` against ``layer1.basic1.conv1.weight``), but hold the same
tensors in the same order. :func:`port_weights` pairs them by that structure and copies
the reference's values across:

>>> import torch
>>> import cnndsl
>>> ref = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.BatchNorm2d(8))
>>> net = cnndsl.compile("input 3x8x8\\nconv(8, 3) - bn").to_torch()
>>> pairs = cnndsl.port_weights(ref, net)
>>> pairs[0]
('0.weight', 'conv1.weight')
>>> bool(torch.equal(ref[0].weight, net.conv1.weight))
True

NOTE: how the structure is matched. Each side's state_dict entries are grouped by the
module that owns them (the key without its last component), in the state_dict's order,
which is the order the modules were registered (``named_modules``), or, given
``example_input``, the order a forward pass first calls them; a module's own tensors
follow its submodules' (a container's ``layer_scale`` scales what its children
computed). The groups are paired one
to one: paired groups must hold the same number of tensors with the same shapes, in
order (or, where both sides use the same local names, by name: a module that registers
``bias`` before ``weight`` still pairs). ``num_batches_tracked`` counters are copied
where both sides have them and never count as structure, so checkpoints saved before
PyTorch 0.4.1 (which lack them) still port. The first difference stops the transfer
with a :class:`~cnndsl.diagnostics.UserError` naming the entry's index (counting the
tensors compared, counters left out), both keys and both shapes; nothing is copied then. One difference of shape is accepted: a 1x1 conv
kernel (C', C, 1, 1) against a fully connected weight (C', C), which compute the same
map where the conv sees a 1x1 input (timm's SE blocks against the prelude's ``se``).

The same pairing renames a checkpoint so that plain ``load_state_dict`` accepts it
(:func:`key_map`, :func:`torchvision_key_map`, :func:`translate_state_dict`). torch
is imported by this module: the static paths of cnndsl never import it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from .diagnostics import UserError

COUNTER = "num_batches_tracked"

# Auxiliary classifiers in torchvision's checkpoints: training-only side outputs that
# the zoo's single-output networks leave out (see zoo/googlenet.cnn, zoo/inception_v3.cnn).
TORCHVISION_AUX_PREFIXES = ("aux1.", "aux2.", "AuxLogits.")


@dataclass
class _Group:
    """The state of one module: (local name, key, tensor, is_buffer) in order."""

    path: str
    entries: list[tuple[str, str, torch.Tensor, bool]] = field(default_factory=list)
    counters: dict[str, tuple[str, torch.Tensor]] = field(default_factory=dict)


def _groups(source: nn.Module | Mapping[str, Any], ignore: tuple[str, ...],
            example_input: Any = None) -> list[_Group]:
    if isinstance(source, nn.Module):
        state = source.state_dict(keep_vars=True)
        buffers = {k for k, _ in source.named_buffers()}
    elif isinstance(source, Mapping):
        state = source
        buffers = {k for k in state if k.rsplit(".", 1)[-1].startswith("running_")}
    else:
        raise UserError(f"cannot port weights from a {type(source).__name__}",
                        help="give an nn.Module or a state_dict (a mapping of names to "
                        "tensors)")
    groups: dict[str, _Group] = {}
    for key, value in state.items():
        if any(key.startswith(p) for p in ignore) or not isinstance(value, torch.Tensor):
            continue
        path, _, local = key.rpartition(".")
        g = groups.setdefault(path, _Group(path))
        if local == COUNTER:
            g.counters[local] = (key, value)
        else:
            g.entries.append((local, key, value, key in buffers))
    ordered = [g for g in groups.values() if g.entries]
    if example_input is not None and isinstance(source, nn.Module):
        rank = {p: i for i, p in enumerate(_call_order(source, example_input))}
        ordered.sort(key=lambda g: rank.get(g.path, len(rank)))  # stable: unseen keep order
    return _own_tensors_last(ordered)


def _own_tensors_last(groups: list[_Group]) -> list[_Group]:
    """A module's own tensors moved after those of its submodules: a container that holds
    a parameter besides its children (torchvision ConvNeXt's ``layer_scale``) registers
    it first but applies it last, where a compiled network has a layer of its own."""
    out = list(groups)
    for g in groups:
        prefix = f"{g.path}." if g.path else ""
        last = max((i for i, h in enumerate(out) if h is not g and h.path.startswith(prefix)),
                   default=None)
        if last is not None and out.index(g) < last:
            out.remove(g)
            out.insert(last, g)  # after the removal, `last` is just past the descendant
    return out


def _call_order(module: nn.Module, example_input: Any) -> list[str]:
    """Module paths in the order one forward pass first enters them (eval, no grad)."""
    seen: list[str] = []
    handles = []
    for name, m in module.named_modules():
        def pre(_m, _args, name=name):
            if name not in seen:
                seen.append(name)
        handles.append(m.register_forward_pre_hook(pre))
    modes = {m: m.training for m in module.modules()}
    try:
        module.eval()
        with torch.no_grad():
            args = example_input if isinstance(example_input, tuple) else (example_input,)
            module(*args)
    finally:
        for h in handles:
            h.remove()
        for m, mode in modes.items():
            m.train(mode)
    return seen


def _same_shape(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Equal shapes, or a 1x1 conv kernel against a fully connected weight (C', C, 1, 1)
    ~ (C', C): the same map on a 1x1 input (timm's SE blocks use 1x1 convs)."""
    if a.shape == b.shape:
        return True
    short, long = sorted((tuple(a.shape), tuple(b.shape)), key=len)
    return len(short) == 2 and len(long) == 4 and long[:2] == short and long[2:] == (1, 1)


def _shape(t: torch.Tensor | None) -> str:
    return "nothing" if t is None else str(tuple(t.shape))


def _mismatch(index: int, ref: tuple | None, ours: tuple | None, why: str,
              ref_group: _Group | None, our_group: _Group | None) -> UserError:
    rk = f"`{ref[1]}` {_shape(ref[2])}" if ref else "nothing"
    ok = f"`{ours[1]}` {_shape(ours[2])}" if ours else "nothing"
    where = []
    for side, g in (("reference", ref_group), ("compiled", our_group)):
        if g is not None:
            held = ", ".join(f"{n} {_shape(t)}" for n, _, t, _ in g.entries)
            where.append(f"{side} module `{g.path or '<root>'}` holds {held}")
    return UserError(f"cannot port weights: entry {index} differs ({why}): reference {rk}, "
                     f"compiled {ok}",
                     help="; ".join(where) + ". The two networks must hold the same tensors "
                     "in the same order (check the layer widths, conv biases, BN layers; "
                     "where the reference computes a residual's shortcut before its body, "
                     "as torchvision's RegNet does, write residual(..., shortcut_first=true), "
                     "or pass example_input= to pair in the order of a forward pass)")


def _pair_groups(ref: list[_Group], ours: list[_Group]
                 ) -> list[tuple[tuple, tuple, _Group, _Group]]:
    """Pairs of entries (reference, compiled), or a UserError at the first difference."""
    pairs = []
    index = 0
    for gi in range(max(len(ref), len(ours))):
        rg = ref[gi] if gi < len(ref) else None
        og = ours[gi] if gi < len(ours) else None
        if rg is None or og is None:
            g = rg or og
            first = g.entries[0]
            raise _mismatch(index, first if rg else None, first if og else None,
                            "the reference has more tensors" if rg else
                            "the compiled network has more tensors", rg, og)
        r_entries, o_entries = rg.entries, og.entries
        r_names, o_names = [e[0] for e in r_entries], [e[0] for e in o_entries]
        if r_names != o_names and sorted(r_names) == sorted(o_names):
            by_name = {e[0]: e for e in o_entries}
            o_entries = [by_name[n] for n in r_names]
        for i in range(max(len(r_entries), len(o_entries))):
            r = r_entries[i] if i < len(r_entries) else None
            o = o_entries[i] if i < len(o_entries) else None
            if r is None or o is None:
                raise _mismatch(index, r, o, "the modules hold different numbers of tensors",
                                rg, og)
            if not _same_shape(r[2], o[2]):
                raise _mismatch(index, r, o, "shapes differ", rg, og)
            if r[3] != o[3]:
                raise _mismatch(index, r, o, "a parameter against a buffer", rg, og)
            pairs.append((r, o, rg, og))
            index += 1
    return pairs


def _counter_pairs(ref: list[_Group], ours: list[_Group]) -> list[tuple[tuple, tuple]]:
    out = []
    for rg, og in zip(ref, ours):
        for name, (rk, rv) in rg.counters.items():
            if name in og.counters:
                ok, ov = og.counters[name]
                out.append(((name, rk, rv, True), (name, ok, ov, True)))
    return out


def _both_groups(reference, compiled, ignore, example_input):
    if not isinstance(compiled, nn.Module):
        raise UserError(f"the compiled network must be an nn.Module, got "
                        f"{type(compiled).__name__}", help="build it with net.to_torch()")
    if example_input is not None and not isinstance(reference, nn.Module):
        raise UserError("example_input orders modules by a forward pass, which needs the "
                        "reference as an nn.Module, not a state_dict",
                        help="drop example_input to match in registration order")
    return (_groups(reference, tuple(ignore), example_input),
            _groups(compiled, (), example_input))


def _match(reference, compiled, ignore, example_input):
    ref, ours = _both_groups(reference, compiled, ignore, example_input)
    pairs = [(r, o) for r, o, _, _ in _pair_groups(ref, ours)]
    return pairs + _counter_pairs(ref, ours)


def port_weights(reference: nn.Module | Mapping[str, Any], compiled: nn.Module,
                 strict: bool = True, *, ignore: Iterable[str] = (),
                 example_input: Any = None) -> list[tuple[str, str]]:
    """Copy ``reference``'s parameters and buffers into ``compiled``, matched by structure.

    ``reference`` is a module or a state_dict; ``ignore`` lists reference key prefixes to
    leave out (e.g. ``("aux1.", "aux2.")``); ``example_input`` orders both sides by a
    forward pass instead of registration order. With ``strict`` (the default) any
    difference raises :class:`~cnndsl.diagnostics.UserError` and nothing is copied; with
    ``strict=False`` pairs whose shapes differ (a new classifier head) and surplus tensors
    at the end of either side are skipped. Returns the (reference key, compiled key)
    pairs copied.
    """
    if strict:
        pairs = _match(reference, compiled, ignore, example_input)
    else:
        pairs = _lenient_pairs(reference, compiled, ignore, example_input)
    with torch.no_grad():
        for (_, _, src, _), (_, _, dst, _) in pairs:
            dst.copy_(src.detach().reshape(dst.shape).to(device=dst.device, dtype=dst.dtype))
    return [(r[1], o[1]) for r, o in pairs]


def _lenient_pairs(reference, compiled, ignore, example_input):
    """Modules paired in order as far as both sides go; within each pair, the tensors
    of equal shape (by name where both sides use the same names)."""
    ref, ours = _both_groups(reference, compiled, ignore, example_input)
    pairs = []
    for rg, og in zip(ref, ours):
        o_by_name = {e[0]: e for e in og.entries}
        same_names = sorted(o_by_name) == sorted(e[0] for e in rg.entries)
        for i, r in enumerate(rg.entries):
            o = o_by_name[r[0]] if same_names else (og.entries[i] if i < len(og.entries)
                                                    else None)
            if o is not None and _same_shape(o[2], r[2]) and o[3] == r[3]:
                pairs.append((r, o))
    return pairs + _counter_pairs(ref, ours)


def key_map(reference: nn.Module | Mapping[str, Any], compiled: nn.Module, *,
            ignore: Iterable[str] = (), example_input: Any = None) -> dict[str, str]:
    """Reference state_dict key -> compiled state_dict key, paired as :func:`port_weights`
    pairs them (strictly). Use it with :func:`translate_state_dict` to load a reference
    checkpoint with ``load_state_dict``."""
    return {r[1]: o[1] for r, o in _match(reference, compiled, ignore, example_input)}


def torchvision_key_map(reference: nn.Module | Mapping[str, Any],
                        compiled: nn.Module) -> dict[str, str]:
    """:func:`key_map` for a torchvision model or checkpoint, leaving out the auxiliary
    classifiers (GoogLeNet's ``aux1``/``aux2``, Inception-v3's ``AuxLogits``).

    A torchvision checkpoint then loads into the matching zoo network::

        sd = torch.load("resnet50-11ad3fa6.pth")
        model = cnndsl.compile("resnet50").to_torch()
        model.load_state_dict(translate_state_dict(sd, torchvision_key_map(sd, model)))

    This works for every zoo network whose header names a ``torchvision.models``
    counterpart (the conformance tests check each one). Only the key names differ: the
    compiler names modules after the source (``layer1.bottleneck1.conv1``), so the
    torchvision names themselves cannot be reproduced and the checkpoint is renamed.
    """
    return key_map(reference, compiled, ignore=TORCHVISION_AUX_PREFIXES)


def translate_state_dict(state_dict: Mapping[str, Any], mapping: Mapping[str, str],
                         like: nn.Module | None = None) -> OrderedDict[str, Any]:
    """``state_dict`` with its keys renamed by ``mapping``; keys not in it are dropped.

    With ``like`` (the compiled module), values are reshaped to its tensors' shapes (a
    1x1 conv kernel loaded into a fully connected layer)."""
    shapes = {k: v.shape for k, v in like.state_dict().items()} if like is not None else {}
    out: OrderedDict[str, Any] = OrderedDict()
    for k, v in state_dict.items():
        if k in mapping:
            new = mapping[k]
            out[new] = v.reshape(shapes[new]) if new in shapes else v
    return out
