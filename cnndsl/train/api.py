"""``cnndsl.train.train``: the Python entry point; the CLI is a thin layer over it."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from cnndsl.diagnostics import UserError
from cnndsl.outputs import check_run_dir, mark_run_dir, write_output

from .config import Recipe, is_weights_file, make_recipe, validate
from .history import History
from .protocol import NetworkLike, bindings_of, checkpoint_bindings, rebuild


class Comparison(dict):
    """One :class:`History` per optimizer (``optimizer="adam,adadelta,sgd"``)."""

    plot: Path | None = None

    def __repr__(self) -> str:
        return f"Comparison({', '.join(f'{k}: {v!r}' for k, v in self.items())})"


def as_network(network: NetworkLike | str | os.PathLike | None,
               ckpt: dict[str, Any] | None) -> NetworkLike:
    if network is None:
        if ckpt is None:
            raise UserError("no network to train: give a .cnn file (or resume a run)",
                            exit_code=2)
        return rebuild(ckpt.get("source"), checkpoint_bindings(ckpt), ckpt.get("input_shape"),
                       ckpt.get("imports"), ckpt["_path"], ckpt.get("preset"))
    if isinstance(network, (str, os.PathLike)):
        import cnndsl

        return cnndsl.compile(str(network))
    return network


def check_same_network(net: NetworkLike, ckpt: dict[str, Any]) -> None:
    stored = checkpoint_bindings(ckpt)
    if net.source != ckpt["source"] or bindings_of(net) != dict(stored or {}) or \
            getattr(net, "preset", None) != ckpt.get("preset") or \
            [int(d) for d in net.input_shape] != list(ckpt["input_shape"]):
        raise UserError(f"{ckpt['_path']} was trained from a different network "
                        f"({ckpt['network']}, bindings {stored}, input "
                        f"{'x'.join(map(str, ckpt['input_shape']))})",
                        help="resume with the checkpoint alone (--resume DIR, no FILE), or "
                             "start a new run with --out", exit_code=2)


def resumed_recipe(ckpt: dict[str, Any], given: Mapping[str, Any],
                   notes: list[str]) -> Recipe:
    """The checkpoint's recipe; explicit values override it (and say so)."""
    stored = Recipe.from_json(ckpt["recipe"])
    changes = {k: v for k, v in given.items()
               if v is not None and hasattr(stored, k) and getattr(stored, k) != v}
    for k, v in changes.items():
        if k != "epochs":
            notes.append(f"resume: {k} changed from {getattr(stored, k)} to {v}; the run "
                         "will not continue exactly as it would have")
    return validate(dataclasses.replace(stored, **changes))


def train(network: NetworkLike | str | os.PathLike | None = None,
          data: Any = None, *,
          epochs: int | None = None, batch_size: int | None = None,
          optimizer: str | None = None, lr: float | None = None,
          weight_decay: float | None = None, momentum: float | None = None,
          nesterov: bool | None = None, schedule: str | None = None,
          warmup: float | None = None, step_size: int | None = None,
          gamma: float | None = None, patience: int | None = None,
          init: str | None = None, preset: str | None = None,
          label_smoothing: float | None = None, clip_grad: float | None = None,
          seed: int | None = None, val_split: float | None = None,
          augment: str | None = None, normalize: bool | None = None,
          warmup_start: float | None = None, lr_end: float | None = None,
          norm_bias_lr: float | None = None, freeze_norm_weight: bool | None = None,
          whiten: bool | None = None, whiten_bias_epochs: float | None = None,
          lookahead: bool | None = None, tta: str | None = None,
          freeze: str | None = None, head_lr: float | None = None,
          milestones: str | None = None, ema: float | None = None,
          device: str = "auto", out: str | os.PathLike | None = None,
          overwrite: bool = False, force: bool = False, amp: str | bool = "auto",
          channels_last: bool | None = None, compile: bool | str = False,
          data_on_device: bool | None = None, pin_memory: bool = True,
          sync_bn: bool = False, deterministic: bool = False,
          resume: str | os.PathLike | None = None, progress: str | bool = "auto",
          plots: bool = True, callback: Callable[..., None] | None = None,
          tensorboard: bool = False,
          ) -> History | Comparison:
    """Train a compiled network; the per-epoch :class:`History` (``.model`` is the module).

    ``data``: a data spec (``"digits"``, ``"mnist:DIR"``, ``"cifar10:DIR"``,
    ``"folder:DIR"``, ``"npz:FILE"``, ``"synthetic:N=..."``), a
    :class:`~cnndsl.train.data.DataSource`, or arrays ``(x, y)``; default ``digits``.
    Recipe values left as None come from ``preset``, then the defaults (adam, 10 epochs,
    batch 64); the recipe's fields (:class:`~cnndsl.train.config.Recipe`) are documented
    in docs/training.md. ``optimizer="adam,adadelta,sgd"`` trains once per optimizer from the
    same initial weights into ``out/<optimizer>/`` and returns a :class:`Comparison`.
    ``out=None`` writes no files; otherwise checkpoints (``last.pt``, ``best.pt``),
    ``metrics.jsonl``, ``metrics.csv`` and ``curves.png`` go there every epoch. ``out``
    must be new, empty or a cnndsl run (``run.json``); one holding a run is replaced
    only with ``overwrite``; ``force`` (which implies ``overwrite``) also writes into any
    other folder, replacing only the files a run writes (see :mod:`cnndsl.outputs`).
    ``resume``: a run directory or checkpoint to continue (exactly, on the same device).

    >>> import cnndsl                                            # doctest: +SKIP
    >>> h = cnndsl.train(cnndsl.compile("zoo/lenet5.cnn"), "digits", epochs=15)  # doctest: +SKIP
    >>> h.best["val_acc"]                                        # doctest: +SKIP
    0.97...
    """
    from . import checkpoint as ck
    from .data import prepare
    from .device import configure_backends, resolve_device
    from .distributed import env_world, join
    from .loop import Options, Trainer

    given = dict(data=data if isinstance(data, str) else None, epochs=epochs,
                 batch_size=batch_size, optimizer=optimizer, lr=lr,
                 weight_decay=weight_decay, momentum=momentum, nesterov=nesterov,
                 schedule=schedule, warmup=warmup, warmup_start=warmup_start,
                 lr_end=lr_end, norm_bias_lr=norm_bias_lr,
                 freeze_norm_weight=freeze_norm_weight, whiten=whiten,
                 whiten_bias_epochs=whiten_bias_epochs, lookahead=lookahead, tta=tta,
                 freeze=freeze, head_lr=head_lr, milestones=milestones, ema=ema,
                 step_size=step_size, gamma=gamma,
                 patience=patience, init=init, label_smoothing=label_smoothing,
                 clip_grad=clip_grad, seed=seed, val_split=val_split, augment=augment,
                 normalize=normalize)
    notes: list[str] = []
    ckpt = None
    if resume is not None:
        ckpt = ck.load(resume)
        if preset is not None:
            notes.append("resume: --preset ignored; the run keeps its recipe")
        recipe = resumed_recipe(ckpt, given, notes)
        if out is None:
            out = Path(ckpt["_path"]).parent
    else:
        recipe = make_recipe(preset, **given)
    net = as_network(network, ckpt)
    if ckpt is not None:
        check_same_network(net, ckpt)
        if len(recipe.optimizers) > 1:
            raise UserError("--resume continues one run; resume each optimizer's "
                            "directory of a comparison separately", exit_code=2)
    if data is None and recipe.data.startswith("<"):
        raise UserError("the run trained on in-memory data; pass the same data again",
                        exit_code=2)
    out_dir = Path(out).expanduser() if out is not None else None
    if out_dir is not None:
        check_out(out_dir, recipe.optimizers, resumed=ckpt is not None,
                  overwrite=overwrite or force, force=force)

    dev = resolve_device(device, env_world()[2])
    world = join(dev.type)
    try:
        configure_backends(dev, deterministic)
        # fine-tuning from a weights file may change the classifier to the data's classes
        init_file = ckpt is None and is_weights_file(recipe.init)
        prepared = prepare(data if data is not None else recipe.data, net.input_shape,
                           None if init_file else net.num_classes,
                           val_split=recipe.val_split, seed=recipe.seed,
                           augment=recipe.augment, normalize=recipe.normalize)
        k = len(prepared.classes)
        if init_file and net.num_classes and k != net.num_classes:
            from .finetune import with_classes

            notes.append(f"the data has {k} classes: the network is compiled with "
                         f"classes={k} (was {net.num_classes})")
            net = with_classes(net, k)
        if ckpt is not None:  # the run's normalisation, fitted to the data given now
            from .inference import fitted_transform

            t = prepared.transform
            prepared.transform = fitted_transform(ckpt, t.data_shape, t.scale)
        prepared.notes[:0] = notes
        recipe.data = prepared.source.spec
        options = Options(device=dev, out=out_dir, amp=amp, channels_last=channels_last,
                          compile=compile, data_on_device=data_on_device,
                          pin_memory=pin_memory, sync_bn=sync_bn, progress=progress,
                          plots=plots, callback=callback, tensorboard=tensorboard)
        if len(recipe.optimizers) > 1:
            return compare(net, prepared, recipe, options, world)
        return Trainer(net, prepared, recipe.resolved(), options, world, ckpt).run()
    finally:
        world.close()


def check_out(out: Path, optimizers: Any, resumed: bool, overwrite: bool,
              force: bool) -> None:
    """Refuse, before any work, a run folder that is not cnndsl's (unless ``force``) or
    that holds a run (unless resuming it or ``overwrite``)."""
    from . import checkpoint as ck

    check_run_dir(out, force)
    if len(optimizers) > 1:  # a comparison: one run folder per optimizer
        for name in optimizers:
            check_run_dir(out / name, force)
    if not resumed and not overwrite:
        taken = [p for p in (out / ck.LAST, out / "compare.json") if p.exists()]
        if taken:
            raise UserError(f"{out} already holds a run ({taken[0].name})",
                            help=f"continue it with --resume {out}, choose another --out, "
                                 "or replace it with --overwrite", exit_code=2)


def compare(net: NetworkLike, prepared: Any, recipe: Recipe, options: Any,
            world: Any) -> Comparison:
    """Train once per optimizer (same seed, so the same initial weights), then one plot."""
    from .loop import Trainer
    from .plots import have_matplotlib, save_comparison

    runs = Comparison()
    if options.out is not None and world.main:
        mark_run_dir(options.out, "comparison", net.name)
    for name in recipe.optimizers:
        r = dataclasses.replace(recipe, optimizer=name).resolved()
        o = dataclasses.replace(options, out=options.out / name if options.out else None,
                                header=not runs)
        if world.main and options.progress not in ("none", False):
            print(f"== {name} ==", flush=True)
        h = Trainer(net, prepared, r, o, world).run()
        runs[name] = h
        if h.stopped != "completed":
            break
    if options.out is not None and world.main:
        summary = {name: {"lr": h.records[-1]["lr"] if h.records else None,
                          "epochs": len(h), "stopped": h.stopped, "final": h.last,
                          "best": h.best} for name, h in runs.items()}
        write_output(options.out / "compare.json", json.dumps(summary, indent=2) + "\n",
                     force=True)
        if have_matplotlib():
            runs.plot = options.out / "compare.png"
            save_comparison(runs, runs.plot, net.name, force=True)
    return runs
