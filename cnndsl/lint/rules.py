"""The lint rules: one small function per W08xx code, each ``Facts -> diagnostics``.

NOTE: the operators the rules name. Most rules ask the registry (families, windows,
parameter counts); four facts are about particular operators and are named here, once:
- only batch norm (``bn``) subtracts a per-channel mean that cancels a per-channel bias
  (group and layer norm normalize across channels: a bias changes what they see);
- ``scale`` (a constant factor: a temperature) and ``groupsoftmax`` (a softmax) are in
  the activation family but leave the class scores' order and meaning alone;
- a residual sum is an ``add`` (``mean`` is FractalNet's join of equal paths);
- the normalizers a residual branch may carry are the operators whose cost is of kind
  ``norm``: batch, group and layer norm (not LRN, layer scale or a position bias).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from ..diagnostics import Diagnostic
from ..ops import window as win
from .facts import Facts, area, width

BATCH_NORM = "bn"
SCORE_SAFE = frozenset({"scale", "groupsoftmax"})
RESIDUAL_SUM = "add"


def bias_before_batch_norm(f: Facts) -> Iterator[Diagnostic]:
    """W0802: a conv or fc with a bias whose only reader is a batch norm."""
    g = f.graph
    outputs = {g.output, *g.aux}
    for n in g:
        op = f.op(n.name)
        users = f.uses[n.name]
        if (op.family not in ("conv", "fc") or not n.attr_map.get("bias") or len(users) != 1
                or n.name in outputs or g[users[0]].op != BATCH_NORM):
            continue
        bias = f.cost.nodes[n.name].params.bias
        fix = f"drop it: {_with_arg(n.span, op.name, 'bias=false')}"
        yield Diagnostic(
            "W0802", f"the bias of this {op.name} ({bias:,} parameters) is cancelled by the "
            "batch norm after it", n.span,
            label="batch norm subtracts each channel's mean, the bias with it",
            help=f"{fix}; the batch norm's shift (beta) does its job"
            if g[users[0]].attr_map.get("affine", True) else
            f"{fix}; this batch norm (affine=false) has no shift to take its place: "
            "use `bn` with its affine scale and shift where the network needs one")


def _with_arg(span, name: str, arg: str) -> str:
    """The call as written with ``arg`` added: ``conv(c, 3)`` -> ``conv(c, 3, bias=false)``."""
    text = span.source.line(span.line)[span.col - 1:span.end_col - 1] if span and \
        span.end_line == span.line else ""
    if re.fullmatch(r"\w+\(.*\)", text, re.S):
        return f"{text[:-1]}, {arg})"
    if re.fullmatch(r"\w+", text):
        return f"{text}({arg})"
    return f"{name}(..., {arg})"


def narrow_bottleneck(f: Facts) -> Iterator[Diagnostic]:
    """W0803: the class scores are computed from a vector narrower than the classes,
    made by a layer that narrowed the main path (the first layer's width is free)."""
    k, g = f.classes, f.graph
    if not k:
        return
    path = f.main_path[1:-1]
    if f.classifier in path:
        path = path[:path.index(f.classifier)]
    widest, prev, origin, before = 0, None, None, 0
    for name in path:
        w = width(g[name])
        if w != prev:
            origin, before, prev = name, widest, w
        widest = max(widest, w)
        if g[name].type.is_vector and w < k and w < before:
            node = g[origin]
            unit = ("channel" if node.type.is_map else "feature") + ("s" if w != 1 else "")
            yield Diagnostic(
                "W0803", f"a bottleneck of {w} {unit}, fewer than the {k} classes", node.span,
                label=f"narrows the network from {before} to {w}",
                notes=(f"the {k} class scores are computed from these {w} values: a linear "
                       f"classifier can give them at most {w} independent directions",),
                help=f"make it at least {k} wide, or leave the narrowing out")
            return


def fc_dominates(f: Facts) -> Iterator[Diagnostic]:
    """W0804: an fc on a flattened map larger than 1x1 holding over half the parameters."""
    g, total = f.graph, f.cost.params.total
    for n in g:
        if f.op(n.name).family != "fc":
            continue
        src = g[n.inputs[0]]
        while f.op(src.name).family == "reg" and src.inputs:  # through a dropout
            src = g[src.inputs[0]]
        if f.op(src.name).family != "reshape" or not src.inputs:
            continue
        m = g[src.inputs[0]]
        p = f.params(n.name)
        if not m.type.is_map or area(m) == 1 or 2 * p <= total:
            continue
        c, h, w = m.type.dims
        pooled = c * n.attr_map["out"] + (n.attr_map["out"] if n.attr_map.get("bias") else 0)
        yield Diagnostic(
            "W0804", f"this fully connected layer holds {p:,} of the network's {total:,} "
            f"parameters ({100 * p // total}%)", n.span,
            label=f"it reads a flattened {c}x{h}x{w} map: {c * h * w:,} inputs per unit",
            help=f"pool the map first (gap - fc: {pooled:,} parameters), or give it fewer "
            "inputs (fewer channels, a smaller map) or fewer units")


def small_receptive_field(f: Facts) -> Iterator[Diagnostic]:
    """W0805: the map that global pooling turns into the classifier's features sees less
    than the input. (A flatten keeps every position apart: the fc after it weighs each
    one with its own weights, so the network sees the whole input there.)"""
    g = f.graph
    if not g.input_type.is_map:
        return
    path = f.main_path
    for prev, name in zip(path, path[1:]):
        if area(g[prev]) > 1 and area(g[name]) == 1:
            break
    else:
        return
    rf = f.fields.get(prev)
    _, h, w = g.input_type.dims
    side = min(h, w)  # on a 64x512 spectrogram, pooling along the long axis is meant
    if (f.op(name).family != "pool" or rf is None or not g[prev].type.is_map
            or min(rf.size) >= side):
        return
    yield Diagnostic(
        "W0805", f"the classifier's features see {rf.size[0]}x{rf.size[1]} pixels of the "
        f"{h}x{w} input", g[name].span,
        label=f"pools a {g[prev].type} map whose receptive field is "
        f"{rf.size[0]}x{rf.size[1]}",
        notes=(f"judged against the input's shorter side ({side}): a field that spans it "
               "may pool along the longer one",) if h != w else (),
        help="let the field cover the input before pooling it away: more 3x3 "
        "convolutions, or a stride or pooling earlier")


def activation_after_classifier(f: Facts) -> Iterator[Diagnostic]:
    """W0806: an activation on the class scores (softmax excepted)."""
    g = f.graph
    for name in f.after_classifier:
        op = f.op(name)
        if op.family == "act" and op.name not in SCORE_SAFE:
            yield Diagnostic(
                "W0806", f"{op.name} after the classifier: the {f.classes} class scores pass "
                f"through a {op.name}", g[name].span,
                label=f"the scores come from `{g[f.classifier].local}` before it",
                help=f"remove the {op.name}: the scores (logits) go straight to the softmax, "
                "which the cross-entropy loss applies itself")
            return


def early_pooling(f: Facts) -> Iterator[Diagnostic]:
    """W0807: most of the map thrown away before the network has looked at it.

    Fires at the first layer that brings the map to 1/16 of the input's area or less
    when no convolution of 3 or more pixels came before it (a learned window at least
    as wide as its stride, a patchify or AlexNet-style stem, sees every pixel it drops
    and is exempt); or at a pooling that shrinks the area 16x or more in one step while
    the map is still at a quarter of the input's area or more (not a global pool).
    """
    g = f.graph
    if not g.input_type.is_map:
        return
    full = area(g.input)
    looked: dict[str, bool] = {}
    for n in g:
        op = f.op(n.name)
        before = any(looked[i] for i in n.inputs)
        w = op.window(n.attr_map) if n.inputs and g[n.inputs[0]].type.is_map else None
        learned = w is not None and op.family == "conv" and f.params(n.name) > 0
        looked[n.name] = before or (learned and max(win.span(k, d) for k, d in
                                                    zip(w.kernel, w.dilation)) >= 3)
        if not n.inputs or not n.type.is_map or not g[n.inputs[0]].type.is_map:
            continue
        a_in, a_out = area(g[n.inputs[0]]), area(n)
        covers = learned and all(k >= s for k, s in zip(w.kernel, w.stride))
        blind = not before and 16 * a_out <= full < 16 * a_in and not covers
        step = (op.family == "pool" and 16 * a_out <= a_in and 4 * a_in >= full
                and a_out > 1)
        if not (blind or step):
            continue
        t_in = g[n.inputs[0]].type
        shrink = f"{t_in.dims[1]}x{t_in.dims[2]} -> {n.type.dims[1]}x{n.type.dims[2]}"
        what = f"this {'pooling' if op.family == 'pool' else 'layer'} " \
            f"({op.describe(n.attr_map, n.type)})"
        if blind:
            message = (f"{what} brings the map to 1/{full // a_out} of the input's area "
                       f"({shrink}) before any convolution has looked at it")
        else:
            message = (f"{what} keeps 1 position in {a_in // a_out} of the map in one "
                       f"step ({shrink})")
        yield Diagnostic(
            "W0807", message, n.span, label="most of the map is discarded here",
            help="look before pooling: start with a 3x3 convolution (conv(32, 3)), and "
            "shrink by 2 at a time (maxpool(2), or stride=2)")
        return


def residual_without_norm(f: Facts) -> Iterator[Diagnostic]:
    """W0808: a residual branch with no normalization where most of its siblings of the
    same kind have one. A residual on feature maps and one on vectors (an MLP head after
    global pooling) are different blocks: each is judged among its own kind only."""
    g = f.graph
    kinds: dict[str, tuple[list, list]] = {}  # kind -> (with a norm, without)
    for n in g:
        if n.op != RESIDUAL_SUM or len(n.inputs) < 2:
            continue
        fork = f.idom[n.name]
        body = max((f.branch(i, fork) for i in n.inputs), key=len)
        if body:
            normed = any(f.op(x).macs_kind == "norm" for x in body)
            kinds.setdefault(_kind(n), ([], []))[0 if normed else 1].append(n)
    for kind, (with_norm, without) in kinds.items():
        if len(with_norm) < 2 or len(with_norm) <= len(without):
            continue
        for n in without:
            yield Diagnostic(
                "W0808", f"a residual branch without normalization: {len(with_norm)} of the "
                f"network's {len(with_norm) + len(without)} residual branches {kind} have a "
                "batch, group or layer norm", n.span, label="this branch has none",
                help="add the norm its siblings have (... - bn), or mark the block "
                "deliberate (`# allow W0808`, e.g. a Fixup or SkipInit block)")


def _kind(node) -> str:
    """What a residual sum adds, as its message says it."""
    return "on feature maps" if node.type.is_map else "on vectors"


RULES = (bias_before_batch_norm, narrow_bottleneck, fc_dominates, small_receptive_field,
         activation_after_classifier, early_pooling, residual_without_norm)
