"""Building a module from generated source: check it against the allow-list
(:mod:`cnndsl.backends.codecheck`, the final wall), compile and execute it, so that what
the user reads is what runs."""

from __future__ import annotations

import functools
import linecache

from . import codecheck

_counter = [0]


@functools.lru_cache(maxsize=32)
def _program(source: str) -> dict:
    """The namespace of ``source`` executed, once per distinct text: checking and
    compiling a large network's text costs about as much as building its modules, and
    the classes it defines are the same every time."""
    codecheck.check(source)
    _counter[0] += 1
    filename = f"<cnndsl:{_counter[0]}>"
    # Register the text so tracebacks through the generated forward show its lines.
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace: dict = {"__name__": f"cnndsl_generated_{_counter[0]}"}
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102 - checked above
    return namespace


def build(source: str, name: str = "model"):
    """Check generated source against the allow-list, execute it and return a fresh
    module (imports torch). Source that fails the check is never run."""
    return _program(source)["build"]()
