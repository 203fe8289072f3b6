"""cnndsl: a compiler for a small declarative language of convolutional networks.

>>> import cnndsl
>>> net = cnndsl.compile("input 3x32x32\\n[(CONV-RELU)*2-POOL]*3 - FC - RELU - SOFTMAX")
>>> net.output_shape
(10,)
"""

from .api import Network, compile, load, loads, parse_params
from .diagnostics import CnnError, Diagnostic, UserError, render, render_all
from .family.members import enumerate_family as enumerate  # noqa: A001 (cnndsl.enumerate)
from .syntax.parser import parse

__version__ = "0.1.0"


def port_weights(reference, compiled, **options):
    """Copy a reference model's parameters and buffers into a compiled one by structure.

    See :func:`cnndsl.port.port_weights` for the options (imports torch).
    """
    from .port import port_weights as _port
    return _port(reference, compiled, **options)

def __getattr__(name: str):
    """``cnndsl.train`` (callable: ``cnndsl.train(net, data)``), ``load_run`` and
    ``export`` (trained models) load on first use."""
    import importlib
    if name == "train":
        return importlib.import_module(".train", __name__)
    if name in ("load_run", "export"):
        return getattr(importlib.import_module(".train.export", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["CnnError", "Diagnostic", "Network", "UserError", "compile", "enumerate", "export",
           "load",
           "load_run", "loads", "parse", "parse_params", "port_weights", "render",
           "render_all", "train"]
