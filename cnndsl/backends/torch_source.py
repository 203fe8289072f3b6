"""IR to a standalone, readable PyTorch source file.

The file imports torch only. One ``nn.Module`` class per distinct block instantiation
(identical instantiations share a class), attribute names from the source's scopes, a
straight-line forward with one statement per node and a shape comment on each line.
Building a module executes this very text (:func:`build`), so what the user reads is
what runs.
"""

from __future__ import annotations

import linecache
import re
from dataclasses import dataclass, field

from .. import ops
from ..ir.graph import Frame, Graph, Node


@dataclass
class _Group:
    """The nodes of one named block call, emitted as a submodule."""

    frame: Frame
    items: list = field(default_factory=list)  # Node or _Group

    @property
    def nodes(self) -> list[Node]:
        out = []
        for it in self.items:
            out.extend(it.nodes if isinstance(it, _Group) else [it])
        return out


def _tree(graph: Graph) -> list:
    """Nest the nodes by their named frames, keeping topological order."""
    root: list = []
    stack: list[tuple[tuple[Frame, ...], list]] = [((), root)]
    for node in graph.nodes[1:]:
        frames = tuple(f for f in node.scope if f.named)
        while stack[-1][0] != frames[: len(stack[-1][0])]:
            stack.pop()
        while len(stack[-1][0]) < len(frames):
            depth = len(stack[-1][0])
            g = _Group(frames[depth])
            stack[-1][1].append(g)
            stack.append((frames[: depth + 1], g.items))
        stack[-1][1].append(node)
    return root


def _camel(name: str) -> str:
    parts = re.split(r"[^0-9a-zA-Z]+", name)
    out = "".join(p[:1].upper() + p[1:] for p in parts if p)
    if not out or out[0].isdigit():
        out = "Net" + out
    return out


def _item_out(item) -> str:
    return item.nodes[-1].name if isinstance(item, _Group) else item.name


def _item_inputs(item) -> list[str]:
    if isinstance(item, _Group):
        inside = {n.name for n in item.nodes}
        ext: list[str] = []
        for n in item.nodes:
            for i in n.inputs:
                if i not in inside and i not in ext:
                    ext.append(i)
        return ext
    return list(item.inputs)


_NUMBER = re.compile(r"(?<![\w.])(\d+\.\d+(?:e[-+]?\d+)?|\d+e[-+]?\d+|\d+)(?![\w.])")
_MULTIPLES = (2, 3, 4, 6, 8)


def _number(text: str) -> int | float:
    return float(text) if any(c in text for c in ".e") else int(text)


@dataclass
class _Instance:
    """One scope (a block call, or the network) on its way to a class.

    ``init`` holds ``(attr, rhs, child)``: a module constructor text, or the child
    instance whose class builds the submodule. ``fwd`` holds ``(code, shape, where)``.
    """

    frame: Frame | None
    in_channels: int | None
    init: list = field(default_factory=list)
    fwd: list = field(default_factory=list)
    children: list = field(default_factory=list)
    cls: str = ""
    params: tuple[str, ...] = ()  # the class's constructor parameters
    call_values: dict = field(default_factory=dict)  # this instance's value of each
    shared: bool = False  # its class serves several instances

    @property
    def height(self) -> int:
        return 1 + max((c.height for c in self.children), default=-1)


class _Emitter:
    """Two steps: every scope becomes an :class:`_Instance`; then instances of one block
    with the same structure share a class whose constructor takes what differs between
    them (named after the block's parameters where the values match)."""

    def __init__(self, graph: Graph, source_name: str):
        self.graph = graph
        self.source_name = source_name
        self.classes: list[str] = []
        self.used_names: set[str] = set()
        self.helpers: list[str] = []  # helper classes the operators need
        self.uses = graph.consumers()
        for a in graph.aux:  # auxiliary heads are read from outside every block
            self.uses[a].append("<aux>")

    def _class_name(self, base: str) -> str:
        name, k = _camel(base), 2
        while name in self.used_names:
            name = f"{_camel(base)}{k}"
            k += 1
        self.used_names.add(name)
        return name

    def _flatten_if_leaky(self, items: list) -> list:
        """A group whose inner values are used outside is inlined (never for our blocks)."""
        out = []
        for it in items:
            if isinstance(it, _Group):
                inside = {n.name for n in it.nodes}
                last = it.nodes[-1].name
                leaky = any(u not in inside for n in it.nodes if n.name != last
                            for u in self.uses[n.name])
                results = (self.graph.output, *self.graph.aux)
                if last not in results and not any(u not in inside for u in self.uses[last]):
                    leaky = True  # its value leaves the block from another node
                if leaky or len(_item_inputs(it)) != 1:
                    out.extend(self._flatten_if_leaky(it.items))
                    continue
            out.append(it)
        return out

    # ------------------------------------------------------------ step 1: instances
    def instance(self, items: list, frame: Frame | None, depth: int = 0) -> _Instance:
        """The scope's modules and forward; ``depth`` counts its enclosing named frames.

        Nodes of an inlined inner block (one whose values are read from outside, as an
        auxiliary head's) get their path below this scope as attribute name (b1_conv1).
        """
        top = frame is None
        items = self._flatten_if_leaky(items)
        first_in = self.graph.input.name if top else _item_inputs(items[0])[0]
        in_type = self.graph[first_in].type
        inst = _Instance(frame, in_type.dims[0])
        local_uses: dict[str, list[int]] = {}
        for idx, it in enumerate(items):
            for i in _item_inputs(it):
                local_uses.setdefault(i, []).append(idx)
        last = len(items) - 1
        result = self.graph.output if top else _item_out(items[-1])
        var: dict[str, str] = {}

        def var_name(value: str, idx: int, preferred: str) -> str:
            if top and value in self.graph.aux:
                return preferred
            users = local_uses.get(value, [])
            if (idx == last and value == result) or (len(users) == 1 and users[0] == idx + 1):
                return "x"
            return preferred

        in_users = local_uses.get(first_in, [])
        if len(in_users) == 1 and in_users[0] == 0:
            var[first_in] = "x"
        else:
            var[first_in] = "identity"
            inst.fwd.append(("identity = x", "", ""))
        for idx, it in enumerate(items):
            ins = [var[i] for i in _item_inputs(it)]
            if isinstance(it, _Group):
                attr = it.frame.name
                child = self.instance(it.items, it.frame, depth + 1)
                inst.children.append(child)
                inst.init.append((attr, "", child))
                out_node = it.nodes[-1]
                expr = f"self.{attr}({ins[0]})"
                where = self._where(it.frame.span)
                preferred = attr
            else:
                node = it
                op = ops.get(node.op)
                in_types = [self.graph[i].type for i in node.inputs]
                attrs = node.a
                module = op.torch_module(attrs, in_types, node.type) if op.torch_module else None
                ref = None
                if op.torch_helper and op.torch_helper not in self.helpers:
                    self.helpers.append(op.torch_helper)
                attr = "_".join(node.path.split(".")[depth:])
                if module is not None:
                    inst.init.append((attr, module, None))
                    ref = f"self.{attr}"
                if op.torch_call is not None:
                    expr = op.torch_call(attrs, ins, ref, in_types, node.type)
                elif ref is not None:
                    expr = f"{ref}({ins[0]})"
                else:
                    raise NotImplementedError(f"operator {node.op} has no PyTorch emission")
                out_node = node
                where = self._where(node.span)
                preferred = attr
            target = var_name(_item_out(it), idx, preferred)
            var[_item_out(it)] = target
            if top and _item_out(it) in self.graph.aux:  # heads only run while training
                expr = f"{expr} if self.training else None"
            inst.fwd.append((f"{target} = {expr}", str(out_node.type), where))
        if top and self.graph.aux:
            heads = ", ".join(var[a] for a in self.graph.aux)
            inst.fwd += [("if self.training:  # the auxiliary heads, for the training loss",
                          "", ""), (f"    return {var[result]}, {heads}", "", "")]
        inst.fwd.append((f"return {var[result]}", "", ""))
        return inst

    # ------------------------------------------------------------ step 2: classes
    @staticmethod
    def _template(inst: _Instance) -> tuple[tuple, list, list]:
        """The instance's structure with its numbers taken out, the numbers, and where
        each number stands (attribute, keyword or position) to name it if it varies."""
        lines, values, roles = [], [], []
        for attr, rhs, child in inst.init:
            if child is not None:
                rhs = f"{child.cls}(" + ", ".join(
                    f"{p}={_fmt_num(child.call_values[p])}" for p in child.params) + ")"
            pieces, pos = [], 0
            for k, m in enumerate(_NUMBER.finditer(rhs)):
                pieces.append(rhs[pos:m.start()])
                before = rhs[:m.start()]
                kw = re.search(r"(\w+)=\(?[\d, ]*$", before)
                role = kw.group(1) if kw else ("in" if k == 0 else "out" if k == 1 else f"arg{k}")
                values.append(_number(m.group(1)))
                roles.append(f"{attr}_{role}")
                pos = m.end()
            pieces.append(rhs[pos:])
            lines.append((attr, tuple(pieces)))
        key = (inst.frame.block if inst.frame else None, tuple(lines),
               tuple(code for code, _, _ in inst.fwd))
        return key, values, roles

    @staticmethod
    def _candidates(inst: _Instance) -> dict[str, int | float]:
        """Names a number can be written with: the block's arguments, then its input width."""
        out = dict(inst.frame.args) if inst.frame else {}
        if inst.in_channels is not None:
            out.setdefault("in_channels", inst.in_channels)
        return out

    def _name_slot(self, column: list, insts: list[_Instance], role: str) -> str:
        """An expression of the block's parameters equal to the slot in every instance:
        an argument, a small multiple or fraction of one, then the input width."""
        cands = [self._candidates(i) for i in insts]
        names = [n for n in cands[0] if all(n in c for c in cands)]
        for group in ([n for n in names if n != "in_channels"], ["in_channels"]):
            group = [n for n in group if n in names]
            for n in group:
                if all(c[n] == v for c, v in zip(cands, column)):
                    return n
            for m in _MULTIPLES:
                for n in group:
                    if all(c[n] * m == v for c, v in zip(cands, column)):
                        return f"{m} * {n}"
                    if all(isinstance(c[n], int) and c[n] % m == 0 and c[n] // m == v
                           for c, v in zip(cands, column)):
                        return f"{n} // {m}"
        return role

    def assign(self, insts: list[_Instance]) -> None:
        """Give one class to every group of same-structure instances, children first."""
        by_key: dict[tuple, list[tuple[_Instance, list, list]]] = {}
        for inst in insts:
            key, values, roles = self._template(inst)
            by_key.setdefault(key, []).append((inst, values, roles))
        for group in by_key.values():
            members = [g[0] for g in group]
            n_slots = len(group[0][1])
            exprs: list[str | None] = []
            params: list[str] = []
            fresh: dict[str, list] = {}  # names made up for slots no argument explains
            for k in range(n_slots):
                column = [g[1][k] for g in group]
                if len(set(column)) == 1:
                    exprs.append(None)
                    continue
                role = group[0][2][k]
                if role in fresh and fresh[role] != column:
                    role = f"{role}_{k}"
                    for g in group:
                        g[2][k] = role
                e = self._name_slot(column, members, role)
                if e == role:
                    fresh[role] = column
                exprs.append(e)
                for name in re.findall(r"[A-Za-z_]\w*", e):
                    if name not in params:
                        params.append(name)
            first = members[0]
            cls = self._class_name(first.frame.block if first.frame else self.graph.name)
            cands = self._candidates(first)
            order = (["in_channels"] + [p for p in cands if p != "in_channels"]
                     + [p for p in params if p not in cands])
            params = [p for p in order if p in params]
            for inst, values, roles in group:
                inst.cls, inst.params, inst.shared = cls, tuple(params), len(group) > 1
                cands = self._candidates(inst)
                inst.call_values = {p: cands.get(p, values[roles.index(p)]
                                                 if p in roles else None) for p in params}
            self.classes.append(self._class_text(group[0], exprs, len(group)))

    def _class_text(self, entry, exprs: list, count: int) -> str:
        inst, values, _ = entry
        shared = count > 1
        init, k = [], 0
        for attr, rhs, child in inst.init:
            if child is not None:
                rhs = f"{child.cls}(" + ", ".join(
                    f"{p}={_fmt_num(child.call_values[p])}" for p in child.params) + ")"
            out, pos = [], 0
            for m in _NUMBER.finditer(rhs):
                out.append(rhs[pos:m.start()])
                out.append(m.group(1) if exprs[k] is None else exprs[k])
                pos = m.end()
                k += 1
            out.append(rhs[pos:])
            note = f"  # {child.frame.call}" if child is not None and not shared else ""
            init.append(f"self.{attr} = {''.join(out)}{note}")
        fwd = []
        for code, shape, where in inst.fwd:
            comment = "  ".join(x for x in ((shape if not shared else ""), where) if x)
            fwd.append(code + (f"  # {comment}" if comment else ""))
        sig = "".join(f", {p}" for p in inst.params)
        lines = [f"    def __init__(self{sig}):", "        super().__init__()"]
        lines += [f"        {ln}" for ln in init]
        lines += ["", "    def forward(self, x):"] + [f"        {ln}" for ln in fwd]
        if inst.frame is None:
            doc = f"{self.graph.name}: {self.graph.input_type} -> {self.graph.output_type}"
        elif shared:
            doc = f"The `{inst.frame.block}` block ({count} calls, e.g. {inst.frame.call})."
        else:
            doc = inst.frame.call
        return f'class {inst.cls}(nn.Module):\n    """{doc}"""\n\n' + "\n".join(lines) + "\n"

    def build_classes(self, items: list) -> str:
        root = self.instance(items, None)
        levels: dict[int, list[_Instance]] = {}

        def walk(inst: _Instance) -> None:
            levels.setdefault(inst.height, []).append(inst)
            for c in inst.children:
                walk(c)
        walk(root)
        for h in sorted(levels):
            self.assign(levels[h])
        return root.cls

    def _where(self, span) -> str:
        return f"{span.source.name}:{span.line}:{span.col}" if span else ""


def _fmt_num(v) -> str:
    return repr(v) if isinstance(v, float) else str(v)


def to_source(graph: Graph, source_name: str = "<cnndsl>", params: int | None = None) -> str:
    """The PyTorch source of ``graph`` (see the module docstring)."""
    em = _Emitter(graph, source_name)
    items = _tree(graph)
    shape = tuple(graph.input_type.dims)
    main = em.build_classes(items)
    header = [
        f'"""{graph.name}, generated by cnndsl from {source_name}.',
        "",
        f"Input {graph.input_type} (batch first), output {graph.output_type}"
        + (" class scores (logits; apply softmax to get probabilities)."
           if graph.num_classes else "."),
    ]
    if params is not None:
        header.append(f"Parameters: {params:,}.")
    header += ['"""', "", "import torch", "from torch import nn",
               "from torch.nn import functional as F  # noqa: F401", ""]
    parts = ["\n".join(header)]
    parts.extend(h.strip("\n") + "\n" for h in em.helpers)
    parts.extend(em.classes)
    footer = [
        f"INPUT_SHAPE = {shape!r}",
        f"NUM_CLASSES = {graph.num_classes!r}",
        "",
        "",
        "def build() -> nn.Module:",
        f'    """A fresh {main} with PyTorch\'s default initialization."""',
        f"    return {main}()",
        "",
        "",
        'if __name__ == "__main__":',
        "    model = build().eval()",
        "    with torch.no_grad():",
        "        y = model(torch.zeros((1,) + INPUT_SHAPE))",
        '    print(type(model).__name__, tuple(y.shape),',
        '          sum(p.numel() for p in model.parameters()), "parameters")',
        "",
    ]
    parts.append("\n".join(footer))
    return "\n\n".join(p.rstrip("\n") + "\n" for p in parts[:-1]) + "\n" + parts[-1]


_counter = [0]


def build(source: str, name: str = "model"):
    """Execute generated source and return a fresh module (imports torch)."""
    _counter[0] += 1
    filename = f"<cnndsl:{name}:{_counter[0]}>"
    # Register the text so tracebacks through the generated forward show its lines.
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace: dict = {"__name__": f"cnndsl_generated_{_counter[0]}"}
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102 - our own generated code
    return namespace["build"]()
