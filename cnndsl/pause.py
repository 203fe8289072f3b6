"""Python's cyclic garbage collector, paused while the compiler allocates."""

from __future__ import annotations

import contextlib
import gc


@contextlib.contextmanager
def paused_gc():
    """Python's cyclic collector paused while a compile allocates.

    NOTE: a compile makes hundreds of thousands of small objects that live until it
    ends; each collection walks them all, so with the collector on, time per layer
    grows with the program (a 20,000-layer file parsed at twice the cost per layer of
    a 2,000-layer one). Garbage is collected as usual afterwards.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
