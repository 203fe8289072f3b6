"""The core operators. Each definition is the one place its rules live.

Conventions (see docs/language.md and docs/cost.md): MACs count multiply-accumulates of
convolutions and fully connected layers, bias adds excluded (fvcore's and the slides'
convention); batch norm is counted apart (2 per element: scale and shift, as fvcore
does at inference), and so are global and adaptive average pools (1 per input element,
as fvcore counts them); other pools, activations and merges cost no MACs.
"""

from __future__ import annotations

from ..ir.graph import TensorType
from . import window as win
from .registry import register
from .schema import REQUIRED, Attr, Attrs, OpDef, Params, ShapeError, Types, Window


# ---------------------------------------------------------------- helpers
def _pair(v) -> str:
    return str(v[0]) if v[0] == v[1] else f"({v[0]}, {v[1]})"


def _need_map(op: str, t: TensorType) -> None:
    if not t.is_map:
        raise ShapeError("E0304", f"{op} needs a feature map (CxHxW) but its input is a "
                         f"vector of {t}", help="put it before the first fully connected "
                         "layer, or remove it")


def _resolve_pad(a: Attrs, ins: Types) -> Attrs:
    """Turn ``pad`` (int, HxW, 'auto', 'same', 'valid') into (top, bottom, left, right)."""
    a = dict(a)
    (kh, kw), (sh, sw), (dh, dw) = a["kernel"], a["stride"], a.get("dilation", (1, 1))
    pad = a["pad"]
    if pad == "valid":
        pad = (0, 0, 0, 0)
    elif pad == "auto":
        ph, pw = dh * (kh - 1) // 2, dw * (kw - 1) // 2
        pad = (ph, ph, pw, pw)
    elif pad == "same":
        if not ins[0].is_map:
            pad = (0, 0, 0, 0)
        else:
            t, b = win.same_padding(ins[0].dims[1], kh, sh, dh)
            lft, r = win.same_padding(ins[0].dims[2], kw, sw, dw)
            pad = (t, b, lft, r)
    elif isinstance(pad, int):
        pad = (pad, pad, pad, pad)
    elif isinstance(pad, tuple) and len(pad) == 2:
        pad = (pad[0], pad[0], pad[1], pad[1])
    a["pad"] = pad
    return a


def _window(a: Attrs) -> Window:
    return Window(a["kernel"], a["stride"], a["pad"], a.get("dilation", (1, 1)),
                  bool(a.get("ceil_mode", False)))


def _slide(op: str, a: Attrs, t: TensorType) -> tuple[int, int]:
    """Output H, W of a window op, with errors for impossible geometry."""
    w = _window(a)
    out = []
    for axis, n in ((0, t.dims[1]), (1, t.dims[2])):
        k, s, d = w.kernel[axis], w.stride[axis], w.dilation[axis]
        p0, p1 = w.pad[2 * axis], w.pad[2 * axis + 1]
        extent = win.span(k, d)
        if extent > n + p0 + p1:
            what = f"{k}x{k}" if w.kernel[0] == w.kernel[1] else f"{w.kernel[0]}x{w.kernel[1]}"
            raise ShapeError(
                "E0301",
                f"{what} window is larger than its {'padded ' if p0 + p1 else ''}input "
                f"({n + p0 + p1} {'rows' if axis == 0 else 'columns'})",
                label=f"input is {t}",
                help="use a smaller kernel, add padding, or remove a downsampling layer "
                "before this one")
        f = win.fit(n, k, s, p0, p1, d, w.ceil_mode)
        if f.size <= 0:
            raise ShapeError("E0302", f"output size would be {f.size}", label=f"input is {t}")
        out.append(f.size)
    return out[0], out[1]


def _pad_text(a: Attrs) -> str:
    t, b, lft, r = a["pad"]
    if t == b and lft == r:
        return _pair((t, lft))
    return repr((t, b, lft, r))


KERNEL = Attr("kernel", "pair", 3, min=1, doc="window size, an int or HxW")
STRIDE = Attr("stride", "pair", 1, min=1, doc="step, an int or HxW")
DILATION = Attr("dilation", "pair", 1, min=1, doc="spacing between kernel taps")
PAD = Attr("pad", "pad", "auto", min=0,
           doc="zero padding: int, HxW, 'auto' ((F-1)/2 on each side), 'same' "
           "(TensorFlow's: output = ceil(input/stride), the odd pixel after), 'valid' (0)")


# ---------------------------------------------------------------- convolution
def _conv_infer(a: Attrs, ins: Types) -> TensorType:
    t = ins[0]
    _need_map("conv", t)
    g = a["groups"]
    if t.channels % g:
        raise ShapeError("E0303", f"{t.channels} input channels are not divisible by "
                         f"groups={g}", label=f"input is {t}",
                         help="choose groups dividing both channel counts")
    if a["out"] % g:
        raise ShapeError("E0303", f"{a['out']} output channels are not divisible by "
                         f"groups={g}", help="choose groups dividing both channel counts")
    h, w = _slide("conv", a, t)
    return TensorType((a["out"], h, w))


def _conv_params(a: Attrs, ins: Types, out: TensorType) -> Params:
    kh, kw = a["kernel"]
    weights = a["out"] * (ins[0].channels // a["groups"]) * kh * kw
    return Params(weights, a["out"] if a["bias"] else 0)


def _conv_macs(a: Attrs, ins: Types, out: TensorType) -> int:
    kh, kw = a["kernel"]
    return out.numel * (ins[0].channels // a["groups"]) * kh * kw


def _conv_label(a: Attrs, out: TensorType) -> str:
    kh, kw = a["kernel"]
    k = f"{kh}x{kw}"
    g = a["groups"]
    kind = "conv"
    if g > 1:
        kind = "dw conv" if g == out.channels else f"conv g{g}"  # depthwise: a filter per map
    s = a["stride"]
    stride = "" if s == (1, 1) else f", /{s[0]}" if s[0] == s[1] else f", /{s[0]}x{s[1]}"
    return f"{k} {kind}, {a['out']}{stride}"


def _conv_module(a: Attrs, ins: Types, out: TensorType) -> str:
    t, b, lft, r = a["pad"]
    args = [str(ins[0].channels), str(a["out"]), f"kernel_size={_pair(a['kernel'])}"]
    if a["stride"] != (1, 1):
        args.append(f"stride={_pair(a['stride'])}")
    if t == b and lft == r and (t or lft):
        args.append(f"padding={_pair((t, lft))}")
    if a["dilation"] != (1, 1):
        args.append(f"dilation={_pair(a['dilation'])}")
    if a["groups"] != 1:
        args.append(f"groups={a['groups']}")
    if not a["bias"]:
        args.append("bias=False")
    return f"nn.Conv2d({', '.join(args)})"


def _conv_call(a: Attrs, xs: list[str], m: str | None, ins: Types, out: TensorType) -> str:
    """Asymmetric padding ('same' with an even kernel) is applied explicitly, then the conv."""
    t, b, lft, r = a["pad"]
    if t == b and lft == r:
        return f"{m}({xs[0]})"
    return f"{m}(F.pad({xs[0]}, ({lft}, {r}, {t}, {b})))"


register(OpDef(
    name="conv", family="conv",
    doc="2-D convolution. A bare `conv` is 3x3, stride 1, padding (F-1)/2, with "
    "`channels` filters.",
    aliases=("convolution", "conv2d"),
    attrs=(
        Attr("out", "int", lambda ctx: ctx["channels"], min=1, doc="number of filters (K)"),
        KERNEL, STRIDE, PAD, DILATION,
        Attr("groups", "int", 1, min=1, doc="grouped convolution; in_c for depthwise"),
        Attr("bias", "bool", True, doc="add a learned bias per filter"),
    ),
    resolve=_resolve_pad, infer=_conv_infer, params=_conv_params, macs=_conv_macs,
    macs_kind="conv", window=_window, label=_conv_label, torch_module=_conv_module,
    torch_call=_conv_call,
    cost_note="MACs = output elements x (C_in/groups) x kh x kw; params = K x C_in/groups "
    "x kh x kw weights + K biases",
))


# ---------------------------------------------------------------- pooling
def _pool_resolve(a: Attrs, ins: Types) -> Attrs:
    a = dict(a)
    if a.get("stride") is None:
        a["stride"] = a["kernel"]
    a.setdefault("dilation", (1, 1))
    return _resolve_pad(a, ins)


def _pool_infer(kind: str):
    def infer(a: Attrs, ins: Types) -> TensorType:
        t = ins[0]
        _need_map(f"{kind} pool", t)
        top, bottom, left, right = a["pad"]
        kh, kw = a["kernel"]
        if top != bottom or left != right:
            raise ShapeError("E0305", "pooling supports symmetric padding only",
                             help="give pad as an int or HxW")
        if 2 * top > kh or 2 * left > kw:
            raise ShapeError("E0305", f"pooling padding {_pad_text(a)} is more than half "
                             f"the {kh}x{kw} window", help="PyTorch allows at most "
                             "kernel/2 padding in pools")
        h, w = _slide(f"{kind} pool", a, t)
        return TensorType((t.channels, h, w))
    return infer


def _pool_label(kind: str):
    def label(a: Attrs, out: TensorType) -> str:
        k, s = a["kernel"], a["stride"]
        stride = "" if s == (1, 1) else f", /{s[0]}" if s[0] == s[1] else f", /{s}"
        return f"{k[0]}x{k[1]} {kind} pool{stride}"
    return label


def _pool_module(cls: str):
    def module(a: Attrs, ins: Types, out: TensorType) -> str:
        args = [f"kernel_size={_pair(a['kernel'])}"]
        if a["stride"] != a["kernel"]:
            args.append(f"stride={_pair(a['stride'])}")
        t, _, lft, _ = a["pad"]
        if t or lft:
            args.append(f"padding={_pair((t, lft))}")
        if a.get("ceil_mode"):
            args.append("ceil_mode=True")
        if cls == "AvgPool2d" and not a.get("count_include_pad", True):
            args.append("count_include_pad=False")
        return f"nn.{cls}({', '.join(args)})"
    return module


_POOL_ATTRS = (
    Attr("kernel", "pair", 2, min=1, doc="window size"),
    Attr("stride", "pair", None, min=1, doc="step (default: the kernel size)"),
    Attr("pad", "pad", 0, min=0, doc="padding on each side (int or HxW; 'same')"),
    Attr("ceil_mode", "bool", False, doc="round the output size up, as Caffe did"),
)

register(OpDef(
    name="maxpool", family="pool", aliases=("pool", "max_pool", "maxpool2d", "maxpooling2d"),
    doc="Max pooling. A bare `pool` is 2x2, stride 2 (the slides' common setting).",
    attrs=_POOL_ATTRS, resolve=_pool_resolve, infer=_pool_infer("max"), window=_window,
    label=_pool_label("max"), torch_module=_pool_module("MaxPool2d"), macs_kind="pool",
    cost_note="no parameters, no MACs (comparisons only)",
))
register(OpDef(
    name="avgpool", family="pool", aliases=("avg_pool", "avgpool2d", "averagepooling2d"),
    doc="Average pooling; padding counts as zeros unless count_include_pad=false.",
    attrs=_POOL_ATTRS + (Attr("count_include_pad", "bool", True,
                              doc="average over the padded window, as PyTorch does"),),
    resolve=_pool_resolve, infer=_pool_infer("avg"), window=_window,
    label=_pool_label("avg"), torch_module=_pool_module("AvgPool2d"), macs_kind="pool",
    cost_note="no parameters, no MACs (additions only)",
))


def _global_infer(a: Attrs, ins: Types) -> TensorType:
    _need_map("global pooling", ins[0])
    return TensorType((ins[0].channels,))


def _global_window(a: Attrs) -> Window | None:
    return None


register(OpDef(
    name="gap", family="pool", aliases=("globalavgpool", "global_avg_pool", "avgpool_global", "globalaveragepooling2d",
                                          "adaptiveavgpool1", "gavgpool"),
    doc="Global average pooling: CxHxW to a vector of C (GoogLeNet, ResNet).",
    infer=_global_infer, label=lambda a, o: "global avg pool", macs_kind="pool",
    macs=lambda a, ins, out: ins[0].numel,
    torch_module=lambda a, ins, out: "nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())",
    cost_note="no parameters; MACs = input elements (one accumulate each, fvcore's "
    "count for adaptive average pooling), kind `pool`, outside the conv+linear total",
))
register(OpDef(
    name="gmp", family="pool", aliases=("globalmaxpool", "global_max_pool", "globalmaxpooling2d"),
    doc="Global max pooling: CxHxW to a vector of C.",
    infer=_global_infer, label=lambda a, o: "global max pool", macs_kind="pool",
    cost_note="no parameters, no MACs (comparisons only)",
    torch_module=lambda a, ins, out: "nn.Sequential(nn.AdaptiveMaxPool2d(1), nn.Flatten())",
))


def _adaptive_infer(a: Attrs, ins: Types) -> TensorType:
    _need_map("adaptive pooling", ins[0])
    h, w = a["size"]
    return TensorType((ins[0].channels, h, w))


register(OpDef(
    name="adaptiveavgpool", family="pool", aliases=("adaptive_avg_pool", "adaptivepool"),
    doc="Adaptive average pooling to a fixed HxW (torchvision's AlexNet and VGG heads).",
    attrs=(Attr("size", "pair", REQUIRED, min=1, doc="output HxW"),),
    infer=_adaptive_infer, label=lambda a, o: f"adaptive avg pool {a['size'][0]}x{a['size'][1]}",
    macs_kind="pool", macs=lambda a, ins, out: ins[0].numel,
    cost_note="no parameters; MACs = input elements (fvcore's count), kind `pool`, "
    "outside the conv+linear total",
    torch_module=lambda a, ins, out: f"nn.AdaptiveAvgPool2d({_pair(a['size'])})",
))


# ---------------------------------------------------------------- fully connected
def _fc_infer(a: Attrs, ins: Types) -> TensorType:
    if not ins[0].is_vector:  # the elaborator inserts a flatten; this is a safety net
        raise ShapeError("E0304", "fc needs a vector input", help="insert `flatten`")
    return TensorType((a["out"],))


register(OpDef(
    name="fc", family="fc", aliases=("linear", "fullyconnected", "fully_connected"),
    doc="Fully connected layer. After a feature map it flattens it first (an explicit "
    "`flatten` node appears in the IR). A bare `fc` has `hidden` units.",
    attrs=(Attr("out", "int", lambda ctx: ctx["hidden"], min=1, doc="number of units"),
           Attr("bias", "bool", True, doc="add a learned bias per unit")),
    infer=_fc_infer,
    params=lambda a, ins, out: Params(ins[0].dims[0] * a["out"], a["out"] if a["bias"] else 0),
    macs=lambda a, ins, out: ins[0].dims[0] * a["out"], macs_kind="linear",
    label=lambda a, o: f"FC {a['out']}",
    torch_module=lambda a, ins, out: (f"nn.Linear({ins[0].dims[0]}, {a['out']}"
                                      + (", bias=False)" if not a["bias"] else ")")),
    cost_note="MACs = in x out; params = in x out + out",
))


def _flatten_infer(a: Attrs, ins: Types) -> TensorType:
    return TensorType((ins[0].numel,))


register(OpDef(
    name="flatten", family="reshape", doc="CxHxW to a vector of C*H*W (the slides' Flatten).",
    infer=_flatten_infer, label=lambda a, o: "flatten",
    cost_note="no parameters, no MACs; a view of its input (no new activation memory)",
    torch_module=lambda a, ins, out: "nn.Flatten()",
))


# ---------------------------------------------------------------- activations
def _same(a: Attrs, ins: Types) -> TensorType:
    return ins[0]


def _activation_module(module: str, a: Attrs) -> str:
    """The constructor; ``inplace`` is set by the backend where the IR allows it
    (:mod:`cnndsl.backends.inplace`), never by a program."""
    text = module.format(**a)
    if not a.get("inplace"):
        return text
    return text[:-1] + ("inplace=True)" if text.endswith("()") else ", inplace=True)")


def _activation(name: str, module: str, aliases: tuple[str, ...] = (), doc: str = "",
                attrs: tuple[Attr, ...] = (), label: str | None = None) -> None:
    register(OpDef(
        name=name, family="act", aliases=aliases, doc=doc or f"{name} activation.",
        attrs=attrs, infer=_same, label=lambda a, o: label or name,
        macs_kind="elementwise",
        torch_module=lambda a, ins, out: _activation_module(module, a),
        cost_note="no MACs (element-wise)",
    ))


_activation("relu", "nn.ReLU()", doc="max(0, x).")
_activation("relu6", "nn.ReLU6()", doc="min(max(0, x), 6) (MobileNet).")
_activation("leakyrelu", "nn.LeakyReLU({slope})", aliases=("leaky_relu", "lrelu"),
            attrs=(Attr("slope", "float", 0.01, min=0, doc="negative slope"),),
            doc="Leaky ReLU.", label="leaky relu")
_activation("elu", "nn.ELU()", doc="ELU.")
_activation("tanh", "nn.Tanh()", doc="tanh.")
_activation("sigmoid", "nn.Sigmoid()", doc="logistic sigmoid.")
_activation("gelu", "nn.GELU()", doc="GELU.")
_activation("silu", "nn.SiLU()", aliases=("swish",), doc="x * sigmoid(x).")
_activation("hardswish", "nn.Hardswish()", aliases=("hswish", "hard_swish"), doc="MobileNetV3.")
_activation("hardsigmoid", "nn.Hardsigmoid()", aliases=("hsigmoid",), doc="MobileNetV3.")

register(OpDef(
    name="softmax", family="head", aliases=("soft_max", "softmax_classifier", "classifier"),
    doc="Softmax over the channels. At the end of the network (or of an auxiliary head) it "
    "is the classifier (`head`): where its input is not already the class scores it adds "
    "the class-score fc (with a note), and the emitted module returns the logits, softmax "
    "being applied by prediction helpers and ONNX export. Anywhere else (attention "
    "weights) the module computes it.",
    attrs=(Attr("head", "bool", False, positional=False,
                doc="the classifier at the network's end: the module returns logits"),),
    infer=_same, label=lambda a, o: "softmax",
    macs_kind="elementwise",
    cost_note="no parameters, no MACs; as the classifier the module returns logits "
    "(softmax is applied outside)",
    torch_module=lambda a, ins, out: None,
    torch_call=lambda a, xs, m, ins, out: xs[0] if a["head"] else f"torch.softmax({xs[0]}, 1)",
))


# ---------------------------------------------------------------- normalization
def _bn_infer(a: Attrs, ins: Types) -> TensorType:
    return ins[0]


def _bn_module(a: Attrs, ins: Types, out: TensorType) -> str:
    cls = "BatchNorm2d" if ins[0].is_map else "BatchNorm1d"
    extra = ""
    if a["eps"] != 1e-5:
        extra += f", eps={a['eps']!r}"
    if a["momentum"] != 0.1:
        extra += f", momentum={a['momentum']!r}"
    if not a["affine"]:
        extra += ", affine=False"
    return f"nn.{cls}({ins[0].channels}{extra})"


register(OpDef(
    name="bn", family="norm", aliases=("batchnorm", "batch_norm", "batchnorm2d", "batchnormalization"),
    doc="Batch normalization over channels (or features of a vector).",
    attrs=(Attr("eps", "float", 1e-5, min=0), Attr("momentum", "float", 0.1, min=0),
           Attr("affine", "bool", True)),
    infer=_bn_infer,
    params=lambda a, ins, out: Params(ins[0].channels if a["affine"] else 0,
                                      ins[0].channels if a["affine"] else 0,
                                      2 * ins[0].channels),
    macs=lambda a, ins, out: out.numel * (2 if a["affine"] else 1), macs_kind="norm",
    label=lambda a, o: "batch norm", torch_module=_bn_module,
    cost_note="params: gamma and beta (C each, trainable); running mean and variance are "
    "buffers (2C). MACs: reported apart as `norm`, 2 per element (fvcore's count)",
))

register(OpDef(
    name="lrn", family="norm", aliases=("norm", "localresponsenorm", "local_response_norm"),
    doc="Local response normalization (AlexNet's NORM; defaults from the AlexNet paper).",
    attrs=(Attr("size", "int", 5, min=1), Attr("alpha", "float", 1e-4, min=0),
           Attr("beta", "float", 0.75, min=0), Attr("k", "float", 2.0, min=0)),
    infer=lambda a, ins: (_need_map("lrn", ins[0]), ins[0])[1],
    label=lambda a, o: "LRN",
    torch_module=lambda a, ins, out: (f"nn.LocalResponseNorm({a['size']}, alpha={a['alpha']!r}"
                                      f", beta={a['beta']!r}, k={a['k']!r})"),
    cost_note="no parameters; not counted in MACs (no multiply-accumulate with learned "
    "weights; fvcore skips it too)",
))


# ---------------------------------------------------------------- regularization
register(OpDef(
    name="dropout", family="reg", aliases=("drop",),
    doc="Dropout with probability p (identity at evaluation).",
    attrs=(Attr("p", "float", 0.5, min=0, max=1),),
    infer=_same, label=lambda a, o: f"dropout {a['p']}",
    cost_note="no parameters, no MACs; identity at inference (no new activation memory)",
    torch_module=lambda a, ins, out: f"nn.Dropout(p={a['p']!r})",
))

_DROP_PATH = '''
class DropPath(nn.Module):
    """Stochastic depth: drop a sample's branch with probability p while training."""

    def __init__(self, p: float):
        super().__init__()
        self.p = p
        self.keep = 1.0 - p

    def forward(self, x):
        if not self.training or self.p == 0.0:
            return x
        if self.keep == 0.0:
            return torch.zeros_like(x)
        mask = x.new_empty([x.shape[0]] + [1] * (x.dim() - 1)).bernoulli_(self.keep)
        return x * mask / self.keep

    def extra_repr(self) -> str:
        return f"p={self.p}"
'''


register(OpDef(
    name="droppath", family="reg", aliases=("drop_path", "stochasticdepth", "stochastic_depth"),
    doc="Stochastic depth: drops the whole residual branch of a sample with probability p "
    "during training (scaling survivors by 1/(1-p)); identity at evaluation.",
    attrs=(Attr("p", "float", 0.1, min=0, max=1, doc="drop probability"),),
    infer=_same, label=lambda a, o: f"drop path {a['p']}",
    cost_note="no parameters, no MACs; identity at inference",
    torch_module=lambda a, ins, out: f"DropPath({a['p']!r})", torch_helper=_DROP_PATH,
))

register(OpDef(
    name="scale", family="act", aliases=("constant_scale",),
    doc="Multiplies by a constant: Inception-ResNet's residual scaling (0.1 to 0.3).",
    attrs=(Attr("factor", "float", REQUIRED, doc="the constant"),),
    infer=_same, label=lambda a, o: f"x {a['factor']:g}", macs_kind="elementwise",
    torch_module=lambda a, ins, out: None,
    torch_call=lambda a, xs, m, ins, out: f"{xs[0]} * {a['factor']!r}",
    cost_note="no parameters, no MACs (element-wise)",
))

register(OpDef(
    name="identity", family="reshape", aliases=("id", "skip", "noop"),
    doc="Passes its input through (a branch of a merge, or a placeholder).",
    infer=_same, label=lambda a, o: "identity",
    cost_note="no parameters, no MACs; returns its input",
    torch_module=lambda a, ins, out: None, torch_call=lambda a, xs, m, ins, out: xs[0],
))

register(OpDef(
    name="input", family="io", doc="The network's input.",
    attrs=(Attr("shape", "str", REQUIRED),),
    infer=lambda a, ins: TensorType.parse(a["shape"]), label=lambda a, o: f"input {o}",
    cost_note="no parameters, no MACs; its elements count in the activation total",
))


def _shortcut_pad_infer(a: Attrs, ins: Types) -> TensorType:
    t = ins[0]
    _need_map("shortcut_pad", t)
    sh, sw = a["stride"]
    return TensorType((a["out"], -(-t.dims[1] // sh), -(-t.dims[2] // sw)))


def _shortcut_pad_call(a: Attrs, xs: list[str], m, ins: Types, out: TensorType) -> str:
    sh, sw = a["stride"]
    extra = a["out"] - ins[0].channels
    before, after = extra // 2, extra - extra // 2
    sub = xs[0] if (sh, sw) == (1, 1) else f"{xs[0]}[:, :, ::{sh}, ::{sw}]"
    return f"F.pad({sub}, (0, 0, 0, 0, {before}, {after}))"


register(OpDef(
    name="shortcut_pad", family="reshape",
    doc="He et al.'s option A shortcut: subsample by the stride, zero-pad the new channels "
    "(half before, half after). No parameters.",
    attrs=(Attr("out", "int", REQUIRED, min=1), Attr("stride", "pair", 1, min=1)),
    infer=_shortcut_pad_infer, label=lambda a, o: "zero-pad shortcut",
    window=lambda a: Window((1, 1), a["stride"], (0, 0, 0, 0)),  # a strided 1x1 subsample
    cost_note="no parameters, no MACs (a strided copy with zero channels)",
    torch_module=lambda a, ins, out: None, torch_call=_shortcut_pad_call,
))


_POSITION_BIAS = '''
class PositionBias(nn.Module):
    """A learned bias for every position of a feature map (AlphaGo's policy head)."""

    def __init__(self, *shape: int):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(shape))

    def forward(self, x):
        return x + self.bias
'''

register(OpDef(
    name="posbias", family="norm", aliases=("position_bias", "positionbias"),
    doc="A learned bias per position (and channel) of a feature map, as AlphaGo's policy "
    "network adds after its last 1x1 convolution.",
    infer=lambda a, ins: (_need_map("posbias", ins[0]), ins[0])[1],
    params=lambda a, ins, out: Params(0, ins[0].numel),
    label=lambda a, o: "position bias",
    torch_module=lambda a, ins, out: f"PositionBias({', '.join(map(str, ins[0].dims))})",
    torch_helper=_POSITION_BIAS,
    cost_note="C*H*W bias parameters; no MACs",
))


# ---------------------------------------------------------------- upsampling and friends
def _deconv_infer(a: Attrs, ins: Types) -> TensorType:
    t = ins[0]
    _need_map("deconv", t)
    g = a["groups"]
    if t.channels % g or a["out"] % g:
        raise ShapeError("E0303", f"channels ({t.channels} in, {a['out']} out) are not "
                         f"divisible by groups={g}", label=f"input is {t}")
    size = []
    for axis in (0, 1):
        n, k, s = t.dims[1 + axis], a["kernel"][axis], a["stride"][axis]
        p, op_, d = a["pad"][axis], a["output_pad"][axis], a["dilation"][axis]
        if op_ >= max(s, d):
            raise ShapeError("E0305", f"output_pad {op_} must be smaller than the stride "
                             f"{s} (or the dilation)", help="PyTorch's rule for transposed "
                             "convolutions")
        size.append((n - 1) * s - 2 * p + d * (k - 1) + op_ + 1)
    if min(size) <= 0:
        raise ShapeError("E0302", f"output size would be {min(size)}", label=f"input is {t}")
    return TensorType((a["out"], size[0], size[1]))


def _deconv_module(a: Attrs, ins: Types, out: TensorType) -> str:
    args = [str(ins[0].channels), str(a["out"]), f"kernel_size={_pair(a['kernel'])}"]
    for name, key, default in (("stride", "stride", (1, 1)), ("padding", "pad", (0, 0)),
                               ("output_padding", "output_pad", (0, 0)),
                               ("dilation", "dilation", (1, 1))):
        if a[key] != default:
            args.append(f"{name}={_pair(a[key])}")
    if a["groups"] != 1:
        args.append(f"groups={a['groups']}")
    if not a["bias"]:
        args.append("bias=False")
    return f"nn.ConvTranspose2d({', '.join(args)})"


register(OpDef(
    name="deconv", family="conv", aliases=("convtranspose", "conv_transpose", "upconv",
                                            "transposed_conv", "conv2dtranspose"),
    doc="Transposed convolution (learned upsampling, U-Net's up-conv): output "
    "(W-1)*S - 2P + D*(F-1) + output_pad + 1. A bare `deconv(c)` is 2x2, stride 2.",
    attrs=(
        Attr("out", "int", lambda ctx: ctx["channels"], min=1, doc="number of filters"),
        Attr("kernel", "pair", 2, min=1), Attr("stride", "pair", 2, min=1),
        Attr("pad", "pair", 0, min=0), Attr("output_pad", "pair", 0, min=0),
        Attr("dilation", "pair", 1, min=1), Attr("groups", "int", 1, min=1),
        Attr("bias", "bool", True),
    ),
    infer=_deconv_infer,
    params=lambda a, ins, out: Params(ins[0].channels * (a["out"] // a["groups"])
                                      * a["kernel"][0] * a["kernel"][1],
                                      a["out"] if a["bias"] else 0),
    macs=lambda a, ins, out: (ins[0].numel * (a["out"] // a["groups"])
                              * a["kernel"][0] * a["kernel"][1]),
    macs_kind="conv",
    label=lambda a, o: f"{a['kernel'][0]}x{a['kernel'][1]} up-conv, {a['out']}"
    + (f", x{a['stride'][0]}" if a["stride"] != (1, 1) else ""),
    torch_module=_deconv_module,
    transposed=lambda a: Window(a["kernel"], a["stride"],
                                (a["pad"][0], a["pad"][0], a["pad"][1], a["pad"][1]),
                                a["dilation"]),
    cost_note="MACs = input elements x out/groups x kh x kw (each input pixel scatters "
    "through the kernel); params = C_in x out/groups x kh x kw + out",
))


def _upsample_infer(a: Attrs, ins: Types) -> TensorType:
    t = ins[0]
    _need_map("upsample", t)
    s = a["scale"]
    return TensorType((t.channels, t.dims[1] * s, t.dims[2] * s))


register(OpDef(
    name="upsample", family="resize", aliases=("upsampling", "interpolate", "unpool", "upsampling2d"),
    doc="Upsampling by an integer factor, nearest or bilinear (no parameters).",
    attrs=(Attr("scale", "int", 2, min=1, doc="the factor on height and width"),
           Attr("mode", "str", "nearest", choices=("nearest", "bilinear"))),
    infer=_upsample_infer, label=lambda a, o: f"upsample x{a['scale']}",
    # fvcore's count: 1 per output element (nearest), 4 (bilinear: four taps)
    macs=lambda a, ins, out: out.numel * (1 if a["mode"] == "nearest" else 4),
    macs_kind="resize",
    # nearest: each input pixel scattered over f x f; bilinear: over 2f x 2f, centred
    transposed=lambda a: (Window((a["scale"],) * 2, (a["scale"],) * 2, (0, 0, 0, 0))
                          if a["mode"] == "nearest" else
                          Window((2 * a["scale"],) * 2, (a["scale"],) * 2,
                                 (a["scale"] / 2,) * 4)),
    torch_module=lambda a, ins, out: (
        f"nn.Upsample(scale_factor={a['scale']}, mode={a['mode']!r}"
        + (", align_corners=False)" if a["mode"] == "bilinear" else ")")),
    cost_note="no parameters; MACs apart as `resize`, fvcore's count: 1 per output element "
    "(nearest) or 4 (bilinear)",
))


def _grouped_channels(op: str):
    """The shape rule of a same-shape op over channel groups (group norm, shuffle)."""
    def infer(a: Attrs, ins: Types) -> TensorType:
        t = ins[0]
        _need_map(op, t)
        if t.channels % a["groups"]:
            raise ShapeError("E0303", f"{t.channels} channels are not divisible by "
                             f"groups={a['groups']}", label=f"input is {t}")
        return t
    return infer


register(OpDef(
    name="groupnorm", family="norm", aliases=("gn", "group_norm"),
    doc="Group normalization (Wu & He 2018); groups=1 is layer norm over C, H, W and "
    "groups=C instance norm (with affine parameters).",
    attrs=(Attr("groups", "int", 32, min=1), Attr("eps", "float", 1e-5, min=0)),
    infer=_grouped_channels("groupnorm"),
    params=lambda a, ins, out: Params(ins[0].channels, ins[0].channels),
    macs=lambda a, ins, out: 5 * out.numel, macs_kind="norm",
    label=lambda a, o: f"group norm /{a['groups']}",
    torch_module=lambda a, ins, out: (f"nn.GroupNorm({a['groups']}, {ins[0].channels}"
                                      + (f", eps={a['eps']!r})" if a["eps"] != 1e-5 else ")")),
    cost_note="C gamma + C beta, no buffers; 5 per element (`norm`, fvcore's count: "
    "mean, variance, normalize, scale, shift)",
))

register(OpDef(
    name="prelu", family="act", doc="PReLU with one learned slope per channel (He et al. 2015).",
    infer=_same, label=lambda a, o: "prelu",
    params=lambda a, ins, out: Params(ins[0].channels, 0),
    torch_module=lambda a, ins, out: f"nn.PReLU({ins[0].channels})",
    macs_kind="elementwise", cost_note="C slopes; no MACs",
))


register(OpDef(
    name="shuffle", family="reshape", aliases=("channel_shuffle", "channelshuffle"),
    doc="ShuffleNet's channel shuffle: interleave the channels of `groups` groups.",
    attrs=(Attr("groups", "int", 2, min=1),),
    infer=_grouped_channels("shuffle"), label=lambda a, o: f"channel shuffle /{a['groups']}",
    torch_module=lambda a, ins, out: f"nn.ChannelShuffle({a['groups']})",
    cost_note="no parameters, no MACs (a permutation)",
))


def _zeropad_infer(a: Attrs, ins: Types) -> TensorType:
    t = ins[0]
    _need_map("zeropad", t)
    top, bottom, left, right = a["pad"]
    return TensorType((t.channels, t.dims[1] + top + bottom, t.dims[2] + left + right))


def _zeropad_resolve(a: Attrs, ins: Types) -> Attrs:
    p = a["pad"]
    if isinstance(p, int):
        p = (p, p, p, p)
    elif len(p) == 2:
        p = (p[0], p[0], p[1], p[1])
    return {**a, "pad": p}


register(OpDef(
    name="zeropad", family="resize", aliases=("zero_pad", "pad2d", "zeropadding2d"),
    doc="Zero padding around the map: P, PhxPw, or top x bottom x left x right.",
    attrs=(Attr("pad", "pad", 1, min=0),),
    resolve=_zeropad_resolve, infer=_zeropad_infer, label=lambda a, o: "zero pad",
    window=lambda a: Window((1, 1), (1, 1), a["pad"]),
    torch_module=lambda a, ins, out: (f"nn.ZeroPad2d(({a['pad'][2]}, {a['pad'][3]}, "
                                      f"{a['pad'][0]}, {a['pad'][1]}))"),
    cost_note="no parameters, no MACs (a copy)",
))
