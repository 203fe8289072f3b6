"""Running one case against the contract and classifying what happened.

The contract: ``cnndsl.loads`` and, on the network it returns, ``summary()``, ``cost``,
``to_python()``, ``to_dot()``, ``dump_ir()`` and ``to_json()`` succeed or raise
:class:`cnndsl.CnnError` / :class:`cnndsl.UserError`, never anything else, within
``SLOW_S`` and ``MEMORY_BYTES`` a case.
"""

from __future__ import annotations

import re
import signal
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import cnndsl

SLOW_S = 1.0  # the contract's time bound for one case
MEMORY_BYTES = 200 * 2**20  # ... and its memory bound (measured by the benchmark only)


class CaseTimeout(BaseException):
    """The hang guard fired (a BaseException, so no ``except Exception`` swallows it)."""


@dataclass
class Outcome:
    kind: str  # "ok", "diagnostic", "CRASH" or "SLOW" (finished, but past SLOW_S)
    seconds: float
    nodes: int | None = None  # IR nodes when it compiled (the input node included)
    codes: tuple[str, ...] = ()  # diagnostic codes of a CnnError
    raisable: tuple[str, ...] = ()  # ... those whose help says how to raise a --limit
    error: str = ""  # exception type and first line of its message
    stage: str = ""  # the call that raised: loads, summary, cost, ...
    site: str = ""  # innermost cnndsl frame of a crash: file:line in function
    traceback: str = ""
    timed_out: bool = False  # stopped by the hang guard
    stages: tuple[tuple[str, float], ...] = ()  # seconds of each call that finished
    result: str = ""  # ok/diagnostic/CRASH, even where kind is SLOW

    @property
    def command_seconds(self) -> float:
        """What one command costs: the compile, then its one view (the slowest here);
        `cnndsl check` is the compile alone, `compile`/`draw`/`summary` add a view."""
        times = dict(self.stages)
        views = [t for k, t in times.items() if k != "loads"]
        return times.get("loads", self.seconds) + max(views, default=0.0)

    @property
    def key(self) -> str:
        """Crashes that share it are one bug: exception type and innermost cnndsl frame
        (file and function; lines move as the code changes)."""
        return f"{self.error.split(':')[0]} at {re.sub(r':[0-9]+ ', ' ', self.site)}"


STAGES: list[tuple[str, Callable[[Any], Any]]] = [
    ("summary", lambda n: n.summary()), ("cost", lambda n: n.cost),
    ("to_python", lambda n: n.to_python()), ("to_dot", lambda n: n.to_dot()),
    ("dump_ir", lambda n: n.dump_ir()), ("to_json", lambda n: n.to_json()),
]


def _innermost_cnndsl_frame(tb: TracebackType | None) -> str:
    frames = [f for f in traceback.extract_tb(tb)
              if "/cnndsl/" in f.filename.replace("\\", "/") and "/tests/" not in f.filename]
    if not frames:
        return "(no cnndsl frame)"
    f = frames[-1]
    rel = f.filename.replace("\\", "/").split("/cnndsl/")[-1]
    return f"cnndsl/{rel}:{f.lineno} in {f.name}"


def _alarm(signum: int, frame: object) -> None:
    raise CaseTimeout()


def run_case(text: str, params: dict[str, Any] | None = None, name: str = "<fuzz>",
             hard_limit_s: float | None = None,
             compile_fn: Callable[[], Any] | None = None) -> Outcome:
    """Compile ``text`` and produce every static output; classify what happened.

    ``hard_limit_s`` stops a runaway case (a hang guard, main thread only; the outcome
    is SLOW with ``timed_out``). ``compile_fn`` replaces ``loads`` (e.g. to compile a
    path)."""
    guard = hard_limit_s is not None and _main_thread()
    if guard:
        old = signal.signal(signal.SIGALRM, _alarm)
        signal.setitimer(signal.ITIMER_REAL, hard_limit_s)
    t0 = time.perf_counter()
    try:  # the guard may fire anywhere, even in the handlers of _attempt
        out = _attempt(lambda: compile_fn() if compile_fn else
                       cnndsl.loads(text, bindings=params, name=name))
    except CaseTimeout:
        out = Outcome("SLOW", 0.0, timed_out=True)
    finally:
        if guard:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)
    out.seconds = time.perf_counter() - t0
    out.result = out.kind
    if out.kind != "CRASH" and out.seconds > SLOW_S:
        out.kind = "SLOW"
    return out


def _attempt(compile_: Callable[[], Any]) -> Outcome:
    stage, nodes, stages = "loads", None, []
    t = time.perf_counter()
    try:
        net = compile_()
        nodes = len(net.graph)
        for what, fn in STAGES:
            stages.append((stage, time.perf_counter() - t))
            stage, t = what, time.perf_counter()
            fn(net)
        stages.append((stage, time.perf_counter() - t))
        return Outcome("ok", 0.0, nodes, stages=tuple(stages))
    except cnndsl.CnnError as e:
        codes = tuple(d.code for d in e.diagnostics)
        raisable = tuple(d.code for d in e.diagnostics if "--limit" in (d.help or ""))
        return Outcome("diagnostic", 0.0, nodes, codes, raisable, "CnnError", stage=stage)
    except cnndsl.UserError as e:
        return Outcome("diagnostic", 0.0, nodes, error=f"UserError: {_text(e.message)[:80]}",
                       stage=stage)
    except CaseTimeout:
        return Outcome("SLOW", 0.0, nodes, stage=stage, timed_out=True, stages=tuple(stages))
    except (KeyboardInterrupt, GeneratorExit):
        raise
    except BaseException as e:  # noqa: B036 - anything else breaks the contract
        try:
            tb = "".join(traceback.format_exception(e))[-4000:]
        except Exception as f:  # a report must not fail on a bad __str__
            tb = f"(no traceback: {type(f).__name__})"
        return Outcome("CRASH", 0.0, nodes, error=f"{type(e).__name__}: {_text(e)[:100]}",
                       stage=stage, site=_innermost_cnndsl_frame(e.__traceback__),
                       traceback=tb)


def _text(x: object) -> str:
    """The first line of ``str(x)``, or a placeholder where that itself raises."""
    try:
        return str(x).split("\n", 1)[0]
    except Exception as e:
        return f"(str() raised {type(e).__name__})"


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()
