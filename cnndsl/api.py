"""The public API: compile source (or a file, or a zoo name) into a :class:`Network`.

>>> net = compile("input 1x28x28\\nconv(8, 3) - relu - pool - fc(10)")
>>> net.output_shape, net.params_count
((10,), 15770)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .diagnostics import CnnError, Diagnostic, UserError, apply_allow_comments, render_all
from .elaborate import Elaborator
from .ir.graph import Graph, TensorType
from .passes.check import check
from .passes.cost import Cost, cost
from .syntax import ast
from .syntax.parser import parse

ZOO_DIR = Path(__file__).resolve().parent / "zoo"


def zoo_path(name: str) -> Path | None:
    """The zoo file for ``name`` (``resnet50`` or ``resnet50.cnn``), if there is one."""
    stem = name[:-4] if name.endswith(".cnn") else name
    if not stem or "/" in stem or "\\" in stem:
        return None
    p = ZOO_DIR / f"{stem.lower()}.cnn"
    return p if p.is_file() else None


def read_source(source_or_path: str | Path) -> tuple[str, str, Path | None]:
    """(text, display name, base directory) for a path, a zoo name or source text.

    A one-line string naming an existing file, or ending in ``.cnn``, is a path (a
    missing one is a usage error); a zoo name is the zoo file; anything else is source.
    """
    if isinstance(source_or_path, Path):
        return _read_file(source_or_path)
    text = source_or_path
    one_line = "\n" not in text and len(text) < 4096
    if one_line:
        stripped = text.strip()
        if stripped and Path(stripped).is_file():
            return _read_file(Path(stripped))
        zp = zoo_path(stripped)
        if zp is not None:
            return zp.read_text(encoding="utf-8"), f"zoo/{zp.name}", zp.parent
        if stripped.lower().endswith(".cnn"):
            raise UserError(f"no such file: {stripped}", help="give a path to a .cnn file, "
                            "a zoo name (see `cnndsl zoo list`), or source text", exit_code=2)
    return text, "<input>", None


def _read_file(path: Path) -> tuple[str, str, Path | None]:
    if not path.is_file():
        raise UserError(f"no such file: {path}", exit_code=2)
    try:
        return path.read_text(encoding="utf-8"), str(path), path.resolve().parent
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"cannot read {path}: {e}", exit_code=2) from None


def parse_params(items: list[str] | None) -> dict[str, Any]:
    """``["N=2", "act=relu", "pool?=off"]`` to ``{"N": 2, "act": "relu", "pool?": False}``."""
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
            return conv(v)
        except ValueError:
            pass
    return v


class Network:
    """A compiled network: its IR graph plus everything derived from it."""

    def __init__(self, graph: Graph, program: ast.Program, source_name: str,
                 params: dict[str, Any], diagnostics: list[Diagnostic], path: str | None):
        self.graph = graph
        self.program = program
        self.source = program.source.text
        self.source_name = source_name
        self.params = dict(params)
        self.diagnostics = list(diagnostics)
        self.path = path
        self._cost: Cost | None = None
        self._emit = None

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
        return self.graph.dump()

    def to_json(self) -> str:
        return json.dumps(self.graph.to_json(), indent=2)

    def _emitted(self):
        if self._emit is None:
            from .backends.torch_source import emit
            self._emit = emit(self.graph, self.source_name, self.params_count)
        return self._emit

    def to_python(self) -> str:
        """Standalone PyTorch source (imports torch only)."""
        return self._emitted().source

    def module_paths(self) -> dict[str, str]:
        """For each node that owns a module, its path in :meth:`to_torch`'s model
        (``{"stage2_basic1_conv1": "stage2.basic1.conv1"}``)."""
        return dict(self._emitted().modules)

    def to_torch(self):
        """A fresh ``torch.nn.Module``, built by executing :meth:`to_python`'s text
        once it has passed the generated-code allow-list."""
        from .backends.torch_source import build
        return build(self.to_python(), self.name)

    def summary(self, **options):
        """Per-layer and total costs as Python objects (see cnndsl.report)."""
        from .report import summarize
        return summarize(self, **options)

    def to_dot(self, **options) -> str:
        """Graphviz DOT source of the network diagram (see cnndsl.draw)."""
        from .draw import to_dot
        return to_dot(self, **options)

    def draw(self, path, **options):
        """Render the diagram to ``path`` (.svg, .png, .pdf, .dot or .mmd)."""
        from .draw import draw
        return draw(self, path, **options)

    def _repr_svg_(self):  # Jupyter shows a Network as its diagram
        from .draw import to_svg_or_none
        return to_svg_or_none(self)


def compile(source_or_path: str | Path, params: dict[str, Any] | None = None,
            input: str | tuple[int, ...] | None = None, strict: bool = False) -> Network:
    """Compile ``.cnn`` source, a path to one, or a zoo name into a :class:`Network`.

    ``params`` binds network parameters (like ``--set``); ``input`` overrides the input
    shape (``"3x32x32"`` or a tuple). Raises :class:`CnnError` carrying every
    diagnostic when the input has errors (and for warnings under ``strict``).
    """
    text, name, base = read_source(source_or_path)
    return _compile_text(text, name, base, params, input, strict)


def _compile_text(text: str, name: str, base: Path | None, params: dict[str, Any] | None,
                  input, strict: bool) -> Network:
    in_type = _input_type(input)
    try:
        program = parse(text, name)
        el = Elaborator(program, params or {}, in_type, base)
        graph = el.run()
    except RecursionError:
        raise CnnError([Diagnostic("E0011", "the program is nested too deeply to compile",
                                   None, help="flatten deeply nested brackets or blocks")]
                       ) from None
    diags = list(el.diags)
    if graph is not None:
        diags += check(graph)
    diags = list(dict.fromkeys(apply_allow_comments(diags)))  # one of each (same code, place)
    if strict:
        diags = [d.as_error() for d in diags]
    if graph is None or any(d.is_error for d in diags):
        raise CnnError(sorted(diags, key=_order))
    path = name if base is not None else None
    return Network(graph, program, name, params or {}, sorted(diags, key=_order), path)


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
            return TensorType(tuple(int(v) for v in value))
        return TensorType.parse(str(value))
    except (ValueError, TypeError):
        raise UserError(f"bad input shape {value!r}", help="write CxHxW, e.g. 3x224x224, "
                        "or F for a vector", exit_code=2) from None


def load(path: str | Path, **kwargs) -> Network:
    return compile(Path(path), **kwargs)


def loads(text: str, params: dict[str, Any] | None = None, input=None, strict: bool = False,
          name: str = "<input>") -> Network:
    """Compile source text (never looked up as a path or zoo name)."""
    return _compile_text(text, name, None, params, input, strict)


__all__ = ["CnnError", "Network", "compile", "load", "loads", "parse_params", "render_all"]
