"""Analyses and transforms over the IR: pure functions, listed in pipeline order.

User passes (docs/plugins.md): ``cnndsl.passes.run(net, [rewrite, ...])`` returns a new
network with the rewrites applied and checked; ``analyze`` runs analyses for summary
columns; ``rewrite`` and ``analysis`` mark the functions. They live in
:mod:`cnndsl.passes.custom`, imported on first use so that importing a built-in pass
never needs it.
"""

_PUBLIC = ("Analysis", "Rewrite", "analysis", "analyze", "rewrite", "run")


def __getattr__(name: str):
    if name in _PUBLIC:
        from . import custom
        return getattr(custom, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
