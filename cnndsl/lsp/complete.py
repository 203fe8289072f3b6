"""Completion: what may be written at the cursor, read from the text before it.

The text being typed rarely parses, so the context comes from a scan of the text up
to the cursor (brackets, strings, comments), and names from the section headers as
written plus the last good compile (blocks of imports and the prelude).

>>> doc = Doc("untitled:a", None, "input 3x32x32\\nconv(64, st")
>>> labels = [i.label for i in completion(doc, Pos(1, 11))]
>>> "stride" in labels and "pad" in labels and "relu" in labels
True
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from .. import ops
from ..elaborate import builtins
from ..elaborate.env import BUILTIN_DEFAULTS
from ..elaborate.imports import ZOO_DIR
from .analysis import IMPORT, Doc, Pos, Range, headers
from .features import block_signature

KEYWORDS = ("network", "block", "import", "input", "preset")
BLOCK_INPUTS = ("in_c", "in_h", "in_w")
# Keyword options of the built-in blocks that take any (cnndsl/elaborate/builtins.py).
BUILTIN_OPTIONS = {"residual": ("shortcut", "pre", "shortcut_first"),
                   "res": ("shortcut", "pre", "shortcut_first")}
# Values an argument of a kind takes besides numbers (cnndsl/elaborate/attrs.py).
KIND_VALUES = {"pad": ("auto", "same", "valid"), "bool": ("true", "false")}
SHORTCUTS = ("proj", "pad", "conv", "none", "identity")
MAX_FILES = 200


@dataclass(frozen=True)
class Item:
    label: str
    kind: str  # operator, builtin, block, parameter, argument, value, keyword, file
    detail: str = ""
    doc: str = ""
    insert: str | None = None
    edit: Range | None = None  # the text the item replaces (for a file name in a string)
    sort: str = "1"  # sorted by this, then by label


@dataclass
class _Open:
    char: str
    callee: str | None  # the name before a `(`
    arg_start: int  # where the current argument starts
    given: set[str] = field(default_factory=set)  # keyword arguments already written


def completion(doc: Doc, pos: Pos) -> list[Item]:
    lines = doc.lines
    line = lines[pos.line] if pos.line < len(lines) else ""
    prefix = "\n".join([*lines[: pos.line], line[: pos.col]])
    state, stack, start = _scan(prefix)
    if state == "comment":
        return []
    if state == "string":
        col = start - (len(prefix) - pos.col)
        if re.fullmatch(r"\s*import\s*", line[:col], re.IGNORECASE):
            return _files(doc, Range.at(pos.line, col + 1, pos.col))
        return []
    items: list[Item] = []
    top = stack[-1] if stack and stack[-1].char == "(" and stack[-1].callee else None
    if top is not None:
        m = re.match(r"\s*([^\W\d]\w*)\s*=(?!=)", prefix[top.arg_start:])
        items += (_values(top.callee, m.group(1)) if m else
                  _arguments(doc, top.callee, top.given))
    items += _names(doc, pos)
    if not stack and re.fullmatch(r"\w*", line[: pos.col]):
        items += [Item(k, "keyword", sort="2") for k in KEYWORDS]
    return items


def _scan(text: str) -> tuple[str, list[_Open], int]:
    """At the end of ``text``: in code, a comment or a string (and where it starts), and
    the brackets open there."""
    stack: list[_Open] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "#":
            j = text.find("\n", i)
            if j < 0:
                return "comment", stack, i
            i = j
        elif ch in "\"'":
            j, nl = text.find(ch, i + 1), text.find("\n", i + 1)
            if j < 0 and nl < 0:
                return "string", stack, i
            i = nl if j < 0 or 0 <= nl < j else j + 1
            continue
        elif ch in "([{":
            stack.append(_Open(ch, _name_before(text, i) if ch == "(" else None, i + 1))
        elif ch in ")]}":
            if stack:
                stack.pop()
        elif ch in ",|" and stack:
            stack[-1].arg_start = i + 1
        elif (ch == "=" and stack and text[i + 1: i + 2] != "="
              and text[i - 1: i] not in ("=", "<", ">", "!")):
            name = _name_before(text, i)
            if name:
                stack[-1].given.add(name)
        i += 1
    return "code", stack, -1


def _name_before(text: str, i: int) -> str | None:
    j = i
    while j > 0 and text[j - 1] in " \t":
        j -= 1
    k = j
    while k > 0 and (text[k - 1].isalnum() or text[k - 1] == "_"):
        k -= 1
    return text[k:j] if k < j and not text[k].isdigit() else None


def _default(attr: ops.Attr) -> str:
    d = attr.default
    if d is ops.REQUIRED:
        return "required"
    if callable(d):
        return "from the network's defaults"
    return "x".join(map(str, d)) if isinstance(d, tuple) else str(d)


def _arguments(doc: Doc, callee: str, given: set[str]) -> list[Item]:
    """The keyword arguments of the operator or block called, less those given."""
    op = ops.lookup(callee)
    if op is not None:
        return [Item(a.name, "argument", f"{a.name}: {a.kind} = {_default(a)}", a.doc,
                     insert=f"{a.name}=", sort="0")
                for a in op.attrs if a.positional and a.name not in given]
    options = BUILTIN_OPTIONS.get(callee.lower(), ())
    block = _blocks(doc).get(callee.lower())
    if block is not None:
        options = tuple(p.split("=", 1)[0].strip() for p in block[1])
    return [Item(o, "argument", insert=f"{o}=", sort="0") for o in options if o not in given]


def _values(callee: str, name: str) -> list[Item]:
    op = ops.lookup(callee)
    attr = op.attr(name) if op is not None else None
    values: tuple[str, ...] = ()
    if attr is not None:
        values = attr.choices or KIND_VALUES.get(attr.kind, ())
    elif callee.lower() in BUILTIN_OPTIONS and name == "shortcut":
        values = SHORTCUTS
    return [Item(v, "value", sort="0") for v in values]


def _blocks(doc: Doc) -> dict[str, tuple[str, tuple[str, ...], str, str]]:
    """Every block the document may call: name -> (name, params, signature, where)."""
    out: dict[str, tuple[str, tuple[str, ...], str, str]] = {}
    for line in doc.lines:  # imports read now: the text may never have compiled
        m = IMPORT.match(line)
        path = doc.current.resolve(m.group(2)) if m else None
        for h in headers(_read(path)) if path else ():
            if h.kind == "block":
                out[h.name.lower()] = (h.name, h.params, f"block {h.name}({', '.join(h.params)})",
                                       m.group(2))
    a = doc.best
    for key, b in (a.net.blocks.items() if a is not None else ()):
        where = b.span.source.name
        params = tuple(p.name + (f"={p.default.text}" if p.default is not None else "")
                       for p in b.params)
        out[key] = (b.name, params, block_signature(b), "this file" if where == a.name
                    else where)
    for h in headers(doc.text):
        if h.kind == "block":
            out[h.name.lower()] = (h.name, h.params, f"block {h.name}({', '.join(h.params)})",
                                   "this file")
    return out


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


def _names(doc: Doc, pos: Pos) -> list[Item]:
    """Layers, blocks and the parameters in scope at ``pos``."""
    from ..commands.ops import _sig  # the signature `cnndsl ops` prints

    items = []
    for op in ops.all_ops():
        if op.family == "io":
            continue
        items.append(Item(op.name, "operator", _sig(op), op.doc))
        items += [Item(alias, "operator", f"{alias}: {op.name}", op.doc, sort="3")
                  for alias in op.aliases]
    known = {n.lower() for n in ops.names()}
    items += [Item(n, "builtin", "built-in block", sort="2") for n in builtins.names()
              if n not in known]
    for name, _, sig, where in _blocks(doc).values():
        items.append(Item(name, "block", sig, f"defined in {where}"))
    hs = headers(doc.text)
    params = dict.fromkeys(BUILTIN_DEFAULTS)
    for h in hs:
        if h.kind == "network":
            params.update(dict.fromkeys(h.param_names))
    section = next((h for h in reversed(hs) if h.line <= pos.line), None)
    if section is not None and section.kind == "block":
        params.update(dict.fromkeys([*section.param_names, *BLOCK_INPUTS]))
    for line in doc.lines:
        m = re.match(r"\s*([^\W\d]\w*)\s*=(?!=)", line)
        if m and not re.match(r"(block|network|preset)\b", m.group(1), re.IGNORECASE):
            params[m.group(1)] = None
    items += [Item(p, "parameter", "parameter", sort="0") for p in params if p]
    return items


def _files(doc: Doc, edit: Range) -> list[Item]:
    """Files an import may name: the zoo's libraries and the .cnn files near this one."""
    found = [f"lib/{p.name}" for p in sorted((ZOO_DIR / "lib").glob("*.cnn"))]
    items = [Item(f, "file", "zoo library", insert=f, edit=edit) for f in found]
    here: Path | None = doc.path.parent if doc.path else doc.base
    if here is not None and here.is_dir():
        near = sorted(p for pat in ("*.cnn", "*/*.cnn") for p in here.glob(pat)
                      if p != doc.path)[:MAX_FILES]
        items += [Item(p.relative_to(here).as_posix(), "file", insert=p.relative_to(
            here).as_posix(), edit=edit, sort="0") for p in near]
    return items
