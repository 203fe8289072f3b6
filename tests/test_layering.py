"""One-way layering: no import cycle among cnndsl's modules, short modules, and the
static paths never import torch.

The import graph is read from the source with ``ast``: an ``import`` or ``from`` at
module level (including inside ``try``/``if``) is an edge; one inside a function is a
deferred edge, reported apart; one under ``if TYPE_CHECKING:`` is for typing only and
no edge at all.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "cnndsl"
MAX_LINES = 400
# Modules over MAX_LINES: this set must only shrink; take a module off once it is short.
TOO_LONG: set[str] = set()
# Deferred (function-level) imports that close a cycle, each with its reason.
DEFERRED_CYCLES: dict[tuple[str, str], str] = {
    ("cnndsl.views", "cnndsl.report"): "report's Summary is built on views.SummaryViews "
    "(a module-level import); the views run report's formatters when called",
    ("cnndsl.ops.registry", "cnndsl.plugins"): "plugins register operators in the registry "
    "(a module-level import); the registry loads them on the first question asked of it",
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _resolve(module: str, is_package: bool, node: ast.ImportFrom | ast.Import) -> list[str]:
    """The cnndsl modules an import statement loads (a ``from X import name`` of a
    submodule counts as that submodule)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.split(".")[0] == "cnndsl"]
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    if target.split(".")[0] != "cnndsl":
        return []
    out = []
    for a in node.names:
        sub = f"{target}.{a.name}"
        out.append(sub if sub in MODULES else target)
    return out


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def import_graph() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(module-level edges, deferred edges), module -> the cnndsl modules it imports."""
    top: dict[str, set[str]] = {m: set() for m in MODULES}
    deferred: dict[str, set[str]] = {m: set() for m in MODULES}
    for module, path in MODULES.items():
        is_package = path.name == "__init__.py"

        def visit(node: ast.AST, in_function: bool, module=module, is_package=is_package):
            if isinstance(node, ast.If) and _is_type_checking(node.test):
                for child in node.orelse:
                    visit(child, in_function)
                return
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                targets = [t for t in _resolve(module, is_package, node)
                           if t in MODULES and t != module]
                (deferred if in_function else top)[module].update(targets)
                return
            inner = in_function or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                     ast.Lambda))
            for child in ast.iter_child_nodes(node):
                visit(child, inner)

        visit(ast.parse(path.read_text(encoding="utf-8")), False)
    # importing a.b.c runs a/__init__ and a/b/__init__ first
    for module in MODULES:
        for edges in (top, deferred):
            for t in list(edges[module]):
                tp = t.split(".")
                edges[module].update(".".join(tp[:i]) for i in range(1, len(tp))
                                     if ".".join(tp[:i]) != module
                                     and not module.startswith(".".join(tp[:i]) + "."))
    return top, deferred


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            strong(v)
    return out


def _describe(comps: list[list[str]], edges: dict[str, set[str]]) -> str:
    lines = []
    for comp in comps:
        inside = set(comp)
        lines.append("cycle among: " + ", ".join(comp))
        lines += [f"    {a} -> {b}" for a in comp for b in sorted(edges[a] & inside)]
    return "\n".join(lines)


def test_no_import_cycle_among_module_level_imports():
    top, _ = import_graph()
    found = cycles(top)
    assert not found, "module-level import cycles:\n" + _describe(found, top)


def test_deferred_imports_close_no_cycle_but_the_listed_ones():
    top, deferred = import_graph()
    closing = set()
    for a, targets in deferred.items():
        for b in targets:
            both = {k: set(v) for k, v in top.items()}
            both[a].add(b)
            if any(a in c and b in c for c in cycles(both)):
                closing.add((a, b))
    unexplained = sorted(closing - DEFERRED_CYCLES.keys())
    assert not unexplained, "function-level imports that close a cycle (move the code, or " \
        "list them in DEFERRED_CYCLES with a reason):\n" + "\n".join(
            f"    {a} -> {b}" for a, b in unexplained)
    assert not DEFERRED_CYCLES.keys() - closing, "DEFERRED_CYCLES lists a cycle that is gone"


def test_the_graph_reader_sees_the_known_edges():
    top, deferred = import_graph()
    assert "cnndsl.diagnostics" in top["cnndsl.ir.graph"]
    assert "cnndsl.report" in deferred["cnndsl.network"]  # Network.summary
    assert "cnndsl.api" not in top["cnndsl.draw.calls"]  # under TYPE_CHECKING only


def test_no_module_is_longer_than_the_budget():
    long = {str(p.relative_to(ROOT)): len(p.read_text(encoding="utf-8").splitlines())
            for p in MODULES.values()}
    over = {k for k, n in long.items() if n > MAX_LINES}
    assert over <= TOO_LONG, f"modules over {MAX_LINES} lines: " + ", ".join(
        f"{k} ({long[k]})" for k in sorted(over - TOO_LONG))


STATIC = ["cnndsl", "cnndsl.api", "cnndsl.family", "cnndsl.lint", "cnndsl.commands.check"]


@pytest.mark.parametrize("module", STATIC)
def test_the_static_paths_never_import_torch(module):
    code = (f"import sys, importlib; importlib.import_module({module!r}); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'torch'))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]", f"importing {module} imports torch"
