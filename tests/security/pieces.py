"""The vocabulary of the program generator (tests/security/programs.py): pieces of
.cnn source text with their shape rules, the drawing state, operator calls and the
prelude's shape rules.

A :class:`Piece` is source text plus a rule ``(input shape, env) -> output shape`` that
raises :class:`Bad` where the compiler would refuse it. The operators' rules are the
registry's own (the differential test checks them against the built module, so they
are not trusted here); the builtins' and the prelude's are written out.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from hypothesis import strategies as st

from cnndsl import ops
from cnndsl.ir.graph import TensorType
from cnndsl.ops import REQUIRED, ShapeError

Shape = tuple[int, ...]
Env = dict[str, Any]  # name -> number, ("T", shape) tensor, ("L", Piece, Env) layers; "@in"
Rule = Callable[[Shape, Env], Shape]
LIMITS = (48, 40, 12288)  # channels, height or width, elements: keeps a forward pass cheap
ACTS = ("relu", "relu6", "leakyrelu", "elu", "tanh", "sigmoid", "gelu", "silu", "hardswish",
        "hardsigmoid", "prelu")
MAP_OPS = ("conv",) * 5 + ("maxpool", "avgpool") * 2 + (
    "gap", "gmp", "adaptiveavgpool", "flatten", "lrn", "posbias", "upsample", "zeropad") + (
    "deconv", "groupnorm", "shuffle") * 2
ANY_OPS = ACTS + ("fc", "fc", "bn", "bn", "dropout", "droppath", "scale", "layernorm",
                  "layerscale", "slice", "groupsoftmax")
B = ("true", "false")
OPTS: dict[str, dict[str, tuple[str, ...]]] = {  # optional attributes and values to try
    "conv": {"kernel": ("1", "2", "3", "3", "5", "1x3", "3x2"), "stride": ("1", "2", "2x1"),
             "pad": ("auto", "same", "valid", "0", "1", "1x0", "'same'"), "dilation": ("1", "2"),
             "bias": B},
    "deconv": {"kernel": ("1", "2", "3"), "stride": ("2", "1"), "pad": ("0", "1"),
               "output_pad": ("1", "0"), "dilation": ("1", "2"), "bias": B},
    "maxpool": {"kernel": ("3", "1", "2"), "stride": ("2", "1", "3", "2x1"), "pad": ("0", "1"),
                "ceil_mode": B},
    "fc": {"bias": B}, "leakyrelu": {"slope": ("0.2", "0.5")},
    "bn": {"eps": ("0.1", "1"), "momentum": ("0.2",), "affine": B},
    "lrn": {"size": ("1", "2", "3", "5"), "alpha": ("1e-4", "0.5", "2.0"), "beta": ("0.5", "1"),
            "k": ("1", "2.0")},
    "dropout": {"p": ("0.1", "0.5", "0", "1")}, "droppath": {"p": ("0.1", "0", "1")},
    "upsample": {"mode": ("bilinear", "nearest", "'bilinear'")}, "groupnorm": {"eps": ("0.1", "1")},
    "layernorm": {"eps": ("1e-6", "0.1")}, "layerscale": {"init": ("1e-6", "0.5", "-2")},
}
OPTS["avgpool"] = {**OPTS["maxpool"], "count_include_pad": B}
SPELL = {"conv": ("conv", "CONV", "Conv2d"), "maxpool": ("maxpool", "pool", "POOL"),
         "avgpool": ("avgpool", "avg_pool"), "fc": ("fc", "FC", "linear"), "bn": ("bn", "BN"),
         "lrn": ("lrn", "norm"), "leakyrelu": ("leakyrelu", "lrelu"), "silu": ("silu", "swish"),
         "gap": ("gap", "GAP", "globalavgpool"), "deconv": ("deconv", "upconv"),
         "groupnorm": ("groupnorm", "gn"), "shuffle": ("shuffle", "channel_shuffle"),
         "layernorm": ("layernorm", "ln", "layernorm2d"), "layerscale": ("layerscale", "ls"),
         "groupsoftmax": ("groupsoftmax", "rsoftmax"), "slice": ("slice", "channels"),
         "relu": ("relu", "RELU", "ReLU"), "concat": ("concat", "cat"), "add": ("add", "sum"),
         "mean": ("mean", "avg", "join"), "mul": ("mul", "multiply"),
         "identity": ("id", "identity"),
         "residual": ("residual", "res"), "softmax": ("softmax", "SOFTMAX", "soft_max")}
KW = {"pad": ("pad", "padding"), "kernel": ("kernel", "kernel_size"), "stride": ("stride", "s"),
      "out": ("out", "filters", "units", "out_channels"), "groups": ("groups", "g"),
      "p": ("p", "rate"), "slope": ("slope", "negative_slope"), "ceil_mode": ("ceil_mode", "ceil")}
WORDS = {"__builtins__": {}, "true": 1, "false": 0, "yes": 1, "no": 0, "on": 1, "off": 0,
         "max": max, "min": min}  # what a numeric text may use


class Bad(Exception):
    """The shape model refuses a piece for this input."""


@dataclass(frozen=True)
class Program:
    text: str
    params: dict[str, Any]

    def __repr__(self) -> str:
        return f"Program(params={self.params!r}, text=\n{self.text})"


@dataclass(frozen=True)
class Piece:
    text: str
    f: Rule
    atomic: bool = True  # may take a postfix (`*N`, `?`, `as t`) without parentheses


def wrap(p: Piece) -> str:
    return p.text if p.atomic else f"({p.text})"


def seq(pieces: list[Piece], sep: str = " - ") -> Piece:
    def f(s: Shape, env: Env) -> Shape:
        for p in pieces:
            s = p.f(s, env)
        return s
    return pieces[0] if len(pieces) == 1 else Piece(sep.join(p.text for p in pieces), f, False)


def bad(why: str = "") -> Any:
    raise Bad(why)


@functools.lru_cache(maxsize=4096)
def _code(text: str):
    return compile(text, "<num>", "eval")


def num(text: str, env: Env) -> Any:
    """An integer expression's value: the DSL's + - * // max min, read as Python."""
    names = {k: v for k, v in env.items() if isinstance(v, (int, float))}
    names["in_c"] = env["@in"][0] if "@in" in env else None
    return eval(_code(text), WORDS, names)  # noqa: S307 - our own arithmetic texts


def value(text: str, kind: str, env: Env) -> Any:
    low = text.lower()
    if low in B:
        return low == "true"
    if re.fullmatch(r"\d+(x\d+)+", low):
        return tuple(int(p) for p in low.split("x"))
    if text[0] == "'":
        return text[1:-1]
    if kind in ("str", "pad") and low in ("same", "valid", "auto", "nearest", "bilinear"):
        return low
    return num(text, env)


def whole(v: Any) -> Any:
    """A whole number as an int (the compiler takes 4.0 for 4); others unchanged."""
    if isinstance(v, tuple):
        return tuple(whole(x) for x in v)
    return int(v) if isinstance(v, float) and v.is_integer() else v


def check(s: Shape) -> Shape:
    s = whole(s)
    big = s[0] > LIMITS[0] or max(s[1:], default=0) > LIMITS[1] or math.prod(s) > LIMITS[2]
    return bad(f"shape {s}") if min(s) <= 0 or big or any(type(d) is not int for d in s) else s


def infer(name: str, vals: dict[str, Any], s: Shape, defaults: dict[str, int]) -> Shape:
    """The registry's shape rule, after apply_op's defaults and _check_attr's bounds."""
    op, a = ops.get(name), {}
    for at in op.attrs:
        v = vals.get(at.name, at.default)
        v = bad(f"{name} needs {at.name}") if v is REQUIRED else v(defaults) if callable(v) else v
        v = whole(v) if at.kind in ("int", "pair", "pad") else v
        v = (v, v) if at.kind in ("pair", "pad") and isinstance(v, int) else v
        for x in v if isinstance(v, tuple) else (v,):
            if at.kind != "float" and isinstance(x, float):
                bad(f"{name}.{at.name}={v} is not whole")
            if isinstance(x, (int, float)) and not (at.min or 0) <= x <= (at.max or math.inf):
                bad(f"{name}.{at.name}={v}")
        a[at.name] = bool(v) if at.kind == "bool" else v
    t = TensorType(s)
    t = TensorType((t.numel,)) if op.family == "fc" and t.is_map else t
    try:
        return check(op.infer(op.resolve(a, [t]), [t]).dims)
    except ShapeError as e:
        raise Bad(e.message) from None


@functools.cache
def _ints(lo: int, hi: int) -> st.SearchStrategy[int]:
    return st.integers(lo, hi)


class G:
    """One program's drawing state."""

    def __init__(self, draw: Callable):
        self.draw, self.budget, self.n = draw, 0, 0
        self.blocks: list[Block] = []
        self.open: set[str] = set()  # blocks being drawn (a call would recurse)
        self.switch: dict[str, bool] = {}  # optional parts' keys -> on
        self.all_off = False  # params {"?": False}
        self.defaults = {"channels": 32, "hidden": 128, "classes": 10}
        self.explicit = False  # `classes` bound by the program
        self.net_env: Env = {}  # what a block sees of the network
        self.nums: list[str] = []  # the network's numeric parameters

    def int(self, lo: int, hi: int) -> int:
        return self.draw(_ints(lo, hi))

    def pick(self, xs):
        xs = list(xs)
        return xs[self.draw(_ints(0, len(xs) - 1))]

    def coin(self, pct: int = 50) -> bool:
        return self.draw(_ints(0, 99)) < pct

    def fresh(self, stem: str) -> str:
        self.n += 1
        return f"{stem}{self.n}"

    def spell(self, name: str) -> str:
        return self.pick(SPELL.get(name, (name,)))


@dataclass
class Scope:
    env: Env
    nums: list[str]  # numeric names usable in expressions
    tensors: list[str] = field(default_factory=list)
    layers: list[str] = field(default_factory=list)
    depth: int = 0
    block: bool = False
    labels: bool = True  # the chain level of a network or block: may name tensors
    aux: bool = True

    def sub(self, **kw) -> Scope:
        return replace(self, **{"depth": self.depth + 1, "labels": False, **kw})


def P(g: G, name: str, args: dict[str, str] | None = None) -> Piece:
    """A call of operator ``name``; ``args`` (attr -> text) positional where allowed."""
    op = ops.get(name)
    items = [(a.name, args[a.name], a.kind) for a in op.attrs if a.name in (args or {})]
    pos = [a.name for a in op.attrs if a.positional]
    npos = 0
    while npos < min(len(items), len(pos)) and items[npos][0] == pos[npos]:
        npos += 1
    npos = g.int(0, npos)
    parts = [t if i < npos else f"{g.pick(KW.get(k, (k,)))}={t}"
             for i, (k, t, _) in enumerate(items)]
    defaults = g.defaults

    def f(s: Shape, env: Env) -> Shape:
        return infer(name, {k: value(t, kd, env) for k, t, kd in items}, s, defaults)
    return Piece(g.spell(name) + (f"({', '.join(parts)})" if parts or g.coin(10) else ""), f)


def ident(g: G) -> Piece:
    return Piece(g.spell("identity"), lambda s, env: s)


def gen_num(g: G, sc: Scope, lo: int, hi: int, want: int | None = None) -> str:
    """An integer expression worth lo..hi here (exactly ``want`` if given)."""
    names = sc.nums + ["in_c"] * sc.block
    if "repeat_index" in names and g.coin(50):
        names = ["repeat_index"]
    forms = [t for n in names for t in (n, f"{n}*2", f"{n}+1", f"{n}-1", f"{n}//2",
                                        f"max({n}, {lo})", f"min({n}, {hi})")]
    ok = [t for t in forms if lo <= num(t, sc.env) <= hi and want in (None, num(t, sc.env))]
    if ok and g.coin(60):
        return g.pick(ok)
    v = want if want is not None else g.int(lo, hi)
    return f"{v}.0" if g.coin(6) else str(v)  # a whole float is a whole number too


def groups(g: G, c: int) -> int:
    inner = [d for d in range(2, c) if c % d == 0]  # neither 1 nor c: a real grouping
    return g.pick(inner) if inner and g.coin(70) else g.pick((1, c))


def gen_op(g: G, sc: Scope, s: Shape, inner: bool = False) -> Piece:
    """One operator, most of the time valid on ``s``."""
    m, c = len(s) == 3, s[0]
    name = g.pick(MAP_OPS if m and g.coin(65) else ANY_OPS + ("softmax",) * 2 * inner)
    if name == "softmax":  # not in tail position: a softmax over the channels
        return Piece(g.spell("softmax"), lambda s, env: s)
    if name == "conv" and g.coin(8):  # the VGG paper's spelling
        k, n = g.pick((1, 3, 5)), g.int(1, 12)
        return Piece(f"conv{k}-{n}", lambda s, env: infer("conv", {"out": n, "kernel": k}, s, {}))
    A = {k: g.pick(vs) for k, vs in OPTS.get(name, {}).items() if g.coin(45)}
    if name == "conv" and g.coin(15):  # TensorFlow's 'same' with an even kernel: asymmetric
        A.update(kernel=g.pick(("2", "4", "2x3")), pad="same")
    if name in ("conv", "deconv"):
        grp = groups(g, c) if g.coin(30) else 1
        if grp > 1:
            A["groups"] = "in_c" if sc.block and grp == c and g.coin(50) else str(grp)
            A["out"] = str(grp * g.int(1, max(1, 12 // grp)))
        elif not (name == "conv" and g.defaults["channels"] <= 12 and g.coin(15)):  # bare conv
            A["out"] = gen_num(g, sc, 1, 12)
    elif name in ("maxpool", "avgpool") and "pad" in A:
        A["pad"] = str(min(int(A["pad"]), int(A.get("kernel", "2")) // 2))
    elif name == "adaptiveavgpool":
        A["size"] = g.pick((str(g.int(1, min(s[1:]))), f"{g.int(1, s[1])}x{g.int(1, s[2])}"))
    elif name == "fc" and not (g.defaults["hidden"] <= 12 and g.coin(15)):  # bare fc
        A["out"] = gen_num(g, sc, 1, 12)
    elif name in ("groupnorm", "shuffle", "groupsoftmax"):
        A["groups"] = str(groups(g, c))
    elif name == "slice":
        start = g.int(0, c - 1)
        A["start"] = str(start)
        if g.coin(70):
            A["stop"] = str(g.int(start + 1, c))
    elif name in ("scale", "zeropad", "upsample"):
        k = {"scale": "factor", "zeropad": "pad", "upsample": "scale"}[name]
        A[k] = g.pick({"factor": ("0.5", "2", "-1.5", "1e-1"), "scale": ("2", "1"),
                       "pad": ("1", "2", "1x0", "0x1x2x1")}[k])
    for k, t in A.items():  # numbers from the scope's names: block calls then differ here
        if t.isdigit() and g.coin(30):
            A[k] = gen_num(g, sc, int(t), int(t), int(t))
        elif re.fullmatch(r"[\d.e-]+", t) and "." in t and g.coin(30):
            A[k] = g.pick([f"{n}/10" for n in sc.nums if 0 < num(n, sc.env) < 10] or [t])
    return P(g, name, A)


@dataclass
class Block:
    name: str
    params: list[tuple[str, str, str | None]]  # name, num/layer/tensor, default text
    body: Piece
    text: str = ""


def gen_match(g: G, sc: Scope, s: Shape, t: Shape, any_c: bool = False) -> Piece | None:
    """A short chain from ``s`` to ``t`` (to t's height and width only: ``any_c``)."""
    if len(t) == 1:
        if len(s) == 1 and (s == t or any_c):
            return g.pick((ident(g), P(g, g.pick(ACTS)), P(g, "bn")))
        lead = [P(g, g.pick(("gap", "gmp", "flatten")))] if len(s) == 3 and g.coin(60) else []
        return lead[0] if any_c and lead else seq(
            lead + [P(g, "fc", {"out": gen_num(g, sc, t[0], t[0], t[0])})])
    if len(s) == 1:
        return None
    cs = gen_num(g, sc, t[0], t[0], t[0]) if not any_c else str(g.int(1, 8))
    (h, w), (th, tw) = s[1:], t[1:]

    def conv(k: str = "1", **more: str) -> Piece:
        return P(g, "conv", {"out": cs, "kernel": k, **more})
    opts: list[Callable[[], list[Piece]]] = [
        lambda: [P(g, "adaptiveavgpool", {"size": f"{th}x{tw}"}), conv()]]
    if (h, w) == (th, tw):
        opts.append(lambda: [conv(g.pick(("1", "3"))), P(g, g.pick(ACTS))])
        if s == t or any_c:
            opts += [lambda: [ident(g)], lambda: [P(g, g.pick(ACTS))]]
    sh = next((k for k in range(1, h + 1) if -(-h // k) == th), None)
    sw = next((k for k in range(1, w + 1) if -(-w // k) == tw), None)
    if sh and sw:  # a strided conv
        opts.append(lambda: [conv(g.pick(("1", "3")), stride=f"{sh}x{sw}")])
    if th <= h and tw <= w:  # a valid conv with the kernel that fits
        opts.append(lambda: [conv(f"{h - th + 1}x{w - tw + 1}", pad="0")])
    if th >= h and tw >= w:
        opts.append(lambda: [P(g, "zeropad", {"pad": f"0x{th - h}x{tw - w}x0"}), conv()])
    if th % h == 0 and th // h * w == tw:  # upsampling by a whole factor
        f = str(th // h)
        opts.append(lambda: [P(g, "upsample", {"scale": f, "mode": g.pick(("bilinear",
                                                                          "nearest"))}), conv()])
        opts.append(lambda: [P(g, "deconv", {"out": cs, "kernel": f, "stride": f})])
    return seq(g.pick(opts)())


def merge(g: G, kind: str, branches: list[Piece]) -> Piece:
    def f(s: Shape, env: Env) -> Shape:
        outs = [TensorType(b.f(s, env)) for b in branches]
        try:
            return outs[0].dims if len(outs) == 1 else check(ops.get(kind).infer({}, outs).dims)
        except ShapeError as e:
            raise Bad(e.message) from None
    return Piece(f"{g.spell(kind)}({' | '.join(b.text for b in branches)})", f)


def _conv(s: Shape, out: int, k: Any = 3, stride: Any = 1, pad: Any = "auto", m: int = 0) -> Shape:
    """A conv's shape (``m``: depthwise, ``m`` filters per channel)."""
    return infer("conv", {"out": out + s[0] * m, "kernel": k, "stride": stride, "pad": pad,
                          "groups": s[0] if m else 1}, s, {})


K, S = ("1", "3", "5"), ("1", "2")
PRELUDE: dict[str, tuple[tuple[tuple[str, Any], ...], Callable[[Shape, dict], Shape]]] = {
    # name: ((param, (lo, hi) or texts), ...), rule(shape, values given)
    "se": ((("r", (1, 4)),), lambda s, v: s if s[0] // v.get("r", 16) else bad()),
    "dense": ((("n", (0, 2)), ("k", (1, 4)), ("bn_size", (0, 2))),
              lambda s, v: check((s[0] + v["n"] * v["k"],) + s[1:])),
    "dense_layer": ((("k", (1, 4)), ("bn_size", (0, 2))),
                    lambda s, v: check((s[0] + v["k"],) + s[1:])),
    "transition": ((("theta", ("0.5", "1", "0.25")),), lambda s, v: infer(
        "avgpool", {}, _conv(s, math.floor(s[0] * v.get("theta", 0.5)), 1), {})),
    "inception": (tuple((p, (1, 4)) for p in ("c1", "r3", "c3", "r5", "c5", "pool_proj")),
                  lambda s, v: check((v["c1"] + v["c3"] + v["c5"] + v["pool_proj"],) + s[1:])),
    "dwconv": ((("k", K), ("stride", S), ("m", (1, 2))),
               lambda s, v: _conv(s, 0, v.get("k", 3), v.get("stride", 1), m=v.get("m", 1))),
    "pwconv": ((("c", (1, 12)),), lambda s, v: _conv(s, v["c"], 1)),
    "sepconv": ((("c", (1, 12)), ("k", K), ("stride", S)), lambda s, v: _conv(
        _conv(s, 0, v.get("k", 3), v.get("stride", 1), m=1), v["c"], 1)),
    "inverted": ((("c", (1, 12)), ("stride", S), ("t", (1, 3))), lambda s, v: _conv(_conv(
        _conv(s, s[0] * v.get("t", 6), 1) if v.get("t", 6) - 1 else s, 0, 3,
        v.get("stride", 1), m=1), v["c"], 1)),
    "fire": ((("s", (1, 4)), ("e1", (1, 6)), ("e3", (1, 6))),
             lambda s, v: check((v["e1"] + v["e3"],) + s[1:])),
    "mlpconv": ((("c", (1, 8)), ("k", K), ("stride", S), ("pad", (0, 1))),
                lambda s, v: _conv(s, v["c"], v["k"], v.get("stride", 1), v.get("pad", 0))),
}
REQUIRED_ARGS = {"se": 1, "dense": 2, "dense_layer": 1, "transition": 0, "dwconv": 0, "mlpconv": 2}
