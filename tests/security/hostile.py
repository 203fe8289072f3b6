"""Hand-written hostile inputs, and a runner that isolates each in a forked child.

Each input must end in a diagnostic whose code is in its ``expect`` set (``"UserError"``
stands for a :class:`cnndsl.UserError`, which has no code; ``LIMIT`` for a limit's code:
one of the "Limits" table of docs/errors.md, or one whose help says how to raise a
``--limit``). The hostile list's times and memory are measured by benchmarks/fuzz.py,
not asserted here. Each runs in a forked child with an address-space cap, and is
killed past a hang guard, so that a compiler without its limits cannot take this
machine down; it reports its time and peak memory for the benchmark.
"""

from __future__ import annotations

import multiprocessing
import re
import resource
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import cnndsl
from cnndsl.api import ZOO_DIR

from .fuzzing import BIG
from .runner import Outcome, run_case

ROOT = Path(__file__).resolve().parents[2]
LIMIT = "LIMIT"  # a limit's code: in the docs' Limits table, or one whose help names a --limit
VALUE = {"E0104", "E0105", "E0114"}  # wrong type, out of range, too large


def limit_codes() -> set[str]:
    """The codes in the "Limits" table of docs/errors.md (and the two it began with)."""
    text = (ROOT / "docs" / "errors.md").read_text(encoding="utf-8")
    section = text.split("## Limits", 1)[1].split("\n## ", 1)[0] if "## Limits" in text else ""
    return {"E0011", "E0111"} | set(re.findall(r"^\| *([EW]\d{4}) *\|", section, re.M))


@dataclass
class Hostile:
    name: str
    source: Callable[[], str | bytes]  # bytes: written to a file and compiled as a path
    expect: set[str]
    params: dict[str, Any] = field(default_factory=dict)
    files: Callable[[Path], None] | None = None  # writes extra files next to the source

    def __repr__(self) -> str:  # the params may hold an int too long to repr
        return f"Hostile({self.name!r})"

    def expected(self) -> set[str]:
        return (self.expect - {LIMIT}) | (limit_codes() if LIMIT in self.expect else set())

    def accepts(self, out: Outcome) -> bool:
        """Whether ``out`` is one of the diagnostics this input must end in."""
        if out.result != "diagnostic" or out.timed_out:
            return False
        if out.error.startswith("UserError"):
            return "UserError" in self.expect
        return bool(set(out.codes) & self.expected()
                    or (LIMIT in self.expect and out.raisable))


def _net(body: str) -> Callable[[], str]:
    return lambda: "input 3x32x32\n" + body + "\n"


def _fifty_mb() -> str:
    return "input 3x32x32\n" + "relu - " * (50 * 2**20 // 7) + "relu\n"


def _import_diamond(folder: Path) -> None:
    """f0 imports f1 twice, f1 imports f2 twice, ...: 2**40 imports without a memo,
    and deeper than the import depth limit."""
    for i in range(40):
        (folder / f"f{i}.cnn").write_text(f'import "f{i + 1}.cnn"\nimport "f{i + 1}.cnn"\n')
    (folder / "f40.cnn").write_text("block leaf = relu\n")


CS231N = (ZOO_DIR / "cs231n.cnn").read_text(encoding="utf-8")

HOSTILE: list[Hostile] = [
    Hostile("repeat 10**9", _net("conv*1000000000"), {LIMIT}),
    Hostile("nested repeats 1000**3", _net("((conv*1000)*1000)*1000"), {LIMIT}),
    Hostile("100,000 nested parentheses", _net("(" * 100_000 + "conv" + ")" * 100_000),
            {LIMIT}),
    Hostile("50 MB source", _fifty_mb, {LIMIT, "UserError"}),
    Hostile("bad UTF-8 file", lambda: b"input 3x32x32\nconv(8) - relu \xff\xfe - fc(10)\n",
            {"E0012"}),
    Hostile("5,000-digit integer", _net(f"conv(8) - fc({BIG})"), VALUE | {LIMIT}),
    Hostile("conv(64, 10**20-1)", _net("conv(64, 99999999999999999999)"), VALUE | {"E0301"}),
    Hostile("fc(10**12)", _net("fc(1000000000000)"), VALUE | {LIMIT}),
    Hostile("bn(eps=1e309)", _net("conv(8) - bn(eps=1e309)"), VALUE),
    # beyond the brief's list
    Hostile("repeat by a 5,000-digit count", _net(f"relu*{BIG}"), VALUE | {"E0109", LIMIT}),
    Hostile("block doubling 2**40", lambda: "block b0 = relu - relu\n" + "".join(
            f"block b{i + 1} = b{i} - b{i}\n" for i in range(40)) + "input 3x8x8\nb40\n",
            {LIMIT}),
    Hostile("floor(1e309)", _net("conv(floor(1e309))"), VALUE),
    Hostile("1 MB name", _net("x" * 2**20), {"E0101", LIMIT}),
    Hostile("unknown layer repeated 20,000 times", _net("unit()*20000"), {"E0101", LIMIT}),
    Hostile("repeats after an error", lambda: 'import "lib/resnet.cnn"\ninput 256x8x8\n'
            "foo - bottleneck(512)*512*512\n", {"E0101", LIMIT}),
    Hostile("--set N=10**5000", lambda: CS231N, VALUE | {"E0109", LIMIT, "UserError"},
            params={"N": 10**5000}),
    Hostile("import diamond 2**40", lambda: b'import "f0.cnn"\ninput 3x8x8\nleaf\n', {LIMIT},
            files=_import_diamond),
]


@dataclass
class Measured:
    outcome: Outcome
    peak_bytes: int  # tracemalloc peak (Python allocations); 0 when not traced
    rss_bytes: int  # growth of the child's maximum resident set


def _child(h: Hostile, folder: str, trace: bool, conn: Connection) -> None:
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    src = h.source()
    if trace:
        tracemalloc.start()
    if isinstance(src, bytes):
        path = Path(folder) / "hostile.cnn"
        path.write_bytes(src)
        out = run_case("", h.params, compile_fn=lambda: cnndsl.compile(path, bindings=h.params))
    else:
        out = run_case(src, h.params, name="hostile.cnn")
    peak = tracemalloc.get_traced_memory()[1] if trace else 0
    rss = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) * 1024
    conn.send(Measured(out, peak, rss))
    conn.close()


def run_isolated(h: Hostile, hard_limit_s: float = 60.0, memory_cap: int = 4 * 2**30,
                 trace: bool = False) -> Measured:
    """Run ``h`` in a forked child capped at ``memory_cap`` bytes of address space,
    killed after ``hard_limit_s`` (then the outcome is SLOW with ``timed_out``)."""
    ctx = multiprocessing.get_context("fork")
    with tempfile.TemporaryDirectory() as folder:
        if h.files:
            h.files(Path(folder))
        recv, send = ctx.Pipe(duplex=False)

        def target() -> None:
            resource.setrlimit(resource.RLIMIT_AS, (memory_cap, memory_cap))
            _child(h, folder, trace, send)

        t0 = time.perf_counter()
        p = ctx.Process(target=target, daemon=True)
        p.start()
        send.close()
        got = recv.poll(hard_limit_s)
        try:
            result = recv.recv() if got else None
        except EOFError:  # the child died without a word (killed for memory, ...)
            result = None
        p.join(5)
        if p.is_alive():
            p.kill()
            p.join()
        elapsed = time.perf_counter() - t0
    if result is not None:
        return result
    kind = "SLOW" if not got else "CRASH"
    error = "" if not got else f"child died with exit code {p.exitcode}"
    return Measured(Outcome(kind, elapsed, error=error, timed_out=not got, result=kind), 0, 0)
