"""Use a checkpoint: rebuild its network, score it on data, classify image files."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from cnndsl.diagnostics import UserError

from . import checkpoint as ck
from .protocol import NetworkLike, checkpoint_bindings, rebuild

SPLITS = ("auto", "val", "test", "train", "all")


@dataclass
class Loaded:
    ckpt: dict[str, Any]
    network: NetworkLike
    model: torch.nn.Module
    device: torch.device

    @property
    def classes(self) -> list[str]:
        return list(self.ckpt["classes"])


def load_model(path: str | os.PathLike, device: str = "auto",
               network: NetworkLike | None = None) -> Loaded:
    """The checkpoint's network, compiled again from its source, with its weights."""
    from .device import resolve_device

    dev = resolve_device(device)
    ckpt = ck.load(path)
    net = network or rebuild(ckpt.get("source"), checkpoint_bindings(ckpt),
                             ckpt.get("input_shape"), ckpt.get("imports"), ckpt["_path"],
                             ckpt.get("preset"))
    model = net.to_torch()
    try:  # with --ema, the weights' average is the trained model
        model.load_state_dict(ckpt.get("ema") or ckpt["state_dict"])
    except RuntimeError as e:
        raise UserError(f"{ckpt['_path']}: the weights do not fit the network compiled from "
                        f"its source: {str(e).splitlines()[0]}",
                        help="the compiler may have changed since the checkpoint was written"
                        ) from e
    model.to(dev).eval()
    return Loaded(ckpt, net, model, dev)


@dataclass
class Evaluation:
    data: str
    split: str
    classes: list[str]
    scores: Any  # evaluate.Scores
    confusion_png: Path | None = None

    def to_json(self) -> dict:
        return {"data": self.data, "split": self.split, "classes": self.classes,
                **self.scores.to_json(),
                "confusion_png": str(self.confusion_png) if self.confusion_png else None}


def pick_split(prepared: Any, split: str) -> tuple[Any, str]:
    """The images to score: ``auto`` = the test set if the data has one, else the
    validation hold-out of the training run (the same samples, from its seed)."""
    from .data import ImageSet

    src = prepared.source
    if split == "auto":
        split = "test" if src.test is not None else "val"
    if split == "test":
        if src.test is None:
            raise UserError(f"{src.spec} has no test set", help="use --split val or all",
                            exit_code=2)
        return src.test, "test"
    if split == "val":
        if prepared.val is None:
            raise UserError("the run held out no validation data", help="use --split all",
                            exit_code=2)
        return prepared.val, prepared.val_name
    if split == "train":
        return prepared.train, "train"
    parts = [src.train] + ([src.test] if src.test is not None else [])
    return ImageSet(torch.cat([p.pixels for p in parts]), torch.cat([p.labels for p in parts]),
                    src.train.scale), "all"


def evaluate_checkpoint(path: str | os.PathLike, data: Any = None, *, split: str = "auto",
                        batch_size: int = 256, device: str = "auto",
                        confusion_png: str | os.PathLike | None = None,
                        network: NetworkLike | None = None,
                        force: bool = False) -> Evaluation:
    """Accuracy, top-5, loss and the confusion matrix of a checkpoint on data.

    ``data`` defaults to the data the run trained on; ``confusion_png`` also draws the
    confusion matrix there (a new file or one cnndsl wrote, unless ``force``).
    """
    from .config import Recipe
    from .data import Feeder, prepare
    from .evaluate import evaluate

    if split not in SPLITS:
        raise UserError(f"--split {split}: choose one of {', '.join(SPLITS)}", exit_code=2)
    m = load_model(path, device, network)
    recipe = Recipe.from_json(m.ckpt["recipe"])
    spec = data if data is not None else m.ckpt["data"]
    if isinstance(spec, str) and spec.startswith("<"):
        raise UserError("the run trained on in-memory data; give the data with --data",
                        exit_code=2)
    prepared = prepare(spec, tuple(m.ckpt["input_shape"]), m.ckpt["num_classes"],
                       val_split=recipe.val_split, seed=recipe.seed, augment="none",
                       normalize=False)
    images, split_name = pick_split(prepared, split)
    transform = fitted_transform(m.ckpt, images.sample_shape, images.scale)
    k = int(m.ckpt["num_classes"])
    feeder = Feeder(images, transform, m.device)
    scores = evaluate(m.model, feeder, batch_size=batch_size, num_classes=k, confusion=True,
                      tta=recipe.tta)
    png = None
    if confusion_png is not None:
        from .plots import save_confusion

        png = Path(confusion_png)
        png.parent.mkdir(parents=True, exist_ok=True)
        names = (m.classes + [str(i) for i in range(len(m.classes), k)])[:k]
        save_confusion(scores.confusion, names, png,
                       f"{m.ckpt['network']} on {prepared.source.spec} ({split_name}): "
                       f"{100 * scores.accuracy:.2f}%", force=force)
    return Evaluation(prepared.source.spec, split_name, m.classes, scores, png)


def fitted_transform(ckpt: dict[str, Any], data_shape: tuple[int, int, int],
                     scale: float) -> Any:
    """The run's transform (its normalisation) fitted to images of another shape."""
    from .data import Transform

    trained = Transform.from_json(ckpt["transform"])
    t = Transform.fit(data_shape, tuple(ckpt["input_shape"]), scale)
    return Transform(t.data_shape, t.input_shape, t.scale, trained.mean, trained.std)


@dataclass
class Prediction:
    source: str
    label: str
    index: int
    probability: float
    top: list[tuple[str, float]] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"file": self.source, "class": self.label, "index": self.index,
                "probability": self.probability,
                "top": [{"class": c, "probability": p} for c, p in self.top]}


@torch.no_grad()
def predict(path: str | os.PathLike, images: Sequence[str | os.PathLike], *, top: int = 1,
            device: str = "auto", network: NetworkLike | None = None) -> list[Prediction]:
    """The most likely class (softmax probability) of each image file."""
    from .data.decode import fit
    from .data.images import have_pillow, read_image

    if not images:
        raise UserError("no image files to classify", exit_code=2)
    m = load_model(path, device, network)
    names = m.classes
    out = []
    for f in images:
        p = Path(f)
        if not p.is_file():
            raise UserError(f"{p}: no such image file", exit_code=2)
        arr = read_image(p)
        h, w = m.ckpt["input_shape"][1:]
        if arr.shape[1] * w != arr.shape[2] * h and have_pillow():
            arr = fit(arr, h, w)  # another aspect: cover and centre-crop, as folders load
        transform = fitted_transform(m.ckpt, tuple(arr.shape), 255.0)  # type: ignore[arg-type]
        x = transform(torch.from_numpy(arr)[None].to(m.device))
        probs = torch.softmax(m.model(x).float(), dim=1)[0]
        k = min(max(1, top), len(probs))
        values, index = probs.topk(k)
        ranked = [(names[i] if i < len(names) else str(i), float(v))
                  for v, i in zip(values.tolist(), index.tolist())]
        out.append(Prediction(str(p), ranked[0][0], int(index[0]), ranked[0][1], ranked))
    return out
