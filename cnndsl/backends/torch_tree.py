"""The module tree of the emitted PyTorch source: nodes nested by their block calls, and
each scope (a block call, or the network) as an :class:`Instance`, its submodules'
constructors (:class:`~cnndsl.ops.ctor.Ctor` values) and its forward statements.

A named block call becomes a submodule, unless its inner values are read from outside
(an auxiliary head's): it is then inlined. In-place operations are written where
:mod:`cnndsl.backends.inplace` proves them invisible. Attribute values are checked to
be plain finite numbers, booleans and the operators' own words before an operator sees
them (:func:`plain`).
"""

from __future__ import annotations

import functools
import math
import warnings
from dataclasses import dataclass, field

from .. import ops
from ..ir.graph import Frame, Graph, Node
from ..ir.scopes import Scope, scope_tree
from ..ops.ctor import Ctor
from .inplace import AUGMENTED, Overwrites
from .pynames import MODULE_ATTRIBUTES, RESERVED, Namespace, comment, identifier


@dataclass
class Group:
    """The nodes of one named block call, emitted as a submodule."""

    frames: tuple[Frame, ...]  # the named frames down to and including this call's
    items: list = field(default_factory=list)  # Node or Group

    @property
    def frame(self) -> Frame:
        return self.frames[-1]

    @functools.cached_property
    def nodes(self) -> list[Node]:  # asked for only once the tree is complete
        out = []
        for it in self.items:
            out.extend(it.nodes if isinstance(it, Group) else [it])
        return out


def tree(graph: Graph) -> list:
    """The nodes nested by their block calls, the input left out: the parts of the one
    scope tree (:mod:`cnndsl.ir.scopes`), each level call a :class:`Group`."""
    return [_grouped(it) for it in scope_tree(graph).parts() if it is not graph.input]


def _grouped(item: Node | Scope) -> Node | Group:
    if isinstance(item, Node):
        return item
    return Group(tuple(f for f in item.frames if f.named),
                 [_grouped(it) for it in item.parts()])


def _item_out(item) -> str:
    return item.nodes[-1].name if isinstance(item, Group) else item.name


def _item_inputs(item) -> list[str]:
    if isinstance(item, Group):
        inside = {n.name for n in item.nodes}
        ext: list[str] = []
        for n in item.nodes:
            for i in n.inputs:
                if i not in inside and i not in ext:
                    ext.append(i)
        return ext
    return list(item.inputs)


@dataclass
class Instance:
    """One scope (a block call, or the network) on its way to a class.

    ``init`` holds ``(attr, ctor, child)``: a module's constructor, or the child
    instance whose class builds the submodule. ``fwd`` holds ``(code, shape, where)``.
    The class fields are set by :class:`~cnndsl.backends.torch_classes.ClassMaker`.
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
    returns: str = ""  # the forward's return annotation, if any

    @property
    def height(self) -> int:
        return 1 + max((c.height for c in self.children), default=-1)

    def candidates(self) -> dict[str, int | float]:
        """Names a number can be written with: the block's arguments, then its input width."""
        out = {identifier(k): v for k, v in self.frame.args} if self.frame else {}
        if self.in_channels is not None:
            out.setdefault("in_channels", self.in_channels)
        return out

    def call(self) -> Ctor:
        """The constructor of this instance's class, with its values."""
        return Ctor(self.cls, kwargs=tuple((p, self.call_values[p]) for p in self.params))


class UnsafeValue(Exception):
    """An attribute value that is not a plain finite number, boolean or short word: a
    graph that did not come from the elaborator (hand-made IR JSON)."""


def _word(value: str) -> bool:
    return 1 <= len(value) <= 32 and all(c == "_" or "a" <= c <= "z" for c in value)


def plain(value, where: str):
    """``value`` if it is a plain finite number (of 64 bits), boolean, None, short
    lower-case word or tuple of these; else :class:`UnsafeValue`."""
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
        return tuple(plain(v, where) for v in value)
    if isinstance(value, str) and _word(value):
        return value
    raise UnsafeValue(f"{where}: {type(value).__name__} {value!r:.40} is not a plain value")


def _as_ctor(module: Ctor | str | None, op: ops.OpDef, where: str) -> Ctor | None:
    """An operator's ``torch_module`` result as a value; text (a plugin written before
    Ctor) is read with :meth:`Ctor.parse`, with a DeprecationWarning (naming the
    operator: the warning filters show it once per operator)."""
    if module is None or isinstance(module, Ctor):
        return module
    if isinstance(module, str):
        warnings.warn(f"operator {op.name!r}: torch_module returned text; return a "
                      "cnndsl.ops.Ctor instead (text is still read, deprecated; see "
                      "docs/plugins.md)", DeprecationWarning, stacklevel=2)
        try:
            return Ctor.parse(module)
        except ValueError as e:
            raise UnsafeValue(f"{where}: {e}") from None
    raise UnsafeValue(f"{where}: torch_module of {op.name!r} returned "
                      f"{type(module).__name__}, not a cnndsl.ops.Ctor")


class Scopes:
    """Every scope of a graph as an :class:`Instance`, with what its operators need
    besides (helper classes, plugin imports) and each module's path in the model."""

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
        self.root = self.instance(tree(graph), None, 0, "")

    def _flatten_if_leaky(self, items: list) -> list:
        """A group whose inner values are used outside is inlined (never for our blocks)."""
        out = []
        for it in items:
            if isinstance(it, Group):
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
            if isinstance(it, Group):
                attr = attrs.claim("_".join(f.name for f in it.frames[level:]))
                target = var_name(out, idx, attr)
                child = self.instance(it.items, it.frame, len(it.frames), prefix + attr + ".")
                inst.children.append(child)
                inst.init.append((attr, None, child))
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
            where = (it.frame if isinstance(it, Group) else it).span
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
        values = {k: plain(v, f"{node.name}.{k}") for k, v in node.attrs}
        if self.overwrites is not None and self.overwrites.activation(node):
            values["inplace"] = True  # an emission option, not an attribute of the IR
        try:
            module = _as_ctor(op.torch_module(values, in_types, node.type), op, node.name) \
                if op.torch_module else None
        except ValueError as e:  # a Ctor refused what the operator put in it
            raise UnsafeValue(f"{node.name}: {e}") from None
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
