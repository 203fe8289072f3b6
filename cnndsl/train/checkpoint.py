"""Checkpoints: everything needed to rebuild, evaluate or continue a run.

A checkpoint is a dict of tensors and plain JSON-able values (no pickled objects), so
it loads with ``torch.load(weights_only=True)`` and cannot run code. It is written to a
temporary file in the same directory, flushed to disk, then renamed over the old one:
an interruption at any moment leaves the previous checkpoint or the new one, never a
broken file.
"""

from __future__ import annotations

import os
import pickle
import random
import re
import shutil
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cnndsl.diagnostics import UserError
from cnndsl.outputs import open_atomic

FORMAT = "cnndsl-checkpoint"
VERSION = 1
LAST, BEST = "last.pt", "best.pt"


def rng_state() -> dict[str, Any]:
    """The state of every random number generator a run uses."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    py = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)),
                  "pos": int(pos), "has_gauss": int(has_gauss), "cached": float(cached)},
        "python": {"version": py[0], "state": list(py[1]), "gauss": py[2]},
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"],
                         n["has_gauss"], n["cached"]))
    p = state["python"]
    random.setstate((p["version"], tuple(p["state"]), p["gauss"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def plain(value: Any) -> Any:
    """``value`` with only the types ``weights_only`` loading admits (tensors, str, int,
    float, bool, None, lists, tuples, dicts); subclasses (numpy scalars, TorchVersion,
    Path) become their plain base type."""
    if isinstance(value, torch.Tensor) or value is None:
        return value
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value)
    if isinstance(value, str | os.PathLike):
        return str(value)
    if isinstance(value, dict):
        return {plain(k): plain(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return tuple(plain(v) for v in value)
    if isinstance(value, list):
        return [plain(v) for v in value]
    raise TypeError(f"cannot store a {type(value).__name__} in a checkpoint")


def save_atomic(obj: dict[str, Any], path: Path) -> None:
    """``torch.save`` to ``path`` atomically (cnndsl.outputs.open_atomic)."""
    with open_atomic(path) as f:
        torch.save(obj, f)


def copy_atomic(src: Path, dst: Path) -> None:
    """``src`` copied to ``dst`` atomically."""
    with open_atomic(dst) as f, open(src, "rb") as g:
        shutil.copyfileobj(g, f)


def find(path: str | os.PathLike) -> Path:
    """A checkpoint file, or ``DIR/last.pt`` for a run directory."""
    p = Path(path).expanduser()
    if p.is_dir():
        if (p / LAST).is_file():
            return p / LAST
        raise UserError(f"{p}: no checkpoint ({LAST}) in this directory",
                        help="give a run directory written by `cnndsl train --out DIR`",
                        exit_code=2)
    if not p.is_file():
        raise UserError(f"{p}: no such checkpoint", exit_code=2)
    return p


def load(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint safely (``weights_only=True``) and check what it is."""
    p = find(path)
    try:
        ckpt = torch.load(p, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        text = str(e)
        found = re.search(r"Unsupported global: GLOBAL ([\w.]+)", text)
        if found:
            raise UserError(f"{p}: refused to load: it holds a Python object "
                            f"({found.group(1)}), not only tensors and plain values",
                            help="cnndsl loads checkpoints with weights_only=True so that a "
                                 "file cannot run code") from e
        raise UserError(f"{p}: cannot read the checkpoint: the file is damaged, truncated or "
                        "not a checkpoint") from e
    except (IndexError, KeyError, TypeError, AttributeError, UnicodeDecodeError) as e:
        # what torch's unpickler raises on arbitrary bytes that happen to parse partly
        raise UserError(f"{p}: cannot read the checkpoint: the file is damaged, truncated or "
                        "not a checkpoint") from e
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile, ValueError) as e:
        first = (str(e).splitlines() or [type(e).__name__])[0]
        raise UserError(f"{p}: cannot read the checkpoint: {first}",
                        help="the file is damaged or truncated") from e
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise UserError(f"{p}: not a cnndsl checkpoint",
                        help="cnndsl eval/predict/--resume read files written by cnndsl train")
    if int(ckpt.get("version", 0)) > VERSION:
        raise UserError(f"{p}: checkpoint version {ckpt['version']} is newer than this "
                        f"cnndsl understands ({VERSION})", help="upgrade cnndsl")
    ckpt["_path"] = str(p)
    return ckpt
