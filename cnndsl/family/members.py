"""Enumerating a family: each member compiled (the program parsed once), never built.

A member that fails shape checking is kept, with its error, for whoever asks for the
invalid ones; members that elaborate to the same graph (names aside) are one member
with several bindings (``[(CONV-RELU)*N]*M`` without its pools depends on N*M only).

>>> fam = Family("network f(N in 1..3, M in 1..2):\\n  input 1x8x8\\n  [conv(4)*N]*M - fc(2)")
>>> len(fam.space)
6
>>> for m in list(fam.members()):  # N=2, M=1 builds N=1, M=2's graph: one member
...     print(m.bindings, m.network.params_count, m.duplicates)
{'N': 1, 'M': 1} 554 []
{'N': 1, 'M': 2} 702 [{'N': 2, 'M': 1}]
{'N': 2, 'M': 2} 998 []
{'N': 3, 'M': 1} 850 []
{'N': 3, 'M': 2} 1294 []
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..api import Network, compile_program, read_source
from ..deprecation import renamed_keywords
from ..diagnostics import CnnError, Diagnostic, UserError
from ..elaborate import presets
from ..elaborate.imports import FileSystem, ImportLoader, display_name
from ..ir.graph import Graph
from ..limits import Limits
from ..pause import paused_gc
from ..syntax import ast
from ..syntax.parser import parse
from .space import Space


@dataclass(eq=False)
class Member:
    """One member: the values of the free dimensions, and its network or its error.

    Unpacks as ``bindings, network``. ``duplicates`` holds the bindings of later members
    with the same graph; it grows as the enumeration goes on."""

    index: int  # its position in the product of the dimensions
    bindings: dict[str, Any]
    network: Network | None = None
    error: CnnError | None = None
    duplicates: list[dict[str, Any]] = field(default_factory=list)

    def __iter__(self) -> Iterator[Any]:
        yield self.bindings
        yield self.network

    @property
    def valid(self) -> bool:
        return self.network is not None

    @property
    def codes(self) -> list[str]:
        """The codes of the errors that make it invalid (``["E0302"]``)."""
        if self.error is None:
            return []
        return sorted({d.code for d in self.error.diagnostics if d.is_error})


class Family:
    """A program (source, path or zoo name) as a family: its :attr:`space` and members.

    ``bindings`` binds as ``--set`` does (``params=`` is its old, deprecated name); a value that is a domain (see
    :func:`cnndsl.family.space.parse_domain`, or an ``ast.Domain``/tuple) makes a free
    dimension of it. ``input``, ``preset``, ``include``, ``limits`` and ``strict`` are
    :func:`cnndsl.compile`'s."""

    @renamed_keywords(params="bindings")
    def __init__(self, source: str | os.PathLike, bindings: Mapping[str, Any] | None = None,
                 *, input: str | tuple[int, ...] | None = None, preset: str | None = None,
                 include: Iterable[str | os.PathLike] = (),
                 limits: Limits | Mapping[str, int] | None = None, strict: bool = False):
        self.limits = Limits.of(limits)
        self.strict = strict  # a member with a warning is invalid, as `check --strict`
        text, name, base, member = read_source(source, self.limits)
        with paused_gc():
            self.program = parse(text, name, self.limits)
        self.preset = preset or member
        if self.preset is not None and presets.chosen(self.program, self.preset) is None:
            names = ", ".join(p.name for p in self.program.presets) or "none"
            raise CnnError([Diagnostic("E0204", f"no preset named `{self.preset}`", None,
                                       help=f"this file's presets: {names}")])
        self.input = input
        self._files = FileSystem(base, include, self.limits)
        self._key = display_name(base / Path(name).name) if base is not None else name
        loaded = ImportLoader(self._files, self.limits).load(self.program, self._key)
        imported = [p for _, p in loaded]  # a file that fails to import: the compile says so
        # the texts every member is compiled from: a search's results hold for these only
        self.imported_sources = {key: p.source.text for key, p in loaded}
        chosen = presets.chosen(self.program, self.preset)
        roots = chosen.args if chosen else ()  # preset big(stage=fancy) calls fancy
        self.space = Space.of(self.program, bindings,
                              presets.bound_names(self.program, self.preset), imported, roots)
        self._unknown_switches = [  # a ranged switch reaches no compile when it is on
            Diagnostic("W0201", f"`{d.name}` switches an optional part, but the network "
                       "has no such part", None, help="optional parts are named by their "
                       "text, e.g. `POOL?` is switched by `--set POOL?=off`")
            for d in self.space.dims if d.optional and d.name not in self.space.switches]
        # the members' values are the family's: a --set range replaces the header's, so
        # that a value it adds (N=4 where the header says 1..3) is no W0202
        self.program = with_domains(self.program, self.space)
        self._from_file = base is not None
        self._unused: dict[str, Diagnostic] | None = None  # W0201 of every member walked

    @property
    def unused_bindings(self) -> list[Diagnostic]:
        """W0201 for each ``--set`` name no member walked so far uses (a misspelt
        parameter or optional part): the warning every valid member's compile gave."""
        walked = list((self._unused or {}).values())
        return self._unknown_switches + [d for d in walked if d.message not in
                                         {u.message for u in self._unknown_switches}]

    def _note_unused(self, net: Network) -> None:
        found = {d.message: d for d in net.diagnostics if d.code == "W0201"}
        self._unused = found if self._unused is None else {
            k: d for k, d in self._unused.items() if k in found}

    def compile(self, values: Mapping[str, Any]) -> Network:
        """The member with these values of the free dimensions (CnnError if invalid).

        Under ``strict`` a warning makes the member invalid, except W0201: a switch the
        family passes for a part this member does not build is the family's doing, and
        a name no member uses is reported once (:attr:`unused_bindings`)."""
        net = compile_program(self.program, self._files, self._key, self._from_file,
                              self.space.compile_bindings(values), self.input, False,
                              self.limits, self.preset)
        if self.strict and any(d.severity == "warning" and d.code != "W0201"
                               for d in net.diagnostics):
            raise CnnError([d if d.code == "W0201" else d.as_error()
                            for d in net.diagnostics])
        return net

    def members(self, sample: int | None = None, seed: int = 0, invalid: bool = False,
                unique: bool = True) -> Iterator[Member]:
        """The members in order (or ``sample`` of them drawn with ``seed``), streamed:
        only the graphs' fingerprints are kept. ``invalid`` yields the members that fail
        too (with ``error``); ``unique`` reports a graph once, later bindings of it
        going to its ``duplicates``."""
        seen: dict[bytes, list[dict[str, Any]]] = {}  # fingerprint -> later bindings
        for index in self.space.indices(sample, seed):
            values = self.space.bindings(index)
            try:
                net = self.compile(values)
            except CnnError as e:
                if invalid:
                    yield Member(index, values, None, e)
                continue
            self._note_unused(net)
            if unique:
                key = fingerprint(net.graph)
                if key in seen:
                    seen[key].append(values)
                    continue
                member = Member(index, values, net)
                seen[key] = member.duplicates
                yield member
            else:
                yield Member(index, values, net)


@renamed_keywords(params="bindings")
def enumerate_family(source: str | os.PathLike, bindings: Mapping[str, Any] | None = None, *,
                     sample: int | None = None, seed: int = 0, invalid: bool = False,
                     unique: bool = True, **options: Any) -> Iterator[Member]:
    """Every member of the family ``source`` defines, as ``(bindings, Network)`` pairs
    (:class:`Member`), without building a torch module. ``bindings`` fixes parameters
    as ``--set`` does, or ranges them (a tuple of values, or a domain); the other
    options are :class:`Family`'s and :func:`cnndsl.compile`'s.

    >>> import cnndsl
    >>> src = "network f(N in 1..3, w in {8, 16}):\\n  input 1x28x28\\n  conv(w)*N - gap - fc(10)"
    >>> for bindings, net in cnndsl.enumerate(src, sample=2, seed=1):
    ...     print(bindings, net.params_count)
    {'N': 1, 'w': 16} 330
    {'N': 3, 'w': 8} 1338
    """
    if sample is not None and (isinstance(sample, bool) or not isinstance(sample, int)
                               or sample < 1):
        raise UserError(f"sample must be a whole number of members, at least 1, got "
                        f"{sample!r:.40}", help="sample=100, or None for every member",
                        exit_code=2)
    return Family(source, bindings, **options).members(sample, seed, invalid, unique)


def with_domains(program: ast.Program, space: Space) -> ast.Program:
    """``program`` whose network parameters range over the space's values where the
    bindings gave a parameter its range (the header's, and its default, otherwise)."""
    net = program.network
    ranged = {d.name: d.values for d in space.dims if d.name in space.given
              and not d.optional}
    if net is None or not any(p.name in ranged for p in net.params):
        return program
    params = tuple(replace(p, domain=_domain(ranged[p.name], p), default=None)
                   if p.name in ranged else p  # each member binds it: no default to check
                   for p in net.params)
    return replace(program, network=replace(net, params=params))


def _domain(values: Any, p: ast.Param) -> ast.Domain:
    if isinstance(values, ast.Domain):
        return replace(values, span=p.domain.span if p.domain else p.span)
    return ast.Domain(p.domain.span if p.domain else p.span, choices=tuple(values))


def fingerprint(graph: Graph) -> bytes:
    """A digest of the graph's structure: operators, attributes, types and edges in
    order, names, paths, spans and scopes aside."""
    index = {n.name: i for i, n in enumerate(graph.nodes)}
    h = hashlib.blake2b(digest_size=16)
    for n in graph.nodes:
        h.update(repr((n.op, n.attrs, [index[i] for i in n.inputs], n.type.dims)).encode())
    h.update(repr((index[graph.output], [index[a] for a in graph.aux])).encode())
    return h.digest()
