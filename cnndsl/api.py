"""The public API: compile source (or a file, or a zoo name) into a :class:`Network`.

>>> net = compile("input 1x28x28\\nconv(8, 3) - relu - pool - fc(10)")
>>> net.output_shape, net.params_count
((10,), 15770)
"""

from __future__ import annotations

import functools
import json
import math
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .diagnostics import CnnError, Diagnostic, UserError, apply_allow_comments, render_all
from .elaborate import Elaborator
from .elaborate.imports import Files, FileSystem, Imported, display_name
from .ir.graph import Graph, TensorType
from .limits import Limits
from .passes.check import check
from .passes.cost import Cost, cost
from .passes.receptive_field import receptive_field
from .pause import paused_gc
from .sources import read_source_file
from .syntax import ast
from .syntax.build import MAX_INT
from .syntax.parser import parse

ZOO_DIR = Path(__file__).resolve().parent / "zoo"


def zoo_path(name: str) -> Path | None:
    """The zoo file for ``name`` (``resnet50`` or ``resnet50.cnn``), if there is one."""
    stem = name[:-4] if name.endswith(".cnn") else name
    if not stem or "/" in stem or "\\" in stem:
        return None
    p = ZOO_DIR / f"{stem.lower()}.cnn"
    return p if p.is_file() else None


_PRESET_LINE = re.compile(r"^preset\s+(\w+)\s*\(", re.IGNORECASE | re.MULTILINE)


@functools.lru_cache(maxsize=1)
def zoo_presets() -> dict[str, Path]:
    """Preset name (lower case) -> the zoo family file that defines it
    (``efficientnet_b3`` -> ``zoo/efficientnet.cnn``), read from the files' text."""
    found: dict[str, Path] = {}
    for p in sorted(ZOO_DIR.glob("*.cnn")):
        for name in _PRESET_LINE.findall(p.read_text(encoding="utf-8")):
            found.setdefault(name.lower(), p)
    return found


def zoo_entry(name: str) -> tuple[Path, str | None] | None:
    """A zoo name's file and, for a family's member, its preset."""
    p = zoo_path(name)
    if p is not None:
        return p, None
    family = zoo_presets().get(name.lower()) if name.isidentifier() else None
    return (family, name.lower()) if family is not None else None


def read_source(source_or_path: str | os.PathLike, limits: Limits | None = None
                ) -> tuple[str, str, Path | None, str | None]:
    """(text, display name, base directory, preset) for a path, a zoo name or source
    text; the preset is set for a zoo family's member (``efficientnet_b3``).

    A ``Path`` is a file. A string ending in ``.cnn`` is a path (a missing one is a usage
    error); else a zoo name is the zoo file; anything else is source text. So a string
    from elsewhere never makes the compiler read, and quote, a file that is not a
    ``.cnn`` program (``compile("/etc/passwd")`` is a syntax error about that text).
    """
    limits = limits or Limits()
    if isinstance(source_or_path, os.PathLike):
        return (*_read_file(Path(source_or_path), limits), None)
    text = source_or_path
    if len(text) >= 4096:
        return text, "<input>", None, None
    stripped = text.strip()
    if stripped.lower().endswith(".cnn") and (os.path.lexists(stripped) or "\n" not in text):
        if not os.path.lexists(stripped):
            raise UserError(f"no such file: {stripped}", help="give a path to a .cnn file, "
                            "a zoo name (see `cnndsl zoo list`), or source text", exit_code=2)
        return (*_read_file(Path(stripped), limits), None)
    entry = zoo_entry(stripped) if "\n" not in text else None
    if entry is not None:
        zp, preset = entry
        return zp.read_text(encoding="utf-8"), f"zoo/{zp.name}", zp.parent, preset
    return text, "<input>", None, None


def _read_file(path: Path, limits: Limits) -> tuple[str, str, Path | None]:
    text = read_source_file(path, limits)
    return text, str(path), path.resolve().parent


def check_params(params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Bindings as the compiler takes them: names to booleans, finite numbers below 2^63
    or strings; anything else is a usage error."""
    out: dict[str, Any] = {}
    for k, v in (params or {}).items():
        if not isinstance(k, str):
            raise UserError(f"parameter names are strings, got {k!r}", exit_code=2)
        ok = isinstance(v, (bool, str)) or (
            isinstance(v, (int, float)) and not (isinstance(v, float) and not math.isfinite(v))
            and abs(v) <= MAX_INT)
        if not ok:
            shown = (f"a number of {v.bit_length()} bits" if isinstance(v, int)
                     else f"{type(v).__name__} {v!r:.40}")
            raise UserError(f"parameter `{k}`: {shown} is not a value the language has",
                            help="bind a whole number, a finite number below 2^63, "
                            "true/false, or a name", exit_code=2)
        out[k] = v
    return out


def parse_params(items: list[str] | None) -> dict[str, Any]:
    """``--set`` bindings as the compiler takes them: numbers, booleans, else text.

    >>> parse_params(["N=2", "act=relu", "pool?=off", "p=0.5"])
    {'N': 2, 'act': 'relu', 'pool?': False, 'p': 0.5}
    """
    out: dict[str, Any] = {}
    for item in items or ():
        if "=" not in item:
            raise UserError(f"--set expects K=V, got {item!r}", help="e.g. --set N=2",
                            exit_code=2)
        k, v = item.split("=", 1)
        out[k.strip()] = _scalar(v.strip())
    return out


def _scalar(v: str) -> Any:
    low = v.lower()
    if low in ("true", "yes", "on"):
        return True
    if low in ("false", "no", "off"):
        return False
    for conv in (int, float):
        try:
            value = conv(v)
        except ValueError:
            continue
        if isinstance(value, float) and not math.isfinite(value):
            break  # "inf", "nan", 1e999: kept as text, refused where a number is needed
        return value
    return v


def _without_gc(method):
    """A Network method that walks a large graph, run with the collector paused."""
    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        with paused_gc():
            return method(*args, **kwargs)
    return wrapper


class Network:
    """A compiled network: its IR graph plus everything derived from it.

    Attributes: ``graph`` (the IR), ``source`` and ``program`` (the text and its parse),
    ``source_name``, ``path`` (the file, if it came from one), ``params`` (the bindings
    it was compiled with), ``preset``, ``diagnostics`` (warnings and notes), ``blocks``
    and ``imported`` (the blocks it could call and the imported texts). A network read
    back with :func:`from_json` has no source program (see there).

    >>> net = compile("input 1x28x28\\nconv(8, 3) - relu - pool - fc(10)")
    >>> net.name, net.input_shape, net.output_shape, net.num_classes
    ('network', (1, 28, 28), (10,), 10)
    >>> net.params_count, net.cost.macs, [n.op for n in net.graph][:3]
    (15770, 72128, ['input', 'conv', 'relu'])
    >>> print(net.dump_ir().splitlines()[-1])
      return %fc1
    """

    def __init__(self, graph: Graph, program: ast.Program, source_name: str,
                 params: dict[str, Any], diagnostics: list[Diagnostic], path: str | None,
                 imported: Imported | None = None,
                 blocks: Mapping[str, ast.BlockDef] | None = None, preset: str | None = None):
        self.graph = graph
        self.preset = preset  # the family member it is (a `preset` line), if any
        self.program = program
        self.imported = imported or Imported()  # the texts of the imported files
        self.blocks = dict(blocks or {})  # every block it could call, by lower-case name
        self.source = program.source.text
        self.source_name = source_name
        self.params = dict(params)
        self.diagnostics = list(diagnostics)
        self.path = path
        self._cost: Cost | None = None
        self._fields: dict | None = None
        self._emit: dict[bool, object] = {}  # inplace -> Emitted

    # ------------------------------------------------------------ facts
    @property
    def name(self) -> str:
        return self.graph.name

    @property
    def input_shape(self) -> tuple[int, ...]:
        return self.graph.input_type.dims

    @property
    def output_shape(self) -> tuple[int, ...]:
        return self.graph.output_type.dims

    @property
    def num_classes(self) -> int | None:
        return self.graph.num_classes

    @property
    def cost(self) -> Cost:
        if self._cost is None:
            self._cost = cost(self.graph)
        return self._cost

    @property
    def receptive_fields(self) -> dict:
        """Each node's receptive field (see cnndsl.passes.receptive_field), computed once."""
        if self._fields is None:
            self._fields = receptive_field(self.graph)
        return self._fields

    @property
    def params_count(self) -> int:
        return self.cost.params.total

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "warning"]

    def __repr__(self) -> str:
        return (f"<Network {self.name}: {self.graph.input_type} -> {self.graph.output_type}, "
                f"{len(self.graph) - 1} nodes, {self.params_count:,} params>")

    # ------------------------------------------------------------ outputs
    def dump_ir(self) -> str:
        """The IR, one deterministic line per node (what ``check --dump-ir`` shows)."""
        return self.graph.dump()

    @_without_gc
    def to_json(self) -> str:
        """The IR as JSON text: the graph's fields, then one node per line; versioned
        (``"format": "cnndsl-ir", "version": 1``, the schema in docs/ir-schema.json) and
        read back by :func:`from_json`.

        >>> data = json.loads(compile("input 1x28x28\\nconv(8, 3) - relu - fc(10)").to_json())
        >>> data["format"], data["version"], [n["op"] for n in data["nodes"]]
        ('cnndsl-ir', 1, ['input', 'conv', 'relu', 'flatten', 'fc'])
        """
        data = self.graph.to_json()
        head = {k: data.pop(k) for k in ("format", "version", "name")}
        data = {**head, "source_name": self.source_name, "preset": self.preset, **data}
        nodes = ",\n    ".join(json.dumps(n) for n in data.pop("nodes"))
        head = json.dumps(data, indent=2)[:-2]  # the fields, without the closing brace
        return f'{head},\n  "nodes": [\n    {nodes}\n  ]\n}}'

    @_without_gc
    def _emitted(self, inplace: bool = True):
        if inplace not in self._emit:
            from .backends.torch_source import emit
            self._emit[inplace] = emit(self.graph, self.source_name, self.params_count,
                                       inplace=inplace)
        return self._emit[inplace]

    def to_python(self, inplace: bool = True) -> str:
        """Standalone PyTorch source (imports torch only).

        ReLUs and residual adds run in place where nothing else reads their input, as
        in torchvision; a forward hook then sees a module's output before a later
        in-place operation overwrites it only if it copies it. ``inplace=False`` writes
        no in-place operation (for hooks that keep outputs; same values, more memory).
        """
        return self._emitted(inplace).source

    def module_paths(self) -> dict[str, str]:
        """For each node that owns a module, its path in :meth:`to_torch`'s model
        (``{"stage2_basic1_conv1": "stage2.basic1.conv1"}``)."""
        return dict(self._emitted().modules)

    def to_torch(self, inplace: bool = True):
        """A fresh ``torch.nn.Module``, built by executing :meth:`to_python`'s text
        once it has passed the generated-code allow-list (needs torch: without it,
        ``ModuleNotFoundError`` naming torch and how to install it)."""
        from .backends.torch_source import build
        source = self.to_python(inplace)
        try:
            import torch  # noqa: F401
        except ImportError as e:
            if (e.name or "").split(".")[0] != "torch":
                raise
            raise ModuleNotFoundError(
                "Network.to_torch needs torch, which is not installed: install the "
                "PyTorch build for your machine (see the README), e.g. pip install torch",
                name="torch") from None
        return build(source, self.name)

    @_without_gc
    def summary(self, **options):
        """Per-layer and total costs as Python objects (see cnndsl.report)."""
        from .report import summarize
        return summarize(self, **options)

    @_without_gc
    def to_dot(self, **options) -> str:
        """Graphviz DOT source of the network diagram (see cnndsl.draw)."""
        from .draw import to_dot
        return to_dot(self, **options)

    def draw(self, path, **options):
        """Render the diagram to ``path`` (.svg, .png, .pdf, .dot or .mmd)."""
        from .draw import draw
        return draw(self, path, **options)

    # ------------------------------------------------------------ notebooks
    def _repr_svg_(self) -> str | None:
        """The diagram as SVG text; None where Graphviz's ``dot`` is missing or fails."""
        from .draw import to_svg_or_none
        return to_svg_or_none(self)

    def _repr_html_(self) -> str:
        """What a notebook shows: the diagram (where ``dot`` runs) over a table of the
        top-level layers and block calls, with their params, MACs and output shapes
        (cnndsl.views.network_html).

        >>> net = compile("input 1x28x28\\nconv(8, 3) - relu - pool - fc(10)")
        >>> h = net._repr_html_()
        >>> h.startswith('<div class="cnndsl-network">'), ">conv1</td>" in h, ">15,770</th>" in h
        (True, True, True)
        """
        from .views import network_html
        return network_html(self.summary(depth=0), self._repr_svg_())

    def _repr_markdown_(self) -> str:
        """The table of the top-level layers and block calls, in Markdown.

        >>> print(compile("input 1x28x28\\nconv(8, 3) - relu - pool - fc(10)")._repr_markdown_())
        **network**: 1x28x28 -> 10
        <BLANKLINE>
        | layer | op | output | params | MACs |
        |---|---|---|--:|--:|
        | input | input 1x28x28 | 1x28x28 | 0 | 0 |
        | conv1 | 3x3 conv, 8 | 8x28x28 | 80 | 56,448 |
        | relu1 | relu | 8x28x28 | 0 | 0 |
        | pool1 | 2x2 max pool, /2 | 8x14x14 | 0 | 0 |
        | flatten1 | flatten | 1568 | 0 | 0 |
        | fc1 | FC 10 | 10 | 15,690 | 15,680 |
        | **total** | | 10 | 15,770 | 72,128 |
        """
        from .views import network_markdown
        return network_markdown(self.summary(depth=0))

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict[str, str]:
        """Every notebook form at once: IPython otherwise asks each ``_repr_*_`` method in
        turn, and ``dot`` would run twice (for the SVG and for the HTML)."""
        from .views import network_html, network_markdown
        s, svg = self.summary(depth=0), self._repr_svg_()
        bundle = {"text/plain": repr(self), "text/html": network_html(s, svg),
                  "text/markdown": network_markdown(s)}
        return bundle if svg is None else {**bundle, "image/svg+xml": svg}


def compile(source_or_path: str | os.PathLike, params: Mapping[str, Any] | None = None,
            input: str | tuple[int, ...] | None = None, strict: bool = False, *,
            limits: Limits | Mapping[str, int] | None = None,
            include: Iterable[str | os.PathLike] = (), preset: str | None = None) -> Network:
    """Compile ``.cnn`` source, a path to one, or a zoo name into a :class:`Network`.

    ``preset`` picks one of the file's ``preset`` lines (a zoo family member's name,
    such as ``efficientnet_b3``, picks its own); ``params`` binds network parameters
    over it (like ``--set``); ``input`` overrides the input
    shape (``"3x32x32"`` or a tuple); ``limits`` raises the bounds of
    :class:`~cnndsl.limits.Limits` (``{"nodes": 500_000}``); ``include`` adds folders
    imports may read (besides the file's own folder tree and the zoo). Raises
    :class:`CnnError` carrying every diagnostic when the input has errors (and for
    warnings under ``strict``).

    >>> compile("resnet18").params_count
    11689512
    >>> src = "network n(N=2, classes=10):\\n  input 3x32x32\\n  conv(16)*N - gap - fc(classes)"
    >>> compile(src, params={"N": 3}, input="3x64x64").graph.input_type.dims
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
                         params, input, strict, limits, preset or member)


def _compile_text(text: str, name: str, files: Files, key: str, from_file: bool,
                  params: Mapping[str, Any] | None, input, strict: bool,
                  limits: Limits, preset: str | None = None) -> Network:
    with paused_gc():
        try:
            program = parse(text, name, limits)
        except RecursionError:
            raise _too_deep() from None
    return compile_program(program, files, key, from_file, params, input, strict, limits,
                           preset)


def _too_deep() -> CnnError:
    return CnnError([Diagnostic("E0011", "the program is nested too deeply to compile", None,
                                help="flatten deeply nested brackets or blocks")])


def compile_program(program: ast.Program, files: Files, key: str, from_file: bool,
                    params: Mapping[str, Any] | None, input, strict: bool, limits: Limits,
                    preset: str | None = None) -> Network:
    """A parsed program to a :class:`Network` (a family's members share one parse)."""
    name = program.source.name
    in_type = _input_type(input)
    params = check_params(params)
    with paused_gc():
        try:
            el = Elaborator(program, params, in_type, limits=limits, files=files, key=key,
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
    net = Network(graph, program, name, params, sorted(diags, key=_order),
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


def load(path: str | os.PathLike, **kwargs) -> Network:
    """Compile the file at ``path`` (see :func:`compile` for the options).

    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "tiny.cnn"
    >>> _ = path.write_text("input 1x28x28\\nconv(8, 3) - relu - pool - fc(10)\\n")
    >>> load(path).params_count, load(path).path == str(path)
    (15770, True)
    """
    return compile(Path(path), **kwargs)


def loads(text: str, params: Mapping[str, Any] | None = None, input=None,
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
    return _compile_text(text, name, files, key, False, params, input, strict, limits,
                         preset)


def from_json(data: str | bytes | Mapping[str, Any]) -> Network:
    """A :class:`Network` from the IR as JSON (text, or its dict): what
    :meth:`Network.to_json` or ``cnndsl compile --emit ir-json`` wrote.

    The document is checked first (its format and version, the schema of
    docs/ir-schema.json, each node's operator and that its output type follows from its
    inputs); anything else raises :class:`UserError` naming the problem. The network has
    the graph, so costs, receptive fields, :meth:`~Network.summary`, drawing,
    :meth:`~Network.to_python` and :meth:`~Network.to_torch` work as for a compiled one.
    It has no source program: ``source`` is ``""``, ``program`` is an empty program (no
    blocks, ``program.network`` is None), ``blocks`` and ``imported`` are empty,
    ``diagnostics`` is ``[]`` and ``path`` is None; ``params`` are the bindings the
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
    """
    from . import ops
    from .diagnostics import Source, Span
    from .ir.graph import check_document

    doc = check_document(dict(data) if isinstance(data, Mapping) else data)
    graph = Graph.from_document(doc)
    for node in graph:
        op = ops.lookup(node.op)
        if op is None:
            hint = ops.did_you_mean(node.op)
            raise UserError(f"the IR's node {node.name} has an unknown operator "
                            f"`{node.op:.40}`", help=f"did you mean `{hint}`?" if hint else
                            "`cnndsl ops` lists the operators")
        types = [graph[i].type for i in node.inputs]
        try:
            out = op.infer(dict(node.attrs), types)
        except Exception:  # any failure of a rule on foreign data is the data's fault
            out = None
        if out != node.type:
            raise UserError(f"the IR's node {node.name} ({node.op}) does not give its "
                            f"type {node.type} from {', '.join(map(str, types)) or 'its attributes'}",
                            help="emit the IR again with cnndsl; do not edit types by hand")
    name = doc.get("source_name", "<ir>")
    src = Source(name, "")
    program = ast.Program(Span(src, 1, 1, 1, 1), src, (), (), None)
    return Network(graph, program, name, dict(graph.params), [], None,
                   preset=doc.get("preset"))


__all__ = ["CnnError", "Network", "compile", "from_json", "load", "loads", "parse_params",
           "render_all"]
