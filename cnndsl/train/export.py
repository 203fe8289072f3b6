"""Trained models out of cnndsl: :func:`load_run` for Python, :func:`export` to files.

A run folder means its ``best.pt`` (the epoch with the best validation accuracy; the
last epoch when there was no validation), a ``.pt`` file that checkpoint. The network is
compiled again from the source stored in the checkpoint and given its weights, as
``eval`` and ``predict`` do.

``export`` writes, by the output's suffix:

- ``.onnx``: the model with a softmax after a classifier (class probabilities), batch
  dimension dynamic;
- ``.pt``: TorchScript (``torch.jit.load`` runs it without cnndsl or the source);
- ``.py``: the standalone PyTorch source and, beside it, ``NAME_weights.pt``, a plain
  state dict (``torch.load(..., weights_only=True)``).

Each file carries cnndsl's mark, so that exporting again replaces it; any other existing
file is kept unless ``force`` (:mod:`cnndsl.outputs`).
"""

from __future__ import annotations

import io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from cnndsl.diagnostics import UserError
from cnndsl.outputs import check_target, mark, write_output

from . import checkpoint as ck
from .inference import load_model

FORMATS = {".onnx": "onnx", ".pt": "torchscript", ".py": "source"}


@dataclass
class TrainedModel:
    """A trained network ready to use: ``module(x)`` gives logits for inputs prepared as
    in training, ``(images / scale - mean) / std`` at ``input_shape``."""

    module: torch.nn.Module  # in evaluation mode
    classes: list[str]
    input_shape: tuple[int, ...]
    mean: tuple[float, ...]  # per channel; () when the run did not normalise
    std: tuple[float, ...]
    network: Any  # the compiled cnndsl.Network
    checkpoint: Path
    metrics: list[dict]  # the run's per-epoch records up to this checkpoint

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """Intensities in [0, 1], (B, C, H, W) -> the module's input."""
        if not self.mean:
            return x
        shape = (1, -1, 1, 1)
        mean = torch.tensor(self.mean, dtype=x.dtype, device=x.device).view(shape)
        std = torch.tensor(self.std, dtype=x.dtype, device=x.device).view(shape)
        return (x - mean) / std


def checkpoint_of(path: str | os.PathLike) -> Path:
    """``RUN/best.pt`` (else ``RUN/last.pt``) for a run folder, the file itself otherwise."""
    p = Path(path).expanduser()
    if p.is_dir() and (p / ck.BEST).is_file():
        return p / ck.BEST
    return ck.find(p)


def load_run(path: str | os.PathLike, device: str = "cpu") -> TrainedModel:
    """The trained model of a run folder or checkpoint, with its classes and input
    normalisation.

    >>> import cnndsl, os, tempfile, torch
    >>> run = os.path.join(tempfile.mkdtemp(), "run")
    >>> net = cnndsl.compile("input 1x8x8\\nconv(4) - relu - gap - fc(10)")
    >>> _ = cnndsl.train(net, "synthetic:N=64", epochs=1, progress=False, device="cpu", out=run)
    >>> m = cnndsl.load_run(run)
    >>> m.input_shape, m.classes[:3]
    ((1, 8, 8), ['0', '1', '2'])
    >>> m.module(m.normalize(torch.rand(2, 1, 8, 8))).shape
    torch.Size([2, 10])
    """
    loaded = load_model(checkpoint_of(path), device)
    c = loaded.ckpt
    transform = c.get("transform") or {}
    return TrainedModel(loaded.model, loaded.classes, tuple(c["input_shape"]),
                        tuple(transform.get("mean") or ()), tuple(transform.get("std") or ()),
                        loaded.network, Path(c["_path"]), list(c.get("metrics") or []))


def export(path: str | os.PathLike, output: str | os.PathLike, force: bool = False) -> list[Path]:
    """Write the trained model of ``path`` to ``output`` (see the module doc); the paths
    written.

    >>> import cnndsl, os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> net = cnndsl.compile("input 1x8x8\\nconv(4) - relu - gap - fc(10)")
    >>> _ = cnndsl.train(net, "synthetic:N=64", epochs=1, progress=False, device="cpu",
    ...                  out=os.path.join(folder, "run"))
    >>> [p.name for p in cnndsl.export(os.path.join(folder, "run"), os.path.join(folder, "tiny.py"))]
    ['tiny.py', 'tiny_weights.pt']
    """
    out = Path(output)
    kind = FORMATS.get(out.suffix.lower())
    if kind is None:
        raise UserError(f"{out}: unknown export format '{out.suffix}'",
                        help="-o MODEL.onnx (ONNX), MODEL.pt (TorchScript) or MODEL.py "
                             "(PyTorch source and MODEL_weights.pt)", exit_code=2)
    weights = out.with_name(f"{out.stem}_weights.pt")
    check_target(out, force)
    if kind == "source":
        check_target(weights, force)
    trained = load_run(path)
    net, model = trained.network, trained.module
    if kind == "onnx":
        from cnndsl.backends.onnx_export import export_onnx

        export_onnx(net, out, force=force, model=model)
        return [out]
    if kind == "torchscript":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch.jit's deprecation notes
            scripted = torch.jit.script(model)
            buffer = io.BytesIO()
            torch.jit.save(scripted, buffer)
        write_output(out, mark(buffer.getvalue(), ".pt"), force)
        return [out]
    buffer = io.BytesIO()
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, buffer)
    write_output(out, net.to_python(), force)
    write_output(weights, mark(buffer.getvalue(), ".pt"), force)
    return [out, weights]
