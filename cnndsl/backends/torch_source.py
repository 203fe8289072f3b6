"""IR to a standalone, readable PyTorch source file.

The file imports torch only (and ``typing.Any``, below; and the module classes of plugin
operators, :attr:`cnndsl.ops.OpDef.torch_imports`). One ``nn.Module`` class per distinct block instantiation
(identical instantiations share a class), attribute names from the source's scopes, a
straight-line forward with one statement per node and a shape comment on each line.
Building a module executes this very text (:func:`build`), after checking it against
an allow-list (:mod:`cnndsl.backends.codecheck`), so what the user reads is what runs.

In-place operations are written where the IR proves them invisible
(:mod:`cnndsl.backends.inplace`): ``nn.ReLU(inplace=True)`` and ``x += identity``, as
torchvision writes them. A network with auxiliary heads returns ``(main, aux1, ...)``
while training and the main output otherwise; its forward is annotated ``-> Any``, the
one return type TorchScript accepts for both (torchvision's GoogLeNet instead returns
the tuple whenever it is scripted).

NOTE: what reaches the text. Names are made by :mod:`cnndsl.backends.pynames` (ASCII
identifiers, unique in their scope, never a keyword, builtin or module the file uses);
any other text from the program (block calls, file names) is escaped into a comment or
docstring there; attribute values are checked to be plain finite numbers, booleans and
the operators' own words before an operator formats them.
"""

from __future__ import annotations

import functools
import linecache
import math
import re
from dataclasses import dataclass, field

from .. import ops
from ..ir.graph import Frame, Graph, Node
from . import codecheck
from .inplace import AUGMENTED, Overwrites
from .pynames import MODULE_ATTRIBUTES, RESERVED, Namespace, camel, comment, docstring
from .torch_classes import ClassMaker, Instance


@dataclass
class _Group:
    """The nodes of one named block call, emitted as a submodule."""

    frames: tuple[Frame, ...]  # the named frames down to and including this call's
    items: list = field(default_factory=list)  # Node or _Group

    @property
    def frame(self) -> Frame:
        return self.frames[-1]

    @functools.cached_property
    def nodes(self) -> list[Node]:  # asked for only once the tree is complete
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
            g = _Group(frames[: depth + 1])
            stack[-1][1].append(g)
            stack.append((frames[: depth + 1], g.items))
        stack[-1][1].append(node)
    return root


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


class UnsafeValue(Exception):
    """An attribute value that is not a plain finite number, boolean or short word: a
    graph that did not come from the elaborator (hand-made IR JSON)."""


_WORD = re.compile(r"[a-z_]{1,32}\Z")


def _plain(value, where: str):
    if value is None or type(value) is bool or (type(value) is int and -2**63 < value < 2**63):
        return value
    if isinstance(value, int):
        if abs(value) >= 2**63:
            raise UnsafeValue(f"{where}: {value} does not fit in 64 bits")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise UnsafeValue(f"{where}: {value} is not finite")
        return value
    if isinstance(value, tuple):
        return tuple(_plain(v, where) for v in value)
    if isinstance(value, str) and _WORD.match(value):
        return value
    raise UnsafeValue(f"{where}: {type(value).__name__} {value!r:.40} is not a plain value")


class _Emitter:
    """Two steps: every scope becomes an :class:`Instance` (its modules and forward);
    then instances of one block with the same structure share a class
    (:class:`~cnndsl.backends.torch_classes.ClassMaker`)."""

    def __init__(self, graph: Graph, inplace: bool = True):
        self.graph = graph
        self.helpers: list[str] = []  # helper classes the operators need
        self.imports: list[tuple[str, str]] = []  # plugin module classes (OpDef.torch_imports)
        self.modules: dict[str, str] = {}  # node name -> module path in the built model
        self.uses = graph.consumers()
        self.uses[graph.output].append("<output>")  # results are read from outside every
        for a in graph.aux:                         # block
            self.uses[a].append("<aux>")
        self.overwrites = Overwrites(graph, self.uses) if inplace else None

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

    def instance(self, items: list, frame: Frame | None, level: int, prefix: str) -> Instance:
        """The scope's modules and forward. ``level`` counts the named frames down to this
        scope; ``prefix`` is its module path in the built model.

        Nodes of an inlined inner block (one whose values are read from outside, as an
        auxiliary head's) are named by their path below this scope (``b1_conv1``).
        """
        top = frame is None
        items = self._flatten_if_leaky(items)
        first_in = self.graph.input.name if top else _item_inputs(items[0])[0]
        inst = Instance(frame, self.graph[first_in].type.dims[0])
        attrs = Namespace(RESERVED | frozenset(MODULE_ATTRIBUTES))
        local = Namespace(RESERVED)
        local_uses: dict[str, list[int]] = {}
        for idx, it in enumerate(items):
            for i in _item_inputs(it):
                local_uses.setdefault(i, []).append(idx)
        last = len(items) - 1
        result = self.graph.output if top else _item_out(items[-1])
        var: dict[str, str] = {}

        def var_name(value: str, idx: int, preferred: str) -> str:
            """``x`` for a value the next statement alone reads (or the last one's
            result); a value read later, or returned after other statements (an
            inlined auxiliary head), keeps a name of its own."""
            users = local_uses.get(value, [])
            if top and value in self.graph.aux:
                return local.claim(preferred)
            if (idx == last and value == result) or (
                    len(users) == 1 and users[0] == idx + 1 and value != result):
                return "x"
            return local.claim(preferred)

        in_users = local_uses.get(first_in, [])
        if len(in_users) == 1 and in_users[0] == 0:
            var[first_in] = "x"
        else:
            var[first_in] = "identity"
            inst.fwd.append(("identity = x", "", ""))
        for idx, it in enumerate(items):
            ins = [var[i] for i in _item_inputs(it)]
            out = _item_out(it)
            # heads only run while training
            head = top and out in self.graph.aux and not any(
                u not in ("<aux>", "<output>") for u in self.uses[out])
            if isinstance(it, _Group):
                attr = attrs.claim("_".join(f.name for f in it.frames[level:]))
                target = var_name(out, idx, attr)
                child = self.instance(it.items, it.frame, len(it.frames), prefix + attr + ".")
                inst.children.append(child)
                inst.init.append((attr, "", child))
                out_node = it.nodes[-1]
                code = f"{target} = self.{attr}({ins[0]})"
            else:
                out_node = it
                attr = attrs.claim("_".join(it.path.split(".")[level:]))
                target = var_name(out, idx, attr)
                into = None if head or self.overwrites is None else \
                    self.overwrites.merge_target(it, ins, target)
                if into is not None:  # torchvision's `out += identity`
                    code = f"{target} {AUGMENTED[it.op]} {ins[1 - into]}"
                else:
                    code = f"{target} = {self._node(it, attr, ins, inst, prefix)}"
            if head:
                code += " if self.training else None"
            var[out] = target
            where = (it.frame if isinstance(it, _Group) else it).span
            inst.fwd.append((code, str(out_node.type), _where(where)))
        if top and self.graph.aux:
            heads = ", ".join(var[a] for a in self.graph.aux)
            inst.returns = "Any"  # one type for TorchScript: a tensor, or a tuple in training
            inst.fwd += [("if self.training:  # the auxiliary heads, for the training loss",
                          "", ""), (f"    return {var[result]}, {heads}", "", "")]
        inst.fwd.append((f"return {var[result]}", "", ""))
        return inst

    def _node(self, node: Node, attr: str, ins: list[str], inst: Instance, prefix: str) -> str:
        """One node's module (added to ``inst``) and its forward expression."""
        op = ops.get(node.op)
        in_types = [self.graph[i].type for i in node.inputs]
        values = {k: _plain(v, f"{node.name}.{k}") for k, v in node.attrs}
        if self.overwrites is not None and self.overwrites.activation(node):
            values["inplace"] = True  # an emission option, not an attribute of the IR
        module = op.torch_module(values, in_types, node.type) if op.torch_module else None
        if op.torch_helper and op.torch_helper not in self.helpers:
            self.helpers.append(op.torch_helper)
        self.imports += [imp for imp in op.torch_imports if imp not in self.imports]
        ref = None
        if module is not None:
            inst.init.append((attr, module, None))
            ref = f"self.{attr}"
            self.modules[node.name] = prefix + attr
        if op.torch_call is not None:
            return op.torch_call(values, ins, ref, in_types, node.type)
        if ref is None:
            raise NotImplementedError(f"operator {node.op} has no PyTorch emission")
        return f"{ref}({ins[0]})"


def _where(span) -> str:
    return comment(f"{span.source.name}:{span.line}:{span.col}") if span else ""


@dataclass(frozen=True)
class Emitted:
    """Generated source and, for every node that has a module, its path in the model."""

    source: str
    modules: dict[str, str]


def emit(graph: Graph, source_name: str = "<cnndsl>", params: int | None = None,
         inplace: bool = True) -> Emitted:
    """The PyTorch source of ``graph`` (see the module docstring) and its module map.

    ``inplace=False`` writes no in-place operation (:mod:`cnndsl.backends.inplace`):
    the reference the in-place emission must equal bit for bit.
    """
    em = _Emitter(graph, inplace)
    root = em.instance(_tree(graph), None, 0, "")
    helper_names = [m.group(1) for h in em.helpers
                    for m in re.finditer(r"^class (\w+)", h, re.M)]
    imported = sorted(em.imports)  # never a class name of ours (a block `coord_conv`)
    maker = ClassMaker(Namespace(RESERVED | frozenset(helper_names)
                                 | frozenset(name for _, name in imported)),
                       graph_name=camel(graph.name), graph_doc=docstring(
                           f"{graph.name}: {graph.input_type} -> {graph.output_type}"))
    main = maker.build(root)
    header = [
        f'"""{docstring(graph.name)}, generated by cnndsl from {docstring(source_name)}.',
        "",
        f"Input {graph.input_type} (batch first), output {graph.output_type}"
        + (" class scores (logits; apply softmax to get probabilities)."
           if graph.num_classes else "."),
    ]
    if params is not None:
        header.append(f"Parameters: {params:,}.")
    header += ['"""', ""]
    if graph.aux:  # the forward's return annotation
        header += ["from typing import Any", ""]
    header += ["import torch", "from torch import nn",
               "from torch.nn import functional as F  # noqa: F401", ""]
    if imported:  # plugin operators' modules: the file runs where the plugin is installed
        header += [f"from {module} import {name}" for module, name in imported] + [""]
    parts = ["\n".join(header)]
    parts.extend(h.strip("\n") + "\n" for h in em.helpers)
    parts.extend(maker.classes)
    shape = tuple(int(d) for d in graph.input_type.dims)
    classes = graph.num_classes if isinstance(graph.num_classes, int) else None
    footer = [
        f"INPUT_SHAPE = {shape!r}",
        f"NUM_CLASSES = {classes!r}",
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
        f'    print("{main}", tuple(y.shape),',
        '          sum(p.numel() for p in model.parameters()), "parameters")',
        "",
    ]
    parts.append("\n".join(footer))
    text = "\n\n".join(p.rstrip("\n") + "\n" for p in parts[:-1]) + "\n" + parts[-1]
    return Emitted(text, em.modules)


def to_source(graph: Graph, source_name: str = "<cnndsl>", params: int | None = None,
              inplace: bool = True) -> str:
    """The PyTorch source of ``graph`` (see the module docstring)."""
    return emit(graph, source_name, params, inplace).source


_counter = [0]


@functools.lru_cache(maxsize=32)
def _program(source: str) -> dict:
    """The namespace of ``source`` executed, once per distinct text: checking and
    compiling a large network's text costs about as much as building its modules, and
    the classes it defines are the same every time."""
    codecheck.check(source)
    _counter[0] += 1
    filename = f"<cnndsl:{_counter[0]}>"
    # Register the text so tracebacks through the generated forward show its lines.
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace: dict = {"__name__": f"cnndsl_generated_{_counter[0]}"}
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102 - checked above
    return namespace


def build(source: str, name: str = "model"):
    """Check generated source against the allow-list, execute it and return a fresh
    module (imports torch). Source that fails the check is never run."""
    return _program(source)["build"]()
