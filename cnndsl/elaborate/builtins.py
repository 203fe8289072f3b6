"""Built-in blocks that need shapes to expand: merges, residual, the softmax classifier.

Each takes a :class:`~.host.Host` (what a built-in may use of the elaborator, see its
NOTE), the call's arguments, its span, the environment and the input port, and returns
the output port. Blocks that need no shape logic (SE, dense,
transition, inception, depthwise separable, ...) are written in the language itself,
in ``cnndsl/prelude.cnn``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from .. import ops
from ..diagnostics import Diagnostic, Span
from ..syntax import ast
from .env import POISON, ElabError, Env, Port, err

if TYPE_CHECKING:
    from .host import Host

Builtin = Callable[["Host", tuple, Span, Env, Port], Port]
_BUILTINS: dict[str, Builtin] = {}


def builtin(*names: str):
    def register(fn: Builtin) -> Builtin:
        for n in names:
            _BUILTINS[n] = fn
        return fn
    return register


def lookup(name: str) -> Builtin | None:
    return _BUILTINS.get(name.lower())


def names() -> list[str]:
    return sorted(_BUILTINS)


def _split(args: tuple[ast.Arg, ...], what: str, span: Span, allowed: tuple[str, ...] = ()
           ) -> tuple[list[ast.Expr], dict[str, ast.Arg]]:
    """The branches (``a | b | c``, or one positional expression) and keyword options."""
    positional = [a for a in args if a.name is None]
    options = {a.name.lower(): a for a in args if a.name is not None}
    for k, a in options.items():
        if k not in allowed:
            raise err("E0102", f"`{what}` has no option `{a.name}`", a.span,
                      help=f"options: {', '.join(allowed)}" if allowed else None)
    if not positional:
        raise err("E0110", f"`{what}` needs its branches", span,
                  help=f"write {what}(a | b)")
    if len(positional) > 1:
        raise err("E0103", f"`{what}` takes its branches separated by `|`, not `,`",
                  positional[1].span, help=f"{what}(a | b | c)")
    value = positional[0].value
    branches = list(value.branches) if isinstance(value, ast.Alt) else [value]
    return branches, options


def _short(text: str, n: int = 40) -> str:
    return text if len(text) <= n else text[: n - 3] + "..."


# ---------------------------------------------------------------- merges
def _merge(kind: str):
    def expand(host: Host, args, span, env, x):
        branches, _ = _split(args, kind, span)
        branches = [b for b in branches if not _absent(host, b, env)]
        if not branches:
            raise err("E0103", f"every branch of this {kind} is absent (their tests are "
                      "false)", span, help="keep one branch unconditional")
        outs = [host.build(b, env, x) for b in branches]
        if len(outs) == 1:
            return outs[0]
        if not all(p.ok for p in outs):
            return POISON
        try:
            return host.add_node(ops.get(kind), {}, outs, span)
        except ElabError as ex:  # name each branch and what it gives
            d = ex.diagnostic
            if d is None:
                raise
            notes = tuple(f"branch {i + 1} `{_short(b.text)}` (line {b.span.line}:"
                          f"{b.span.col}) gives {p.type}"
                          for i, (b, p) in enumerate(zip(branches, outs)))
            raise ElabError(replace(d, notes=d.notes + notes)) from None
    return expand


def _absent(host: Host, branch: ast.Expr, env) -> bool:
    """A branch ``if(test, layers)`` whose test is false: left out of its merge (also in
    brackets, or labelled)."""
    while isinstance(branch, (ast.Group, ast.Label)):
        branch = branch.value
    if not (isinstance(branch, ast.Call) and branch.func.id.lower() == "if"
            and len(branch.args) == 2):
        return False
    return not host.truth(branch.args[0].value, env)


# Each merge operator is a built-in under its names and aliases, taken from its one
# definition (cnndsl/ops/merge.py): `plus(a | b)` is `add(a | b)`.
for _op in ops.all_ops():
    if _op.family == "merge":
        builtin(_op.name, *_op.aliases)(_merge(_op.name))


# ---------------------------------------------------------------- residual
@builtin("residual", "res")
def residual(host: Host, args, span, env, x):
    """``residual(body, shortcut=proj|pad|conv|identity|none|LAYERS, pre=layers,
    shortcut_first=false)``.

    The body's output is added to the shortcut. Where the body changes the shape, the
    shortcut becomes a projection (1x1 conv with the body's stride, then BN: He et al.'s
    option B, the default), a zero-padded subsampled identity (``shortcut=pad``, option
    A), a bare 1x1 conv (``shortcut=conv``, pre-activation ResNets), or the layers given
    (``shortcut=avgpool(2) - conv(c, 1) - bn``, ResNet-D); ``shortcut=none`` drops the
    shortcut there (MobileNetV2); ``identity`` makes it an error. ``pre`` runs before the
    split (pre-activation: ``pre=bn - relu``); the shortcut then starts from the
    pre-activated input when it needs one. ``shortcut_first`` computes (and registers)
    the shortcut before the body, as torchvision's RegNet and timm's Xception do.
    """
    branches, options = _split(args, "residual", span, ("shortcut", "pre", "shortcut_first"))
    if len(branches) != 1:
        raise err("E0103", "residual takes one body; its shortcut is implicit", span,
                  help="for several branches write add(a | b | c)")
    if _absent(host, branches[0], env):
        return x  # residual(if(test, body)) with a false test: no block at all
    mode, layers = _shortcut_mode(host, options.get("shortcut"), env)
    first = host.truth(options["shortcut_first"].value, env) \
        if "shortcut_first" in options else False
    with host.frame("residual", f"residual({branches[0].text})", False, span):
        entry = x
        if "pre" in options:
            entry = host.build(options["pre"].value, env, x)
        start = host.node_count()
        body = host.build(branches[0], env, entry)
        if not (body.ok and entry.ok and x.ok):
            return POISON
        mid = host.node_count()
        short = x
        if body.type != x.type:
            if mode == "none":  # MobileNetV2: no shortcut where the shape changes
                return body
            short = (_given_shortcut(host, layers, env, entry, body, span) if layers else
                     _shortcut(host, mode, entry, body, span))
            if not short.ok:
                return POISON
        if first and not host.hoist(start, mid):
            raise err("E0105", "shortcut_first: the shortcut reads a tensor the body computes, "
                      "so it cannot come first", options["shortcut_first"].span,
                      help="compute the shared tensor before the residual, or drop "
                      "shortcut_first")
        return host.add_node(ops.get("add"), {}, [body, short], span)


_MODES = {"proj": "proj", "b": "proj", "projection": "proj", "pad": "pad", "a": "pad",
          "zero": "pad", "zeropad": "pad", "conv": "conv", "identity": "identity",
          "id": "identity", "none": "none"}


def _shortcut_mode(host: Host, arg, env) -> tuple[str, ast.Expr | None]:
    """(mode, None) for a named shortcut kind, ("layers", expression) for layers."""
    if arg is None:
        return "proj", None
    value = arg.value
    if isinstance(value, ast.Name) and value.id.lower() in _MODES:
        return _MODES[value.id.lower()], None
    if isinstance(value, ast.Name) and not host.is_layer(value.id):
        mode = str(host.value(value, env, want_str=True)).lower()  # a parameter's value
        if mode in _MODES:
            return _MODES[mode], None
        raise err("E0105", f"shortcut must be proj (B), pad (A), conv, identity, none or "
                  f"layers, got `{mode}`", arg.span,
                  help="e.g. shortcut=avgpool(2) - conv(c, 1, bias=false) - bn")
    if isinstance(value, (ast.Num, ast.Str)):
        raise err("E0105", "shortcut must be proj (B), pad (A), conv, identity, none or "
                  "layers", arg.span, help="e.g. shortcut=pad, or shortcut=conv(c, 1) - bn")
    return "layers", value


def _given_shortcut(host: Host, layers: ast.Expr, env, x: Port, body: Port,
                    span: Span) -> Port:
    """The shortcut the program wrote, where the body changes the shape; it must end
    with the body's shape."""
    short = host.build(layers, env, x)
    if short.ok and short.type != body.type:
        raise err("E0307", f"the shortcut gives {short.type} where the body gives "
                  f"{body.type}", span, help="make the shortcut end with the body's "
                  "channels and stride (e.g. avgpool(2) - conv(c, 1) - bn)")
    return short


def _shortcut(host: Host, mode: str, x: Port, body: Port, span: Span) -> Port:
    src, dst = x.type, body.type
    if mode == "identity" or not (src.is_map and dst.is_map):
        raise err("E0307", f"the residual body changes the shape from {src} to {dst}, and "
                  "the identity shortcut cannot follow", span,
                  help="use the default projection shortcut, or keep the body's shape")
    strides = []
    for n, m in ((src.dims[1], dst.dims[1]), (src.dims[2], dst.dims[2])):
        s = next((s for s in range(1, n + 1) if -(-n // s) == m), None)
        if s is None:
            raise err("E0307", f"no 1x1 strided shortcut maps {src} to {dst}", span,
                      help="the body may only shrink the map by an integer stride")
        strides.append(s)
    stride = tuple(strides)
    if mode == "pad":
        if dst.channels < src.channels:
            raise err("E0307", "a zero-padded shortcut cannot reduce channels "
                      f"({src.channels} -> {dst.channels})", span, help="use shortcut=proj")
        return host.add_node(ops.get("shortcut_pad"), {"out": dst.channels, "stride": stride},
                             [x], span, base="shortcut")
    conv = ops.get("conv")
    attrs = {"out": dst.channels, "kernel": (1, 1), "stride": stride, "pad": (0, 0, 0, 0),
             "dilation": (1, 1), "groups": 1, "bias": False}
    p = host.add_node(conv, attrs, [x], span, base="downsample")
    if mode == "proj":
        bn = ops.get("bn")
        p = host.add_node(bn, {"eps": 1e-5, "momentum": 0.1, "affine": True}, [p], span,
                          base="downsample_bn")
    return p


# ---------------------------------------------------------------- conditional
@builtin("if")
def conditional(host: Host, args, span, env, x):
    """``if(test, then, otherwise)``: the layers of ``then`` where test is true (or
    non-zero). ``if(test, then)`` is ``then`` or nothing: in a merge, a branch that is
    present only where the test holds; elsewhere, the identity."""
    positional = [a for a in args if a.name is None]
    if len(positional) not in (2, 3) or len(args) != len(positional):
        raise err("E0401", "if takes a test and one or two choices: if(test, then, "
                  "otherwise)", span, help="e.g. if(t > 1, pwconv(in_c * t), id)")
    tail = host.tail
    test = host.truth(positional[0].value, env)
    if not test and len(positional) == 2:
        return x
    return host.build(positional[1 if test else 2].value, env, x, tail)


# ---------------------------------------------------------------- auxiliary heads
@builtin("aux")
def auxiliary(host: Host, args, span, env, x):
    """``aux(head)``: a side output computed from here (GoogLeNet's auxiliary
    classifiers); the main chain goes on from the same input. The emitted module returns
    the auxiliary outputs after the main one while training, and the main one alone in
    evaluation."""
    branches, _ = _split(args, "aux", span)
    if len(branches) != 1:
        raise err("E0103", "aux takes one head", span)
    with host.frame("aux", f"aux({_short(branches[0].text)})", True, span):
        head = host.build(branches[0], env, x, tail=True)  # its end is an output
    if head.ok:
        if head.node == x.node:
            raise err("E0113", "an auxiliary head needs at least one layer", span)
        host.add_aux(head)
    return x


# ---------------------------------------------------------------- softmax classifier
def _head_option(host: Host, args, span: Span, env) -> bool | None:
    """``softmax``'s one option, ``head=true|false`` (None: not given)."""
    if not args:
        return None
    if len(args) > 1 or args[0].name is None or args[0].name.lower() != "head":
        raise err("E0103", "softmax takes only `head=true|false`; the class count is the "
                  "parameter `classes`", span, help="network name(classes=1000): ... or "
                  "--set classes=N; softmax(head=false) is a softmax over the channels")
    value = host.value(args[0].value, env)
    if not isinstance(value, bool):
        raise err("E0105", f"`head` of softmax is true or false, got {value!r:.40}",
                  args[0].span)
    return value


@builtin("softmax", "soft_max", "classifier")
def softmax(host: Host, args, span, env, x):
    """At the end of the network (or of an auxiliary head), the softmax classifier over
    ``classes``: adds the class-score fc where needed, and the module returns the logits.
    Anywhere else, or written ``softmax(head=false)``, a softmax over the channels that
    the module computes (a segmentation net's per-pixel class probabilities)."""
    head = _head_option(host, args, span, env)
    if not x.ok:
        return POISON
    if head is True and not host.tail:
        raise err("E0105", "softmax(head=true) is the classifier: it ends the network or an "
                  "auxiliary head", span, help="write softmax for a softmax over the channels "
                  "here")
    if not host.tail or head is False:
        return host.add_node(ops.get("softmax"), {"head": False}, [x], span)
    found, _ = env.find("classes")
    explicit = found or host.is_bound("classes")
    classes = host.value(ast.Name(span, "classes"), env)
    if isinstance(classes, bool) or not isinstance(classes, int) or classes < 1:
        raise err("E0104", f"`classes` must be a positive whole number, got {classes!r:.40}",
                  span, help="bind it: --set classes=10, or network name(classes=10):")
    nodes = host.nodes()
    node = nodes[-1] if nodes else None
    producer = next((n for n in nodes if n.name == x.node), node)
    width = x.type.dims[0] if x.type.is_vector else None
    from_fc = producer is not None and producer.op == "fc"
    is_scores = width is not None and ((from_fc and (not explicit or width == classes))
                                       or (explicit and width == classes))
    if not is_scores:
        host.report(Diagnostic("N0401", f"added fc({classes}) to give the softmax its class "
                               "scores", span, help="write fc(classes) before softmax to make "
                               "it explicit; bind `classes` to change the count"))
        x = host.apply_op(ops.get("fc"), {"out": classes}, span, x, env)
    return host.add_node(ops.get("softmax"), {"head": True}, [x], span)
