"""A grammar-aware mutation fuzzer for the static compiler.

The contract under test: for any text, ``cnndsl.loads`` and, on the network it returns,
``summary()``, ``cost``, ``to_python()``, ``to_dot()``, ``dump_ir()`` and ``to_json()``
succeed or raise :class:`cnndsl.CnnError` / :class:`cnndsl.UserError`, never anything
else, within 1 s and 200 MB a case.

Seeds are the zoo files, cut into tokens by :data:`TOKEN_RE` (the token kinds of
``cnndsl/grammars/cnn.lark``; joining the tokens gives the text back). Case ``i`` of seed
``s`` is drawn from ``random.Random(f"{s}:{i}")`` alone, so any case can be replayed by
its index (:func:`case`). :func:`run_case` (runner.py) runs one case and classifies it.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cnndsl
from cnndsl.api import ZOO_DIR

from .runner import MEMORY_BYTES, SLOW_S, Outcome, run_case  # noqa: F401  (the fuzzer's API)

TOKEN_RE = re.compile(r"""
  (?P<comment>\#[^\n]*)
| (?P<cont>\\[ \t]*\r?\n)
| (?P<nl>\r?\n)
| (?P<ws>[ \t\f\r]+)
| (?P<string>"[^"\n]*"|'[^'\n]*')
| (?P<shape>\d+(?:[x×]\d+)+\b)
| (?P<float>\d+\.\d*(?:[eE][-+]?\d+)?|\d+[eE][-+]?\d+|\.\d+(?:[eE][-+]?\d+)?)
| (?P<int>\d+)
| (?P<name>[^\W\d]\w*)
| (?P<op>->|→|//|[-+,*×/%|?=:])
| (?P<open>[(\[{])
| (?P<close>[)\]}])
| (?P<other>.)
""", re.VERBOSE | re.DOTALL)

Token = tuple[str, str]  # (kind, text)
LAYOUT = {"ws", "comment", "nl", "cont"}

BIG = "9" * 5000  # a 5,000-digit integer (beyond Python's default int-str limit)
EDGE_NUMBERS = ["0", "1", "-1", "2", "3", "7", "255", "256", "1000", str(10**6), str(10**9),
                str(2**31), str(2**63), str(10**20), "99999999999999999999", "1e308",
                "1e309", "0.5", "1e-320", BIG]
ODD_NAMES = ["ｃｏｎｖ", "ｒｅｌｕ", "½", "сonv", "rеlu", "None", "True", "f", "F", "torch",
             "self", "nn", "__init__", "__class__", "lambda", "forward", "x" * 300]
KEYWORDS = ["network", "block", "input", "import", "as", "if", "id", "true", "false", "on",
            "off", "yes", "no", "repeat_index", "in_c", "in_h", "in_w", "floor", "ceil",
            "round", "int", "abs", "min", "max", "make_divisible", "channels", "hidden",
            "classes", "auto", "same", "valid", "proj", "pad", "conv", "none", "identity",
            "nearest", "bilinear", "shortcut", "pre", "aux", "residual", "concat"]
CONTROL = ["\r", "\x1b", "\x00", "\u2028", "\u202e", "\x0b", "\x0c", "\ufeff", "\x85", "\\"]
STRINGS = ['"x"', "'x'", '"""x"""', "'''", '"', "'", '""', '"a\'b"', '"nearest"',
           '"lib/resnet.cnn"', '"' + "s" * 5000 + '"']
IMPORT_PATHS = ["lib/resnet.cnn", "resnet18.cnn", "lib", "", ".", "/", "/etc/passwd",
                "/proc/self/status", "/dev/zero", "../README.md", "../data/digits.csv.gz",
                "lib/../../prelude.cnn", "a\x00b", "x" * 5000, "ｌｉｂ/resnet.cnn", "lib/*.cnn"]


def tokenize(text: str) -> list[Token]:
    return [(m.lastgroup or "other", m.group()) for m in TOKEN_RE.finditer(text)]


def untokenize(tokens: list[Token]) -> str:
    return "".join(t for _, t in tokens)


def vocabulary() -> list[str]:
    """Names a program may use: operators and aliases, their argument names, built-in and
    prelude blocks, keywords."""
    words = set(KEYWORDS)
    try:  # internals may move while the compiler changes; the keywords suffice then
        from cnndsl import ops
        from cnndsl.elaborate import builtins
        words.update(ops.names())
        words.update(a.name for op in ops.all_ops() for a in op.attrs)
        words.update(builtins.names())
    except (ImportError, AttributeError):
        pass
    prelude = Path(cnndsl.__file__).with_name("prelude.cnn")
    if prelude.is_file():
        words.update(re.findall(r"(?m)^block\s+(\w+)", prelude.read_text(encoding="utf-8")))
    return sorted(words)


@dataclass
class Corpus:
    """The seed programs and what mutations draw from."""

    files: dict[str, str]  # name -> text
    tokens: dict[str, list[Token]] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)

    @classmethod
    def zoo(cls) -> Corpus:
        paths = sorted(ZOO_DIR.glob("*.cnn")) + sorted((ZOO_DIR / "lib").glob("*.cnn"))
        files = {str(p.relative_to(ZOO_DIR)): p.read_text(encoding="utf-8") for p in paths}
        c = cls(files)
        c.tokens = {k: tokenize(v) for k, v in files.items()}
        c.lines = [ln for v in files.values() for ln in v.splitlines()
                   if ln.strip() and not ln.lstrip().startswith("#")]
        c.names = vocabulary()
        return c


# ---------------------------------------------------------------- mutations
# Each takes (rng, tokens, corpus), edits tokens in place, and says what it did
# (None: not applicable to these tokens).
Mutation = Callable[[random.Random, list[Token], Corpus], "str | None"]


def _pick(rng: random.Random, toks: list[Token], kinds: set[str] | None = None) -> int | None:
    idx = [i for i, (k, _) in enumerate(toks) if (k in kinds if kinds else k not in LAYOUT)]
    return rng.choice(idx) if idx else None


def m_number(rng: random.Random, toks: list[Token], corpus: Corpus) -> str | None:
    i = _pick(rng, toks, {"int", "float", "shape"})
    if i is None:
        return None
    kind, old = toks[i]
    new = rng.choice(EDGE_NUMBERS)
    if kind == "shape" and rng.random() < 0.7:  # one dimension of CxHxW
        dims = re.split("[x×]", old)
        dims[rng.randrange(len(dims))] = new.lstrip("-").split(".")[0].split("e")[0] or "0"
        new = "x".join(dims)
    toks[i] = ("shape" if "x" in new else "int", new)
    return f"number {old!r} -> {new[:24]!r}"


def m_delete(rng: random.Random, toks: list[Token], corpus: Corpus) -> str | None:
    i = _pick(rng, toks)
    if i is None:
        return None
    return f"delete {toks.pop(i)[1]!r}"


def m_duplicate(rng: random.Random, toks: list[Token], corpus: Corpus) -> str | None:
    i = _pick(rng, toks)
    if i is None:
        return None
    span = toks[i:i + rng.choice([1, 1, 2, 3, 5])]
    times = rng.choice([1, 1, 2, 10])
    toks[i:i] = span * times
    return f"duplicate {untokenize(span)[:30]!r} x{times}"


def m_swap(rng: random.Random, toks: list[Token], corpus: Corpus) -> str | None:
    sig = [i for i, (k, _) in enumerate(toks) if k not in LAYOUT]
    if len(sig) < 2:
        return None
    j = rng.randrange(len(sig) - 1)
    a, b = sig[j], sig[j + 1]
    toks[a], toks[b] = toks[b], toks[a]
    return f"swap {toks[b][1]!r} {toks[a][1]!r}"


def m_rename(rng: random.Random, toks: list[Token], corpus: Corpus) -> str | None:
    i = _pick(rng, toks, {"name"})
    if i is None:
        return None
    new = rng.choice(ODD_NAMES) if rng.random() < 0.3 else rng.choice(corpus.names)
    old = toks[i][1]
    toks[i] = ("name", new)
    return f"name {old!r} -> {new[:20]!r}"


def m_bracket(rng: random.Random, toks: list[Token], corpus: Corpus) -> str | None:
    i = rng.randrange(len(toks) + 1)
    r = rng.random()
    if r < 0.5:
        b = rng.choice("()[]{}")
        toks.insert(i, ("open" if b in "([{" else "close", b))
        return f"insert {b!r}"
    j = min(len(toks), i + rng.randrange(1, 8))
    depth = 1 if r < 0.9 else rng.choice([50, 500, 3000])
    o, c = rng.choice(["()", "[]", "{}"])
    toks[j:j] = [("close", c)] * depth
    toks[i:i] = [("open", o)] * depth
    return f"wrap in {o}{c} x{depth}"


def m_control(rng: random.Random, toks: list[Token], corpus: Corpus) -> str | None:
    ch = rng.choice(CONTROL)
    toks.insert(rng.randrange(len(toks) + 1), ("other", ch))
    return f"control {ch!r}"


def m_string(rng: random.Random, toks: list[Token], corpus: Corpus) -> str | None:
    s = rng.choice(STRINGS)
    toks.insert(rng.randrange(len(toks) + 1), ("string", s))
    return f"string {s[:12]!r}"


def m_repeat(rng: random.Random, toks: list[Token], corpus: Corpus) -> str | None:
    stars = [i for i, (k, t) in enumerate(toks) if t in ("*", "×")]
    n = rng.choice(EDGE_NUMBERS[:14] + ["(0-1)", "N", "0.5", BIG])
    if stars and rng.random() < 0.6:
        i = rng.choice(stars)
        j = next((j for j in range(i + 1, len(toks)) if toks[j][0] not in LAYOUT), None)
        if j is None or toks[j][0] not in ("int", "name"):
            return None
        old = toks[j][1]
        toks[j] = ("int", n)
        return f"repeat *{old} -> *{n[:24]}"
    i = _pick(rng, toks, {"close", "name"})
    if i is None:
        return None
    toks[i + 1:i + 1] = [("op", "*"), ("int", n)]
    return f"repeat {toks[i][1]!r}*{n[:24]}"


def m_layout(rng: random.Random, toks: list[Token], corpus: Corpus) -> str | None:
    idx = [i for i, (k, _) in enumerate(toks) if k in ("nl", "cont")
           or (k == "ws" and i and toks[i - 1][0] == "nl")]
    if not idx:
        return None
    i = rng.choice(idx)
    old = toks[i][1]
    toks[i] = ("ws", " ") if rng.random() < 0.5 and old.strip(" \t") else ("ws", "")
    return f"layout {old!r} removed"


def m_splice(rng: random.Random, toks: list[Token], corpus: Corpus) -> str | None:
    line = rng.choice(corpus.lines)
    starts = [0] + [i + 1 for i, (k, _) in enumerate(toks) if k == "nl"]
    i = rng.choice(starts)
    toks[i:i] = tokenize(line + "\n")
    return f"splice {line.strip()[:40]!r}"


def m_import(rng: random.Random, toks: list[Token], corpus: Corpus) -> str | None:
    path = rng.choice(IMPORT_PATHS)
    toks[0:0] = tokenize(f'import "{path}"\n')
    return f"import {path[:30]!r}"


MUTATIONS: list[tuple[Mutation, int]] = [  # (mutation, weight)
    (m_number, 6), (m_delete, 4), (m_duplicate, 3), (m_swap, 3), (m_rename, 5),
    (m_bracket, 3), (m_control, 2), (m_string, 2), (m_repeat, 4), (m_layout, 3),
    (m_splice, 3), (m_import, 1),
]


def mutate(rng: random.Random, tokens: list[Token], corpus: Corpus, n: int) -> list[str]:
    """Apply ``n`` mutations drawn by weight; the list of what each did."""
    fns, weights = zip(*MUTATIONS)
    done: list[str] = []
    for _ in range(n * 4):  # a draw may not apply; try a few more
        if len(done) == n:
            break
        what = rng.choices(fns, weights)[0](rng, tokens, corpus)
        if what:
            done.append(what)
    return done


def fuzz_params(rng: random.Random, text: str) -> dict[str, Any]:
    """Bindings for a case: usually none; else edge values for the header's parameters."""
    if rng.random() < 0.75:
        return {}
    header = re.search(r"network\s+\w+\s*\(([^)]*)\)", text)
    keys = re.findall(r"(?:^|,)\s*(\w+)", header.group(1)) if header else []
    keys += ["channels", "hidden", "classes", "?", "POOL?", "nosuch"]
    values: list[Any] = [0, -1, 1, 10**9, 2**63, 1.5, 1e309, float("nan"), True, False,
                         "relu", "", "conv(", "x" * 1000, 10**5000]
    return {rng.choice(keys): rng.choice(values) for _ in range(rng.randint(1, 3))}


@dataclass
class Case:
    name: str  # seed file and index
    text: str
    params: dict[str, Any]
    mutations: list[str]


def case(corpus: Corpus, seed: int, i: int) -> Case:
    """Case ``i`` of ``seed``: a zoo file with one to three mutations, and bindings."""
    rng = random.Random(f"{seed}:{i}")
    src = rng.choice(sorted(corpus.files))
    toks = list(corpus.tokens[src])
    done = mutate(rng, toks, corpus, rng.choice([1, 1, 2, 3]))
    text = untokenize(toks)
    return Case(f"{src}~{seed}:{i}", text, fuzz_params(rng, text), done)


def cases(n: int, seed: int = 0, corpus: Corpus | None = None) -> Iterator[tuple[str, str, dict]]:
    """``n`` cases as (name, text, params)."""
    corpus = corpus or Corpus.zoo()
    for i in range(n):
        c = case(corpus, seed, i)
        yield c.name, c.text, c.params
