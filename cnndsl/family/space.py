"""A family's design space: the product of its parameters' values and its optional parts.

The ranges and choices come from the network's header (``N=2 in 1..5``) and from the
command line (``--set N=1..3``, ``--set K={0,1,2}``; a plain ``--set N=2`` fixes N);
every optional part (``POOL?``) is free, on or off, unless a binding fixes it. The
product is never materialized: member ``i`` is decoded from ``i`` (mixed radix, the
last dimension fastest), so a space of 10^12 members costs nothing until it is walked,
and a sample is drawn from the indices.

>>> from cnndsl.syntax.parser import parse
>>> prog = parse("network f(N=2 in 1..3, K in {0, 2}):\\n  [conv(8)*N - POOL?] - fc(10)*K")
>>> space = Space.of(prog)
>>> [d.name for d in space.dims], len(space)
(['N', 'K', 'pool?'], 12)
>>> space.bindings(0), space.bindings(11)
({'N': 1, 'K': 0, 'pool?': True}, {'N': 3, 'K': 2, 'pool?': False})
"""

from __future__ import annotations

import random
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..bindings import check_bindings, check_switch
from ..diagnostics import UserError
from ..syntax import ast

Value = bool | int | float | str


@dataclass(frozen=True)
class Dimension:
    """One free choice: a parameter's values, or an optional part's on/off (``pool?``)."""

    name: str
    values: Sequence[Value]  # an ast.Domain (a range stays two numbers) or a tuple
    optional: bool = False  # an optional part: True is on, False off

    @property
    def size(self) -> int:
        v = self.values
        return v.size if isinstance(v, ast.Domain) else len(v)

    def __len__(self) -> int:
        return self.size

    def describe(self) -> str:
        return "on/off" if self.optional else str(self.values) if isinstance(
            self.values, ast.Domain) else "{" + ", ".join(map(_show, self.values)) + "}"


@dataclass(frozen=True)
class Space:
    """The free dimensions and the fixed bindings every member shares."""

    dims: tuple[Dimension, ...]
    fixed: Mapping[str, Any] = field(default_factory=dict)
    given: frozenset[str] = frozenset()  # the dimensions the bindings ranged (--set N=1..3)
    switches: frozenset[str] = frozenset()  # the optional parts the network can build

    @classmethod
    def of(cls, program: ast.Program, bindings: Mapping[str, Any] | None = None,
           preset: Iterable[str] = (), imported: Sequence[ast.Program] = (),
           roots: Iterable[Any] = ()) -> Space:
        """The program's space, with ``bindings`` (``--set``) fixing a dimension (a value),
        or making one (a domain, see :func:`parse_domain`); the parameters a chosen
        ``preset`` binds are fixed at its values unless ``bindings`` range them. The
        optional parts of ``imported`` programs' blocks that the network calls are
        dimensions too, as are those of blocks ``roots`` name (the chosen preset's
        arguments)."""
        _check_given(bindings)
        given = {_key(k): _unique(v) for k, v in (bindings or {}).items()}
        ranged = {k: v for k, v in given.items() if isinstance(v, (ast.Domain, tuple))}
        fixed = {k: v for k, v in given.items() if k not in ranged}
        dims: dict[str, Dimension] = {}
        for p in program.network.params if program.network else ():
            if p.name in ranged:  # in the header's order
                dims[p.name] = Dimension(p.name, ranged.pop(p.name))
            elif p.domain is not None and p.domain.size and p.name not in set(preset) | \
                    set(fixed):
                dims[p.name] = Dimension(p.name, p.domain)
        named = [v for v in given.values() for v in (v if isinstance(v, tuple) else (v,))
                 if isinstance(v, str)]  # --set stage=fancy calls the block fancy
        switches = optional_parts(program, imported, (*roots, *named))
        for key in switches if "?" not in fixed else ():
            if key not in fixed:
                dims[key] = Dimension(key, ranged.pop(key, (True, False)), optional=True)
        for k, v in ranged.items():  # a built-in default (channels), or a part in a block
            dims[k] = Dimension(k, v, optional=k.endswith("?"))
        return cls(tuple(dims.values()), fixed, frozenset(given) - frozenset(fixed),
                   frozenset(switches))

    @property
    def size(self) -> int:
        """How many bindings the space has (any size: ``len()`` stops at 2^63)."""
        n = 1
        for d in self.dims:
            n *= d.size
        return n

    def __len__(self) -> int:
        return self.size

    def bindings(self, index: int) -> dict[str, Any]:
        """Member ``index``'s values of the free dimensions (the last varies fastest)."""
        if not 0 <= index < self.size:
            raise IndexError(f"member {index} of a space of {self.size:,}")
        out: dict[str, Any] = {}
        for d in reversed(self.dims):
            index, i = divmod(index, d.size)
            out[d.name] = d.values[i]
        return dict(reversed(out.items()))

    def indices(self, sample: int | None = None, seed: int = 0) -> Iterator[int]:
        """Every member's index in order, or ``sample`` of them drawn without
        replacement (reproducible by ``seed``) and then walked in order."""
        n = self.size
        if sample is None or sample >= n:
            return iter(range(n))
        rng, drawn = random.Random(seed), set()
        while len(drawn) < sample:  # randrange takes any size; range() in sample() does not
            drawn.add(rng.randrange(n))
        return iter(sorted(drawn))

    def compile_bindings(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """What the compiler is given for a member: the fixed bindings and the member's
        values, an optional part switched off only (on is every part's default)."""
        out = dict(self.fixed)
        everything_off = self.fixed.get("?") is False  # then a part on must say so
        for k, v in values.items():
            if not k.endswith("?") or v is False or everything_off:
                out[k] = v
        return out


def _check_given(bindings: Any) -> None:
    """Bindings as ``Space.of`` takes them: names to values (checked as the compiler
    checks them), non-empty tuples of values or ranges; a switch is on or off."""
    if bindings is None:
        return
    if not isinstance(bindings, Mapping):
        check_bindings(bindings)  # the compiler's own refusal of a non-mapping
    for k, v in bindings.items():
        if not isinstance(k, str):
            check_bindings({k: v})
        if k == "?" and isinstance(v, (tuple, ast.Domain)):
            raise UserError("`?` switches every optional part at once; it does not range",
                            help="range a part by its name: --set 'pool?=on,off' (every "
                            "part is a dimension already unless fixed)", exit_code=2)
        if isinstance(v, ast.Domain):
            if not v.size:
                raise UserError(f"the range {v} of `{k}` is empty", exit_code=2,
                                help="write the smaller end first: 1..5")
            if k.endswith("?"):
                check_switch(k, str(v))
            continue
        values = v if isinstance(v, tuple) else (v,)
        if not values:
            raise UserError(f"no choices for `{k}`", exit_code=2,
                            help='e.g. bindings={"K": (0, 1, 2)}')
        for value in values:
            check_bindings({k: value})


def optional_parts(program: ast.Program, imported: Sequence[ast.Program] = (),
                   roots: Iterable[Any] = ()) -> list[str]:
    """The switches of the optional parts the network can build (``pool?``), in source
    order: in its own lines and in the blocks it calls, directly or through other
    blocks, the file's own (first) and imported ones (after); ``roots`` (AST nodes or
    names: a preset's arguments, a bound value) may call blocks too. A block nothing
    calls adds no dimension: a library of blocks imports no switches it does not use."""
    libraries = list(imported)
    defs: dict[str, list[ast.BlockDef]] = {}
    for prog in (program, *libraries):
        for b in prog.blocks:
            defs.setdefault(b.name.lower(), []).append(b)
    called = _called_blocks(program, defs, roots)
    found: dict[str, None] = {}
    for stmts in ([s for b in program.blocks if id(b) in called for s in b.body],
                  list(program.network.body) if program.network else [],
                  [s for lib in libraries for b in lib.blocks if id(b) in called
                   for s in b.body]):
        for stmt in stmts:
            for node in _walk(getattr(stmt, "value", None)):
                if isinstance(node, ast.Optional):
                    found.setdefault(node.value.text.replace(" ", "").lower() + "?")
    return list(found)


def _called_blocks(program: ast.Program, defs: Mapping[str, list[ast.BlockDef]],
                   roots: Iterable[Any] = ()) -> set[int]:
    """The ids of the block definitions the network reaches through calls and names (a
    parameter's default or choice may name a block, as may ``roots``)."""
    net = program.network
    todo: list[Any] = [net.body, net.params] if net else []
    names = [str(c) for p in (net.params if net else ()) if p.domain and p.domain.choices
             for c in p.domain.choices]
    for root in roots:
        (names if isinstance(root, str) else todo).append(root)
    called: set[int] = set()
    while todo or names:
        for node in _walk(todo.pop()) if todo else ():
            if isinstance(node, ast.Name):
                names.append(node.id)
        while names:
            for b in defs.get(names.pop().lower(), ()):
                if id(b) not in called:
                    called.add(id(b))
                    todo.append(b.body)
    return called


def _walk(node: Any) -> Iterator[ast.Node]:
    todo = [node]
    while todo:
        n = todo.pop()
        if isinstance(n, ast.Node):
            yield n
            todo.extend(reversed([getattr(n, f) for f in n.__dataclass_fields__
                                  if f != "span"]))
        elif isinstance(n, tuple):
            todo.extend(reversed(n))


def _unique(value: Any) -> Any:
    """Choices once each, as ``--set`` reads them: ``(1, 1)`` is one binding."""
    if not isinstance(value, tuple):
        return value
    return tuple(v for i, v in enumerate(value)
                 if not any(ast.same_value(v, w) for w in value[:i]))


def _key(name: str) -> str:
    name = unicodedata.normalize("NFKC", name.strip())  # as the parser reads names
    return name.replace(" ", "").lower() if name.endswith("?") else name


_RANGE = re.compile(r"^\s*(-?\d+)\s*\.\.\s*(-?\d+)\s*$")


def parse_domain(text: str) -> ast.Domain | tuple | None:
    """A ``--set`` value that ranges: ``1..5`` (whole numbers, both ends included) or
    ``{32,64,128}`` or ``32,64,128`` (choices, as ``--set`` reads values); None for a
    plain value.

    >>> str(parse_domain("1..5")), parse_domain("{relu, gelu}"), parse_domain("0,1"), parse_domain("3")
    ('1..5', ('relu', 'gelu'), (0, 1), None)
    """
    from ..api import _scalar  # the one reading of a --set value
    m = _RANGE.match(text)
    if m:
        low, high = int(m.group(1)), int(m.group(2))
        if high < low:
            raise UserError(f"the range {text.strip()} is empty", help="write the smaller "
                            "end first: 1..5", exit_code=2)
        return ast.Domain(None, low, high)  # type: ignore[arg-type]
    stripped = text.strip()
    braced = stripped.startswith("{") and stripped.endswith("}")
    if braced and _RANGE.match(stripped[1:-1]):  # `{1..3}`: the range itself
        return parse_domain(stripped[1:-1])
    if braced or "," in stripped:  # `{0,1,2}`, or `0,1,2` (a shell expands the braces)
        parts = [v.strip() for v in stripped.strip("{}").split(",") if v.strip()]
        if any(_RANGE.match(v) for v in parts):
            raise UserError(f"{stripped} mixes a range and choices", exit_code=2,
                            help="list every value: --set 'N={1,2,3,5}'; or give a range "
                            "alone: --set N=1..3")
        items = [_scalar(v) for v in parts]
        if not items:
            raise UserError(f"no choices in {stripped}", help="e.g. --set K={0,1,2}",
                            exit_code=2)
        unique = [v for i, v in enumerate(items)
                  if not any(ast.same_value(v, w) for w in items[:i])]
        return tuple(unique)
    return None


def parse_bindings(items: Sequence[str] | None) -> dict[str, Any]:
    """``--set`` items where a value may range: ``["N=1..3", "K={0,1}", "POOL?=off"]``."""
    from ..bindings import parse_bindings as parse_values
    out: dict[str, Any] = {}
    for item in items or ():  # in order: a later --set of a name replaces an earlier one
        value = parse_values([item])  # checks the form; its key is the name normalized
        [key] = value
        domain = parse_domain(item.split("=", 1)[1])
        out.pop(key, None)
        out.update({key: domain} if domain is not None else value)
    return out


def _show(v: Value) -> str:
    return str(v).lower() if isinstance(v, bool) else str(v)
