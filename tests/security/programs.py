"""``programs()``: a hypothesis strategy for valid .cnn programs (source text and
parameter bindings), drawn from the grammar's pieces: user blocks with numeric, layer
and tensor arguments, defaults and keywords, nested; repetition with repeat_index;
optional parts switched off by their key; merges; named tensors; residual with every
shortcut; if; aux; the softmax classifier; the prelude; every operator.

A shape model (tests/security/pieces.py) steers the drawing so that almost every
program compiles. A block body is drawn at its first call and its rule re-run at every
later call, under other arguments. ``python -m tests.security.programs N`` prints the
skip rate and which operators and builtins N programs use.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import cnndsl
from cnndsl import ops

from .pieces import (
    ACTS,
    PRELUDE,
    REQUIRED_ARGS,
    Bad,
    Block,
    Env,
    G,
    P,
    Piece,
    Program,
    Rule,
    Scope,
    Shape,
    bad,
    gen_match,
    gen_num,
    gen_op,
    ident,
    infer,
    merge,
    num,
    seq,
    value,
    wrap,
)


def gen_step(g: G, sc: Scope, s: Shape, inner: bool = False) -> tuple[Piece, Shape]:
    """One step of a chain from ``s``, valid in ``sc``."""
    g.budget -= 1
    kinds = ["op"] * 6
    if g.budget > 0 and sc.depth < 3:
        kinds += ["merge", "merge", "residual", "repeat", "optional", "if", "block", "block"]
        kinds += ["prelude"] * 2 * (len(s) == 3) + ["label"] * 3 * sc.labels + ["aux"] * sc.aux
        kinds += ["ref"] * 3 * bool(sc.tensors) + ["param"] * 3 * bool(sc.layers)
    for _ in range(4):
        named = len(sc.tensors)
        try:
            p = GEN[g.pick(kinds)](g, sc, s, inner)
            if p is not None:
                return p, p.f(s, sc.env)
        except Bad:
            del sc.tensors[named:]  # names given in a refused attempt are not in the text
    return P(g, g.pick(ACTS[:-1])), s


def gen_chain(g: G, sc: Scope, s: Shape, lo: int = 1, hi: int = 3, inner: bool = False
              ) -> tuple[Piece, Shape, list[Piece]]:
    steps, n = [], g.int(lo, hi)
    for i in range(n):  # a softmax followed by more layers is not the classifier
        p, s = gen_step(g, sc, s, inner or i < n - 1)
        steps.append(p)
    return seq(steps, g.pick((" - ", " - ", " -> "))), s, steps


def gen_merge(g: G, sc: Scope, s: Shape, inner: bool) -> Piece:
    kind, sub = g.pick(("concat", "add", "mul", "mean")), sc.sub(labels=sc.labels)
    first, t, _ = gen_chain(g, sub, s, 1, 2, inner=True)
    branches = [first]
    for _ in range(g.int(1, 2)):
        if kind == "mul" and len(t) == 3 and len(s) == 3 and g.coin(50):  # a channel gate
            gate = (Piece("softmax", lambda s, env: s) if g.coin(40)
                    else P(g, g.pick(("sigmoid", "hardsigmoid"))))
            width = gen_num(g, sub, t[0], t[0], t[0])
            b = seq([P(g, g.pick(("gap", "gmp"))), P(g, "fc", {"out": width}), gate])
        else:
            b = gen_match(g, sub, s, t, any_c=kind == "concat")
        if b is None:
            break
        branches.append(b)
    return merge(g, kind, g.draw(st.permutations(branches)))


def gen_ref(g: G, sc: Scope, s: Shape, inner: bool) -> Piece:
    """A named tensor merged with the current one (or, rarely, continued from)."""
    name = g.pick(sc.tensors)
    ref = Piece(name, lambda s, env: env[name][1] if env[name][0] == "T" else bad())
    t = sc.env[name][1]
    if sc.labels and g.coin(8):  # what came before is dropped (warning W0701)
        return ref
    kind = g.pick(("concat", "concat", "add", "mul", "mean"))
    other = gen_match(g, sc.sub(), s, t, any_c=kind == "concat")
    if other is None or g.coin(30):  # bring the named tensor to the current shape instead
        other = gen_match(g, sc.sub(), t, s, any_c=kind == "concat")
        ref, other = (seq([ref, other]) if other else ref), ident(g)
    return merge(g, kind, g.draw(st.permutations([ref, other])))


def gen_residual(g: G, sc: Scope, s: Shape, inner: bool) -> Piece:
    pre = None
    if g.coin(30):  # pre-activation
        pre = seq([P(g, "bn"), P(g, "relu")]) if g.coin(50) else P(g, g.pick(ACTS))
    entry = pre.f(s, sc.env) if pre else s
    if len(s) == 3 and g.coin(40):  # ResNet's basic block, often widening and striding
        c = str(g.int(s[0], s[0] + 6))
        first = P(g, "conv", {"out": c, "kernel": "3", "stride": g.pick(("1", "2"))})
        body = seq([first, P(g, "bn"), P(g, "relu"), P(g, "conv", {"out": c, "kernel": "3"}),
                    P(g, "bn")])
    else:
        body = gen_chain(g, sc.sub(aux=False), entry, 1, 3, inner=True)[0]

    def rule(mode: str | None) -> Rule:
        def f(s: Shape, env: Env) -> Shape:
            entry = pre.f(s, env) if pre else s
            out = body.f(entry, env)
            if out == s or mode == "none":
                return out
            if mode == "identity" or len(entry) != 3 or len(out) != 3 or (
                    mode == "pad" and out[0] < entry[0]):
                bad("no shortcut")
            for n, m in zip(entry[1:], out[1:]):  # a strided 1x1 shortcut must fit
                _ = any(-(-n // k) == m for k in range(1, n + 1)) or bad("no shortcut")
            return out
        return f
    modes = []
    for mode in (None, "proj", "pad", "pad", "conv", "none", "identity"):
        try:
            modes.append((rule(mode)(s, sc.env), mode)[1])
        except Bad:
            pass
    mode = g.pick(modes or [None])
    alias = {"proj": ("proj", "b"), "pad": ("pad", "a", "zero"), "identity": ("identity", "id")}
    text = body.text + (f", shortcut={g.pick(alias.get(mode, (mode,)))}" if mode else "")
    return Piece(f"{g.spell('residual')}({text}{f', pre={pre.text}' if pre else ''})", rule(mode))


def gen_repeat(g: G, sc: Scope, s: Shape, inner: bool) -> Piece:
    counts = ["0", "1", "2", "2", "3"] + [n for n in sc.nums if 0 <= num(n, sc.env) <= 3]
    count = g.pick(counts + [f"({n}-1)" for n in sc.nums if 1 <= num(n, sc.env) <= 4])
    body = gen_chain(g, sc.sub(env={**sc.env, "repeat_index": 0}, nums=sc.nums + ["repeat_index"]),
                     s, 1, 2)[0]

    def f(s: Shape, env: Env) -> Shape:
        n = num(count, env)
        for i in range(int(n) if n == int(n) else bad("count")):
            s = body.f(s, {**env, "repeat_index": i})
        return s
    return Piece(f"{wrap(body)}*{count}" if g.coin(80) else f"{count}*{wrap(body)}", f, False)


def gen_optional(g: G, sc: Scope, s: Shape, inner: bool) -> Piece:
    body = gen_step(g, sc.sub(), s)[0]
    key = wrap(body).replace(" ", "").lower() + "?"  # how the elaborator names the switch
    g.switch.setdefault(key, g.coin(25 if g.all_off else 70))
    return Piece(wrap(body) + "?", lambda s, env: body.f(s, env) if g.switch[key] else s)


def gen_if(g: G, sc: Scope, s: Shape, inner: bool) -> Piece:
    tests = ["1", "0", "true", "false"] + sc.nums + [f"{n} - {num(n, sc.env)}" for n in sc.nums]
    test = g.pick(tests + ["in_c - 4"] * sc.block)
    a = gen_chain(g, sc.sub(), s, 1, 2, inner)[0]
    b = gen_chain(g, sc.sub(), s, 1, 1, inner)[0] if g.coin(50) else ident(g)
    return Piece(f"if({test}, {a.text}, {b.text})",
                 lambda s, env: (a if num(test, env) else b).f(s, env))


def classifier(g: G, s: Shape) -> Piece:
    """The softmax classifier, for tail position (the network's or an aux head's end)."""
    def head(from_fc: bool, text: str = "") -> Piece:
        def f(s: Shape, env: Env) -> Shape:  # builtins.softmax: is the input the scores?
            c, ex, width = g.defaults["classes"], g.explicit, s[0] if len(s) == 1 else None
            scores = width is not None and (
                (from_fc and (not ex or width == c)) or (ex and width == c))
            return s if scores else (c,)  # else the compiler adds fc(classes)
        return Piece(text or g.spell("softmax"), f)
    if len(s) == 3 and g.coin(40):
        return head(False)
    k = gen_num(g, Scope(g.net_env, []), 1, 12) if g.coin(70) else "classes"
    if g.coin(20):
        return seq([P(g, "gap" if len(s) == 3 else "bn"), head(False)])
    if g.coin(15) and k.isdigit():  # the VGG paper's spelling
        return seq([Piece(f"FC-{k}", lambda s, env: infer("fc", {"out": int(k)}, s, {})),
                    head(True, "soft-max")])
    return seq([P(g, "fc", {"out": k}), head(True)])


def gen_aux(g: G, sc: Scope, s: Shape, inner: bool) -> Piece:
    sub = sc.sub(aux=False, labels=sc.labels)  # a tensor named in the head is seen after
    steps = [gen_step(g, sub, s)[0]] if g.coin(40) else []
    t = steps[0].f(s, sc.env) if steps else s
    if g.coin(50):
        end = classifier(g, t)
    else:
        end = P(g, "fc", {"out": gen_num(g, sub, 1, 10)}) if len(t) == 1 else P(g, "gap")
    if sc.labels and g.coin(15):  # the head's result named, and maybe used by the main chain
        end = label(g, sub, end)
    head = seq(steps + [end])
    return Piece(f"aux({head.text})", lambda s, env: (head.f(s, env), s)[1])


def bind(g: G, b: Block, args: dict[str, Any], s: Shape, env: Env) -> Env:
    """The body's environment for a call from ``env`` on input ``s``."""
    benv = {**g.net_env, "@in": s}
    for p, kind, default in b.params:
        a = args.get(p)
        benv[p] = (num(default, benv) if a is None else num(a, env) if kind == "num"
                   else ("L", a, env) if kind == "layer" else env[a] if env[a][0] == "T" else bad())
    return benv


def call(g: G, b: Block, args: dict[str, Any]) -> Piece:
    names = [p for p, _, _ in b.params if p in args]
    npos = 0
    while npos < len(names) and names[npos] == b.params[npos][0]:
        npos += 1
    npos = g.int(0, npos)
    texts = [a.text if isinstance(a, Piece) else a for a in (args[p] for p in names)]
    parts = [t if i < npos else f"{p}={t}" for i, (p, t) in enumerate(zip(names, texts))]
    return Piece(f"{b.name}({', '.join(parts)})" if parts else b.name,
                 lambda s, env: b.body.f(s, bind(g, b, args, s, env)))


def robust(g: G, sc: Scope) -> Piece:
    """A layer argument, valid on most inputs."""
    return g.pick((
        lambda: P(g, g.pick(ACTS)), lambda: P(g, "bn"),
        lambda: seq([P(g, "bn"), P(g, g.pick(ACTS))]),
        lambda: P(g, "conv", {"out": gen_num(g, sc, 1, 8), "kernel": g.pick(("1", "3"))}),
        lambda: seq([P(g, "conv", {"out": gen_num(g, sc, 1, 8)}), P(g, "relu")]),
        lambda: P(g, "dropout", {"p": "0.2"}), lambda: ident(g)))()


# Names that clash once flattened (x1_y1.z1 and x1.y1_z1), shadow what the emitted
# module uses, or are not ASCII; the emitted code must still build the checked network.
HOSTILE_NAMES = ("x", "z", "x1_y", "y1_z", "f", "F", "torch", "nn", "None", "self",
                 "forward", "training", "é", "ｂｌｏｃｋ")


def gen_block(g: G, sc: Scope, s: Shape, inner: bool) -> Piece | None:
    ready = [b for b in g.blocks if b.name not in g.open]
    if ready and (len(g.blocks) >= 4 or sc.depth >= 2 or g.coin(40)):  # call one again
        b, args = g.pick(ready), {}
        for p, kind, default in b.params:
            if kind == "tensor":
                args[p] = g.pick(sc.tensors) if sc.tensors else bad()
            elif kind == "layer":
                args[p] = robust(g, sc)
            elif default is None or g.coin(60):
                args[p] = gen_num(g, sc, 1, 8)
        return call(g, b, args)
    if sc.depth >= 2:
        return None
    hostile = [n for n in HOSTILE_NAMES if n not in {c.name for c in g.blocks}]
    name = g.pick(hostile) if hostile and g.coin(15) else g.fresh(
        g.pick(("unit", "stage", "down", "up", "cell")))
    b = Block(name, [], ident(g))
    args = {}
    for p in ("c", "k", "w")[: g.int(0, 3)]:
        earlier = [f"{q}*2" for q, _, _ in b.params]
        default = None if g.coin(50) else g.pick([str(g.int(1, 6)), "in_c"] + earlier)
        b.params.append((p, "num", default))
        if default is None or g.coin(50):
            args[p] = gen_num(g, sc, 1, 8)
    if g.coin(35):
        b.params.append(("f", "layer", None))
        args["f"] = robust(g, sc)
    if sc.tensors and g.coin(60):  # U-Net's decoder: a block taking a named tensor
        b.params.append(("skip", "tensor", None))
        args["skip"] = g.pick(sc.tensors)
    kinds = {k: [p for p, kd, _ in b.params if kd == k] for k in ("num", "tensor", "layer")}
    body_sc = Scope(bind(g, b, args, s, sc.env), kinds["num"] + g.nums, kinds["tensor"],
                    kinds["layer"], sc.depth + 1, block=True)
    g.open.add(b.name)  # its body may not call it
    try:
        steps = [gen_ref(g, body_sc, s, False)] if kinds["tensor"] and g.coin(70) else []
        steps += gen_chain(g, body_sc, steps[0].f(s, body_sc.env) if steps else s, 1, 2)[2]
    finally:
        g.open.discard(b.name)
    b.body = seq(steps)
    sig = ", ".join(p if d is None else f"{p}={d}" for p, _, d in b.params)
    head = f"block {b.name}" + (f"({sig})" if b.params or g.coin(20) else "")
    b.text = f"{head} = {b.body.text}" if g.coin(60) else f"{head}:\n" + "\n".join(
        "    " + p.text for p in steps)
    g.blocks.append(b)
    return call(g, b, args)


def gen_prelude(g: G, sc: Scope, s: Shape, inner: bool) -> Piece:
    name = g.pick(PRELUDE)
    params, rule = PRELUDE[name]
    n = g.int(REQUIRED_ARGS.get(name, len(params)), len(params))
    given = [(p, gen_num(g, sc, *r) if isinstance(r[0], int) else g.pick(r)) for p, r in params[:n]]
    npos = g.int(0, n)
    parts = [t if i < npos else f"{p}={t}" for i, (p, t) in enumerate(given)]

    def f(s: Shape, env: Env) -> Shape:
        v = {p: value(t, "num", env) for p, t in given}
        low = {p: 0 if p in ("n", "bn_size", "pad") else 1 for p in v}
        return rule(s, v) if len(s) == 3 and all(v[p] >= low[p] for p in v) else bad()
    return Piece(f"{name}({', '.join(parts)})" if parts else name, f)


def gen_label(g: G, sc: Scope, s: Shape, inner: bool) -> Piece:
    return label(g, sc, gen_step(g, replace(sc, labels=False), s)[0])


def label(g: G, sc: Scope, p: Piece) -> Piece:
    name = g.fresh("t")
    sc.tensors.append(name)

    def f(s: Shape, env: Env) -> Shape:
        env[name] = ("T", p.f(s, env))
        return env[name][1]
    return Piece(f"{wrap(p)} as {name}", f)


def gen_param(g: G, sc: Scope, s: Shape, inner: bool) -> Piece:
    name = g.pick(sc.layers)
    return Piece(name, lambda s, env: env[name][1].f(s, env[name][2]))


GEN: dict[str, Callable[[G, Scope, Shape, bool], Piece | None]] = {
    "op": gen_op, "merge": gen_merge, "residual": gen_residual, "repeat": gen_repeat,
    "optional": gen_optional, "if": gen_if, "aux": gen_aux, "block": gen_block,
    "prelude": gen_prelude, "label": gen_label, "ref": gen_ref, "param": gen_param}


@st.composite
def programs(draw: Callable) -> Program:
    """A program, valid but for shape-model slips (rare), and its parameter bindings."""
    g, params, header = G(draw), {}, []
    g.budget = g.int(2, 14)
    for name in ("width", "depth")[: g.int(0, 2)]:
        v = g.net_env[name] = g.int(1, 8)
        default = v if g.coin(70) else g.int(1, 8)
        header.append(name if default != v and g.coin(50) else f"{name}={default}")
        params.update({name: v} if default != v or header[-1] == name else {})
        g.nums.append(name)
    for name, hi in (("classes", 8), ("channels", 8), ("hidden", 8)):
        if g.coin(20):  # the builtin defaults, bound in the header or by params
            v = g.defaults[name] = g.int(2, hi)
            g.explicit |= name == "classes"
            header.append(f"{name}={v}") if g.coin(50) else params.update({name: v})
            g.nums.append(name)
    g.net_env.update(g.defaults)  # a block sees them too
    g.all_off = g.coin(8)
    s = inp = (g.int(4, 24),) if g.coin(5) else (g.int(1, 4), g.int(8, 16), g.int(8, 16))
    sc, lets = Scope(dict(g.net_env), list(g.nums)), []
    if g.coin(25):  # a numeric let, maybe overridden by params
        v = g.int(1, 8)
        lets.append(f"wide = {v}")
        sc.env["wide"] = g.int(1, 8) if g.coin(30) else v
        params.update({"wide": sc.env["wide"]} if sc.env["wide"] != v else {})
        sc.nums.append("wide")
    if g.coin(25):  # a let naming layers
        piece = robust(g, sc)
        lets.append(f"stem = {piece.text}")
        sc.env["stem"], sc.layers = ("L", piece, sc.env), ["stem"]
    steps = []
    while g.budget > 0 and len(steps) < 8:
        steps.append(gen_step(g, sc, s, g.budget > 1)[0])
        s = steps[-1].f(s, sc.env)
    if g.coin(35):  # the classifier, in tail position through a block, repeat or if
        head = classifier(g, s)
        wrapped = [head, Piece(f"{wrap(head)}*1", head.f), Piece(f"if(1, {head.text}, id)", head.f)]
        b = Block(g.fresh("head"), [], head, "")
        b.text = f"block {b.name} = {head.text}"
        steps.append(g.pick(wrapped + [call(g, b, {})]))
        g.blocks += [b] if steps[-1].text == b.name else []
    lines, i = [], 0
    while i < len(steps):
        n = g.int(1, 3)
        lines.append(g.pick((" - ", ", ", " -> ")).join(p.text for p in steps[i:i + n]))
        i += n
    body = [f"input {'x'.join(map(str, inp))}"] + lets + lines
    blocks = [b.text for b in g.blocks]
    if header or lets or any("\n" in b for b in blocks) or g.coin(60):
        body = [f"network net({', '.join(header)}):" if header or g.coin(50) else "network net:"
                ] + ["    " + ln for ln in body]
    for key, on in g.switch.items():
        if on == g.all_off:
            params[g.pick((key, key.upper()))] = on
    params.update({"?": False} if g.all_off else {})
    return Program("\n".join(blocks + body) + "\n", params)


BUILTINS = ("residual", "res", "concat", "cat", "add", "sum", "mul", "multiply", "mean", "avg",
            "join", "if", "aux", *PRELUDE)


def coverage(n: int) -> tuple[int, int, Counter]:
    """Compile ``n`` derandomized programs: (skipped, total, programs using each operator,
    builtin or prelude block)."""
    counts: Counter = Counter()

    @settings(max_examples=n, derandomize=True, database=None, deadline=None,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(programs())
    def sample(prog: Program) -> None:
        counts["<programs>"] += 1
        try:
            net = cnndsl.loads(prog.text, bindings=prog.params)
        except cnndsl.CnnError:
            counts["<skipped>"] += 1
            return
        counts.update({f"{n.op}{'/inner' * (n.attr_map.get('head') is False)}" for n in net.graph.nodes})
        counts.update({f"{w}(...)" for w in BUILTINS if re.search(rf"\b{w}\b", prog.text)})
    sample()
    return counts.pop("<skipped>", 0), counts.pop("<programs>"), counts


if __name__ == "__main__":
    skipped, total, counts = coverage(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
    print(f"{total} programs, {skipped} skipped ({100 * skipped / total:.2f}%)")
    for name, c in sorted(counts.items(), key=lambda kv: -kv[1]):
        print(f"{c:7d}  {name}")
    print("never:", [o.name for o in ops.all_ops() if o.name not in counts])
