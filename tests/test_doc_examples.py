"""The Python examples of the README and docs/ run as shown.

Every ```python block runs, in a fresh folder, in one namespace per page (a page's later
block may use an earlier one's names and files). A block of ``>>>`` lines runs as a
doctest. A line ``expression  # value`` whose value is a Python literal is checked:
the expression must equal it (``net.params_count  # 114090``); so is an expression line
followed by a comment line holding the literal. A block preceded by an HTML comment
``<!-- example not run by the tests: why -->`` is skipped, and says why.
"""

from __future__ import annotations

import ast
import doctest
import os
import re
import shutil
from pathlib import Path

import pytest

from .conftest import needs_torch

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"(?:<!-- (example not run by the tests: [^>]*) -->\n)?```python\n(.*?)```",
                   re.S)


def blocks(page: Path) -> list[tuple[str, str | None]]:
    """(code, reason not run) of each Python block of ``page``."""
    return [(m.group(2), m.group(1)) for m in BLOCK.finditer(page.read_text())]


def claims(code: str) -> list[tuple[str, object]]:
    """(expression, literal) pairs the block states in its comments."""
    out = []
    lines = code.splitlines()
    for i, line in enumerate(lines):
        expr, _, comment = line.partition("  #")
        if not comment and line.startswith("# ") and i and lines[i - 1].strip():
            expr, comment = lines[i - 1], line[1:]
        try:
            value = ast.literal_eval(comment.strip())
            ast.parse(expr.strip(), mode="eval")
        except (ValueError, SyntaxError):
            continue
        if expr.strip() and not expr.startswith("#"):
            out.append((expr.strip(), value))
    return out


PAGES_WITH_CODE = [p for p in PAGES if blocks(p)]


def test_the_pages_have_examples_and_the_skips_say_why():
    found = {p.name: len(blocks(p)) for p in PAGES_WITH_CODE}
    assert {"README.md", "training.md", "diagrams.md", "cost.md"} <= set(found)
    for page in PAGES_WITH_CODE:
        for _, why in blocks(page):
            assert why is None or len(why) > len("example not run by the tests: ") + 10


@needs_torch
@pytest.mark.parametrize("page", PAGES_WITH_CODE, ids=[p.name for p in PAGES_WITH_CODE])
def test_examples_run_as_shown(page, tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot is not installed")
    monkeypatch.chdir(tmp_path)
    os.symlink(ROOT / "zoo", tmp_path / "zoo")  # examples name zoo/ files from the root
    namespace: dict = {}
    for code, why in blocks(page):
        if why:
            continue
        if code.lstrip().startswith(">>>"):
            test = doctest.DocTestParser().get_doctest(code, namespace, page.name, str(page), 0)
            runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
            runner.run(test, out=lambda text: None)
            assert runner.failures == 0, f"{page.name}: a doctest fails"
            continue
        exec(compile(code, str(page), "exec"), namespace)
        for expr, value in claims(code):
            got = eval(expr, namespace)
            assert got == value, f"{page.name}: {expr} is {got!r}, the page says {value!r}"


def transcripts() -> list[tuple[str, str, list[str]]]:
    """(page, command, the output lines shown under it) of each ``$ cnndsl ...`` line."""
    out = []
    for page in PAGES:
        for block in re.findall(r"```[a-z]*\n(.*?)```", page.read_text(), re.S):
            lines = block.splitlines()
            for i, line in enumerate(lines):
                if line.startswith("$ cnndsl "):
                    shown = []
                    for after in lines[i + 1:]:
                        if after.startswith("$ "):
                            break
                        shown.append(after)
                    out.append((page.name, line[2:], [s for s in shown if s.strip()]))
    return out


TRANSCRIPTS = transcripts()


def test_transcripts_are_found():
    assert any(cmd.startswith("cnndsl check zoo/vgg16.cnn") for _, cmd, _ in TRANSCRIPTS)


@pytest.mark.parametrize("page,command,shown", TRANSCRIPTS,
                         ids=[f"{p}:{c[:40]}" for p, c, _ in TRANSCRIPTS])
def test_commands_print_what_the_pages_show(page, command, shown, tmp_path, monkeypatch,
                                            capsys):
    import shlex

    from cnndsl.cli import main

    monkeypatch.chdir(tmp_path)
    os.symlink(ROOT / "zoo", tmp_path / "zoo")
    args = shlex.split(command, comments=True)[1:]
    assert main(args) == 0, f"{page}: `{command}` failed"
    printed = capsys.readouterr().out.splitlines()
    for line in shown:
        assert line in printed, f"{page}: `{command}` no longer prints {line!r}"
