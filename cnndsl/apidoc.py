"""The public API as data: docs/api.md is generated from the docstrings of the names in
``cnndsl.__all__`` (``python -m cnndsl.apidoc docs/api.md``), and
tests/data/api_snapshot.json records their signatures
(``python -m cnndsl.apidoc --snapshot tests/data/api_snapshot.json``); docs/ir-schema.json
is the IR's schema (``python -m cnndsl.apidoc --schema docs/ir-schema.json``), and
docs/ir-schema-v1.json the schema of the format's version 1, which cnndsl still reads
(``--schema-v1 docs/ir-schema-v1.json``). Tests check that all of them are up to date,
so a change to the public API is always a deliberate one.

Reading ``export`` and ``load_run`` imports torch.

>>> snap = snapshot()
>>> snap["names"]["parse_bindings"]
'(items: list[str] | None) -> dict[str, Any]'
>>> snap["Network"]["to_json"], snap["Network"]["source"]
('(self) -> str', 'attribute')
"""

from __future__ import annotations

import inspect
import json
import re
import sys
import types
from typing import Any

TITLE = "# The Python API"
INTRO = """\
<!-- generated from the docstrings by cnndsl/apidoc.py: python -m cnndsl.apidoc docs/api.md -->

Every name in `cnndsl.__all__`, with its signature and its docstring; each example runs as
a doctest. Names not listed here (the submodules, `cnndsl.api`'s helpers) may change
between versions; these change only deliberately (tests/data/api_snapshot.json).
The package is typed (`py.typed`) and imports without torch: torch is loaded only by
`Network.to_torch`, `port_weights`, `train`, `export` and `load_run`.
"""


# tests/test_doc_examples.py runs a page's Python blocks; these run elsewhere, or not at all
DOCTEST = "<!-- example not run by the tests: it runs as a doctest of its module -->"
SIGNATURE = "<!-- example not run by the tests: a signature -->"


class _Text:
    """An annotation shown as written (``str | None``, not ``'str | None'``)."""

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text


def public() -> dict[str, Any]:
    """The public names, sorted, to the objects they are (``train``: its function,
    which the callable module ``cnndsl.train`` runs)."""
    import cnndsl
    return {name: target(name) for name in sorted(cnndsl.__all__)}


def target(name: str) -> Any:
    """The object a public name documents (``train``: the callable module's function)."""
    import cnndsl
    obj = getattr(cnndsl, name)
    return getattr(obj, name) if isinstance(obj, types.ModuleType) else obj


def signature(obj: Any) -> str:
    """``inspect.signature``'s text, annotations shown as written."""
    sig = inspect.signature(obj)

    def plain(a: Any) -> Any:
        return _Text(a) if isinstance(a, str) else a
    params = [p.replace(annotation=plain(p.annotation)) for p in sig.parameters.values()]
    return str(sig.replace(parameters=params, return_annotation=plain(sig.return_annotation)))


def network_members() -> dict[str, str]:
    """``Network``'s public methods (their signatures), properties and attributes."""
    from .api import Network, compile
    out: dict[str, str] = {}
    for name, member in vars(Network).items():
        if name.startswith("_"):
            continue
        if isinstance(member, property):
            out[name] = "property"
        elif callable(member):
            out[name] = signature(member)
    net = compile("input 1x8x8\nfc(2)")
    for name in vars(net):
        if not name.startswith("_"):
            out.setdefault(name, "attribute")
    return dict(sorted(out.items()))


def snapshot() -> dict[str, Any]:
    """Each public name's signature (a class's: its constructor's), and ``Network``'s
    members."""
    return {"names": {n: signature(o) for n, o in public().items()},
            "Network": network_members()}


# -- docs/api.md -----------------------------------------------------------------------

_ROLE = re.compile(r":(?:func|class|meth|mod|attr|data|exc):`~?([^`]+)`")


def _markdown(doc: str) -> str:
    """A docstring as Markdown: doctest runs become ```python blocks, ``x`` becomes
    `x`, Sphinx roles their name."""
    out: list[str] = []
    code = False
    for line in doc.splitlines():
        starts = line.startswith(">>>")
        if starts and not code:
            out += [DOCTEST, "```python"]
            code = True
        elif code and not line.strip():
            out.append("```")
            code = False
        if not code:
            line = _ROLE.sub(lambda m: f"`{m.group(1).split('.')[-1]}`", line)
            line = line.replace("``", "`")
        out.append(line)
    if code:
        out.append("```")
    return "\n".join(out)


def _section(level: str, title: str, sig: str | None, doc: str | None) -> list[str]:
    lines = [f"{level} {title}", ""]
    if sig is not None:
        lines += [SIGNATURE, "```python", sig, "```", ""]
    if doc:
        lines += [_markdown(doc), ""]
    return lines


def render() -> str:
    """docs/api.md's text."""
    import cnndsl

    from .api import Network
    lines = [TITLE, "", INTRO]
    for name, obj in public().items():
        owner = getattr(cnndsl, name)
        doc = inspect.getdoc(obj)
        if isinstance(owner, types.ModuleType):  # cnndsl.train: the module's doc first
            doc = f"{inspect.getdoc(owner)}\n\n{doc}"
        lines += _section("##", f"`cnndsl.{name}`", f"cnndsl.{name}{signature(obj)}", doc)
        if obj is Network:
            for member, kind in network_members().items():
                value = getattr(Network, member, None)
                text = None if kind == "attribute" else inspect.getdoc(value)
                sig = None if kind in ("attribute", "property") else \
                    f"Network.{member}{kind}"
                lines += _section("###", f"`Network.{member}`" +
                                  (f" ({kind})" if sig is None else ""), sig, text)
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] in ("--snapshot", "--schema", "--schema-v1"):
        from .ir import schema
        text = json.dumps(snapshot(), indent=2) + "\n" if argv[0] == "--snapshot" \
            else schema.text(1 if argv[0] == "--schema-v1" else schema.VERSION)
        with open(argv[1], "w", encoding="utf-8") as f:
            f.write(text)
        return 0
    if len(argv) == 1 and not argv[0].startswith("-"):
        with open(argv[0], "w", encoding="utf-8") as f:
            f.write(render())
        return 0
    print("usage: python -m cnndsl.apidoc docs/api.md | --snapshot FILE.json | "
          "--schema FILE.json | --schema-v1 FILE.json",
          file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
