"""cnndsl: a compiler for a small declarative language of convolutional networks.

>>> import cnndsl
>>> net = cnndsl.compile("input 3x32x32\\n[(CONV-RELU)*2-POOL]*3 - FC - RELU - SOFTMAX")
>>> net.output_shape
(10,)

The public API is ``__all__`` below, typed (``py.typed``) and documented in docs/api.md
(generated: ``python -m cnndsl.apidoc docs/api.md``); its signatures are pinned by
tests/data/api_snapshot.json. Importing cnndsl never imports torch.
"""

from .api import Network, compile, from_json, load, loads, parse_bindings
from .bindings import parse_params  # noqa: F401 (deprecated: parse_bindings; not in __all__)
from .diagnostics import CnnError, Diagnostic, UserError, render, render_all
from .family.members import enumerate_family as enumerate  # noqa: A001 (cnndsl.enumerate)
from .importer.api import from_onnx, from_torch
from .plugins import register_op
from .syntax.parser import parse

__version__ = "0.1.0"


def port_weights(reference, compiled, **options):
    """Copy a reference model's parameters and buffers into a compiled one by structure;
    the (reference key, compiled key) pairs copied.

    See :func:`cnndsl.port.port_weights` for the options (imports torch).

    >>> import torch
    >>> reference = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(),
    ...                                 torch.nn.Flatten(), torch.nn.Linear(4 * 8 * 8, 10))
    >>> model = compile("input 1x8x8\\nconv(4) - relu - fc(10)").to_torch()
    >>> port_weights(reference, model)[:2]
    [('0.weight', 'conv1.weight'), ('0.bias', 'conv1.bias')]
    >>> bool(torch.equal(model.fc1.weight, reference[3].weight))
    True
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


# The public API, pinned by tests/data/api_snapshot.json (tests/test_api_surface.py): a
# name added here needs a docstring with an example, and a new snapshot and docs/api.md
# (python -m cnndsl.apidoc --snapshot tests/data/api_snapshot.json; ... docs/api.md).
__all__ = [
    "CnnError", "Diagnostic", "Network", "UserError",
    # compile
    "compile", "from_json", "load", "loads", "parse", "parse_bindings",
    # operators and passes (cnndsl.passes.run for rewrites and analyses)
    "register_op",
    # families
    "enumerate",
    # existing models as programs (torch, onnx on use)
    "from_onnx", "from_torch",
    # diagnostics
    "render", "render_all",
    # torch (loaded on first use)
    "export", "load_run", "port_weights", "train",
]
