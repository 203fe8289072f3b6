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


class _Emitter:
    def __init__(self, graph: Graph, source_name: str):
        self.graph = graph
        self.source_name = source_name
        self.classes: list[str] = []
        self.by_body: dict[str, str] = {}
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

    def scope_class(self, items: list, class_base: str, doc: str, top: bool,
                    depth: int = 0) -> str:
        """The class for one scope; ``depth`` is its number of enclosing named frames.

        Nodes of an inlined inner block (one whose values are read from outside, as an
        auxiliary head's) get their path below this scope as attribute name (b1_conv1).
        """
        items = self._flatten_if_leaky(items)
        init: list[str] = []
        fwd: list[str] = []
        first_in = self.graph.input.name if top else _item_inputs(items[0])[0]
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
            fwd.append("identity = x")
        for idx, it in enumerate(items):
            ins = [var[i] for i in _item_inputs(it)]
            if isinstance(it, _Group):
                attr = it.frame.name
                cls = self.scope_class(it.items, it.frame.block, it.frame.call, False,
                                       depth + 1)
                init.append(f"self.{attr} = {cls}()  # {it.frame.call}")
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
                if module is not None:
                    attr = "_".join(node.path.split(".")[depth:])
                    init.append(f"self.{attr} = {module}")
                    ref = f"self.{attr}"
                if op.torch_call is not None:
                    expr = op.torch_call(attrs, ins, ref, in_types, node.type)
                elif ref is not None:
                    expr = f"{ref}({ins[0]})"
                else:
                    raise NotImplementedError(f"operator {node.op} has no PyTorch emission")
                out_node = node
                where = self._where(node.span)
                preferred = "_".join(node.path.split(".")[depth:])
            target = var_name(_item_out(it), idx, preferred)
            var[_item_out(it)] = target
            comment = f"  # {out_node.type}" + (f"  {where}" if where else "")
            if top and _item_out(it) in self.graph.aux:  # heads only run while training
                expr = f"{expr} if self.training else None"
            fwd.append(f"{target} = {expr}{comment}")
        if top and self.graph.aux:
            heads = ", ".join(var[a] for a in self.graph.aux)
            fwd += ["if self.training:  # the auxiliary heads, for the training loss",
                    f"    return {var[result]}, {heads}"]
        fwd.append(f"return {var[result]}")

        body_lines = ["    def __init__(self):", "        super().__init__()"]
        body_lines += [f"        {ln}" for ln in init] or []
        body_lines += ["", "    def forward(self, x):"] + [f"        {ln}" for ln in fwd]
        body = "\n".join(body_lines)
        if not top and body in self.by_body:
            return self.by_body[body]
        name = self._class_name(class_base if not top else self.graph.name)
        self.by_body[body] = name
        doc_line = f'    """{doc}"""'
        self.classes.append(f"class {name}(nn.Module):\n{doc_line}\n\n{body}\n")
        return name

    def _where(self, span) -> str:
        return f"{span.source.name}:{span.line}:{span.col}" if span else ""


def to_source(graph: Graph, source_name: str = "<cnndsl>", params: int | None = None) -> str:
    """The PyTorch source of ``graph`` (see the module docstring)."""
    em = _Emitter(graph, source_name)
    items = _tree(graph)
    shape = tuple(graph.input_type.dims)
    doc = f"{graph.name}: {graph.input_type} -> {graph.output_type}"
    main = em.scope_class(items, graph.name, doc, True)
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
