"""The public API: compile source (or a file, or a zoo name) into a :class:`Network`.

>>> net = compile("input 1x28x28\\nconv(8, 3) - relu - pool - fc(10)")
>>> net.output_shape, net.params_count
((10,), 15770)
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .bindings import _scalar, check_bindings, parse_bindings, parse_params  # noqa: F401
from .deprecation import renamed_keywords
from .diagnostics import CnnError, Diagnostic, UserError, apply_allow_comments, render_all
from .elaborate import Elaborator
from .elaborate.imports import Files, FileSystem, Imported, display_name
from .ir.graph import TensorType
from .limits import Limits
from .network import Network
from .passes.check import check
from .passes.receptive_field import receptive_field
from .pause import paused_gc
from .sources import ZOO_DIR, read_source, zoo_entry, zoo_path, zoo_presets  # noqa: F401
from .syntax import ast
from .syntax.build import MAX_INT
from .syntax.parser import parse


@renamed_keywords(params="bindings")
def compile(source_or_path: str | os.PathLike, bindings: Mapping[str, Any] | None = None,
            input: str | tuple[int, ...] | None = None, strict: bool = False, *,
            limits: Limits | Mapping[str, int] | None = None,
            include: Iterable[str | os.PathLike] = (), preset: str | None = None) -> Network:
    """Compile ``.cnn`` source, a path to one, or a zoo name into a :class:`Network`.

    ``preset`` picks one of the file's ``preset`` lines (a zoo family member's name,
    such as ``efficientnet_b3``, picks its own); ``bindings`` binds network parameters
    over it (like ``--set``; ``params=`` is its old, deprecated name); ``input`` overrides
    the input
    shape (``"3x32x32"`` or a tuple); ``limits`` raises the bounds of
    :class:`~cnndsl.limits.Limits` (``{"nodes": 500_000}``); ``include`` adds folders
    imports may read (besides the file's own folder tree and the zoo). Raises
    :class:`CnnError` carrying every diagnostic when the input has errors (and for
    warnings under ``strict``).

    >>> compile("resnet18").params_count
    11689512
    >>> src = "network n(N=2, classes=10):\\n  input 3x32x32\\n  conv(16)*N - gap - fc(classes)"
    >>> compile(src, bindings={"N": 3}, input="3x64x64").graph.input_type.dims
    (3, 64, 64)
    >>> compile("efficientnet_b3").preset
    'efficientnet_b3'
    """
    limits = Limits.of(limits)
    _check_preset(preset)
    text, name, base, member = read_source(source_or_path, limits)
    key = name
    if base is not None:
        key = display_name(base / Path(name).name)
    return _compile_text(text, name, FileSystem(base, include, limits), key, base is not None,
                         bindings, input, strict, limits, preset or member)


def _compile_text(text: str, name: str, files: Files, key: str, from_file: bool,
                  bindings: Mapping[str, Any] | None, input, strict: bool,
                  limits: Limits, preset: str | None = None) -> Network:
    with paused_gc():
        try:
            program = parse(text, name, limits)
        except RecursionError:
            raise _too_deep() from None
    return compile_program(program, files, key, from_file, bindings, input, strict, limits,
                           preset)


def _too_deep() -> CnnError:
    return CnnError([Diagnostic("E0011", "the program is nested too deeply to compile", None,
                                help="flatten deeply nested brackets or blocks")])


def compile_program(program: ast.Program, files: Files, key: str, from_file: bool,
                    bindings: Mapping[str, Any] | None, input, strict: bool, limits: Limits,
                    preset: str | None = None) -> Network:
    """A parsed program to a :class:`Network` (a family's members share one parse)."""
    name = program.source.name
    in_type = _input_type(input)
    bindings = check_bindings(bindings)
    with paused_gc():
        try:
            el = Elaborator(program, bindings, in_type, limits=limits, files=files, key=key,
                            preset=preset)
            graph = el.run()
        except RecursionError:
            raise _too_deep() from None
        diags = list(el.diags)
        if graph is not None:
            broken = graph.lint()
            if broken:  # a bug in the compiler, never the user's: do not hand it on
                raise RuntimeError(f"internal error: the IR is inconsistent: {broken[:3]}")
            fields = receptive_field(graph)
            diags += check(graph, fields)
    # one of each (same code, message, place), with the calls that led to the first
    first: dict[tuple, Diagnostic] = {}
    for d in apply_allow_comments(diags):
        first.setdefault((d.code, d.message, d.span, d.label), d)
    diags = list(first.values())
    if strict:
        diags = [d.as_error() for d in diags]
    if graph is None or any(d.is_error for d in diags):
        raise CnnError(sorted(diags, key=_order))
    net = Network(graph, program, name, bindings, sorted(diags, key=_order),
                  name if from_file else None, el.imported,
                  {k: b.defn for k, b in el.blocks.items()}, graph.name if preset else None)
    net._fields = fields
    return net


def _check_preset(preset: Any) -> None:
    if preset is not None and not (isinstance(preset, str) and preset.isidentifier()):
        raise UserError(f"preset must be the name of a `preset` line, got {preset!r:.40}",
                        exit_code=2)


def _order(d: Diagnostic):
    s = d.span
    return (0 if s is None else 1, s.line if s else 0, s.col if s else 0)


def _input_type(value) -> TensorType | None:
    if value is None:
        return None
    if isinstance(value, TensorType):
        return value
    try:
        if isinstance(value, (tuple, list)):
            if not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
                raise ValueError(value)
            t = TensorType(tuple(value))
        else:
            t = TensorType.parse(str(value))
        if len(t.dims) not in (1, 3) or not all(0 < d <= MAX_INT for d in t.dims):
            raise ValueError(value)
        return t
    except (ValueError, TypeError):
        raise UserError(f"bad input shape {value!r:.60}", help="write CxHxW, e.g. 3x224x224, "
                        "or F for a vector", exit_code=2) from None


@renamed_keywords(params="bindings")
def load(path: str | os.PathLike, **kwargs) -> Network:
    """Compile the file at ``path`` (see :func:`compile` for the options).

    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "tiny.cnn"
    >>> _ = path.write_text("input 1x28x28\\nconv(8, 3) - relu - pool - fc(10)\\n")
    >>> load(path).params_count, load(path).path == str(path)
    (15770, True)
    """
    return compile(Path(path), **kwargs)


@renamed_keywords(params="bindings")
def loads(text: str, bindings: Mapping[str, Any] | None = None, input=None,
          strict: bool = False, name: str = "<input>", *,
          limits: Limits | Mapping[str, int] | None = None,
          include: Iterable[str | os.PathLike] = (),
          imports: Mapping[str, Any] | None = None, preset: str | None = None) -> Network:
    """Compile source text (never looked up as a path or zoo name). Its imports are
    read relative to the current folder (and the zoo, and ``include``), or, given
    ``imports`` (what :attr:`Network.imported` recorded, as a checkpoint keeps it), from
    those texts alone, without reading any file. ``preset`` picks a ``preset`` line.

    >>> loads("input 1x28x28\\nconv(8, 3) - relu - pool - fc(10)", name="tiny.cnn").source_name
    'tiny.cnn'
    >>> try:
    ...     loads("resnet18")  # text, not the zoo's network
    ... except CnnError as e:
    ...     print([d.code for d in e.diagnostics])
    ['N0001', 'E0101']
    """
    if not isinstance(text, str):
        raise UserError(f"source text must be a str, got {type(text).__name__}", exit_code=2)
    limits = Limits.of(limits)
    _check_preset(preset)
    key = name
    if imports is not None:
        try:
            memory = Imported.from_json(dict(imports))
        except (TypeError, ValueError):
            raise UserError("imports: not a record of imported texts", exit_code=2) from None
        files: Files = memory
        key = memory.main
    else:
        files = FileSystem(None, include, limits)
    return _compile_text(text, name, files, key, False, bindings, input, strict, limits,
                         preset)


def from_json(data: str | bytes | Mapping[str, Any], *,
              limits: Limits | Mapping[str, int] | None = None) -> Network:
    """A :class:`Network` from the IR as JSON (text, or its dict): what
    :meth:`Network.to_json` or ``cnndsl compile --emit ir-json`` wrote, in format
    version 2 or the older 1.

    The document is checked before anything is built: its size and nesting (within
    ``limits``: ``source_bytes``, ``nesting``, ``nodes``), its format and version, the
    schema of docs/ir-schema.json, and each node as the compiler checks its own (a
    registered operator, its number of inputs, each attribute of its kind and range,
    the output type the one its operator gives; :mod:`cnndsl.ir.verify`). Anything else
    raises :class:`UserError` naming the problem and the node. The network has
    the graph, so costs, receptive fields, :meth:`~Network.summary`, drawing,
    :meth:`~Network.to_python` and :meth:`~Network.to_torch` work as for a compiled one.
    It has no source program: ``source`` is ``""``, ``program`` is an empty program (no
    blocks, ``program.network`` is None), ``blocks`` and ``imported`` are empty,
    ``diagnostics`` is ``[]`` and ``path`` is None; ``bindings`` are the values the
    network was compiled with, ``source_name`` and ``preset`` what the document says.

    >>> net = compile("input 1x28x28\\nconv(8, 3) - relu - pool - fc(10)")
    >>> again = from_json(net.to_json())
    >>> again.dump_ir() == net.dump_ir(), again.params_count, again.source
    (True, 15770, '')
    >>> from_json('{"format": "onnx"}')
    Traceback (most recent call last):
    ...
    cnndsl.diagnostics.UserError: not a cnndsl IR document ("format" is "onnx", not "cnndsl-ir")
      help: give what Network.to_json() or `cnndsl compile --emit ir-json` wrote
    >>> from_json(net.to_json().replace('"out": 8', '"out": -3'))
    Traceback (most recent call last):
    ...
    cnndsl.diagnostics.UserError: the IR's node conv1 (conv): `out` of conv must be positive, got -3
      help: emit the IR again with cnndsl; do not edit it by hand
    """
    from .diagnostics import Source, Span
    from .ir.document import graph_of, read
    from .ir.verify import verify

    limits = Limits.of(limits)
    doc = read(data, limits)
    graph = verify(graph_of(doc), limits)
    bindings = check_bindings(graph.bindings)
    name = doc.get("source_name", "<ir>")
    src = Source(name, "")
    program = ast.Program(Span(src, 1, 1, 1, 1), src, (), (), None)
    return Network(graph, program, name, bindings, [], None, preset=doc.get("preset"))


__all__ = ["CnnError", "Network", "compile", "from_json", "load", "loads", "parse_bindings",
           "render_all"]
