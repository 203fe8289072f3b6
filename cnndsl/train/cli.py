"""``cnndsl train``, ``eval``, ``predict``, ``export`` and ``lr-find``: argparse over the API.

Importing this module is cheap (no torch): ``cnndsl/cli.py`` imports it for every
command. :func:`add_parsers` adds the five sub-commands and returns their handlers.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

Handler = Callable[[argparse.Namespace], int]

DATA_HELP = ("digits (embedded, default) | mnist:DIR | cifar10:DIR | folder:DIR | npz:FILE "
             "| synthetic:N=512,shape=1x28x28,classes=10")


def parse_set(items: list[str] | None) -> dict[str, Any]:
    """``--set K=V`` values, read as the compiler reads them (ints, floats, booleans, strings).

    >>> parse_set(["classes=10", "dropout=0.5", "bn=off", "act=relu"])
    {'classes': 10, 'dropout': 0.5, 'bn': False, 'act': 'relu'}
    """
    from cnndsl.api import parse_bindings
    return dict(parse_bindings(items))


def add_train_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser("train", description="Train a .cnn network. Default data: the embedded "
                       "UCI digits. Files go to --out DIR (default runs/NAME): checkpoints "
                       "last.pt and best.pt, metrics.jsonl, metrics.csv, curves.png.")
    p.add_argument("file", nargs="?", metavar="FILE",
                   help=".cnn file or zoo name (optional with --resume)")
    p.add_argument("--data", metavar="SPEC", help=DATA_HELP)
    p.add_argument("--set", action="append", metavar="K=V", default=[],
                   help="bind a network parameter (repeatable)")
    p.add_argument("--member", metavar="NAME",
                   help="a family member: one of the file's `preset` lines (here --preset "
                   "names a training recipe)")
    p.add_argument("--input", metavar="CxHxW", help="override the network's input shape")
    p.add_argument("--include", action="append", default=[], metavar="DIR",
                   help="a folder imports may read besides the file's own folder tree and "
                   "the zoo (repeatable)")
    p.add_argument("--limit", action="append", default=[], metavar="NAME=N",
                   help="raise a bound of the compiler, e.g. --limit nodes=200000")
    r = p.add_argument_group("recipe (explicit values override --preset)")
    r.add_argument("--preset", choices=("alexnet", "vgg", "resnet-cifar", "resnet-imagenet",
                                        "alexnet2012", "resnet2015", "airbench94"),
                   help="the slides' recipes: alexnet2012 (SGD momentum 0.9, lr 1e-2, weight "
                        "decay 5e-4, batch 128, plateau); resnet2015 (SGD momentum 0.9, lr "
                        "0.1, weight decay 1e-5, batch 256, plateau, He init); airbench94 "
                        "(zoo/airbench94.cnn on cifar10: batch 1024, Nesterov SGD, label "
                        "smoothing 0.2, linear schedule, whitening, lookahead, flip-translate "
                        "test-time augmentation); the papers' alexnet, vgg, resnet-cifar, "
                        "resnet-imagenet (docs/training.md lists every value and its source)")
    r.add_argument("--epochs", type=int, metavar="N", help="default 10")
    r.add_argument("--batch-size", type=int, metavar="N",
                   help="global batch (all processes together); default 64")
    r.add_argument("--optimizer", metavar="NAME[,NAME...]",
                   help="sgd, adam (default), adamw, adadelta, rmsprop; several names train "
                        "once each and plot their loss curves together")
    r.add_argument("--lr", type=float, metavar="LR",
                   help="default per optimizer: sgd 0.01, adam/adamw/rmsprop 1e-3, adadelta 1")
    r.add_argument("--weight-decay", type=float, metavar="WD",
                   help="L2 penalty (decoupled for adamw); default 0 (adamw 0.01)")
    r.add_argument("--momentum", type=float, metavar="M", help="sgd default 0.9; rmsprop 0")
    r.add_argument("--nesterov", action="store_true", default=None,
                   help="Nesterov momentum (sgd)")
    r.add_argument("--schedule", metavar="NAME",
                   help="none (default), step, multistep, cosine, onecycle, plateau (divide by 10 when "
                        "validation accuracy stops improving), linear (down to --lr-end after "
                        "the warm-up)")
    r.add_argument("--warmup", type=float, metavar="EPOCHS", help="linear warm-up epochs")
    r.add_argument("--warmup-start", type=float, metavar="F",
                   help="the warm-up's first rate as a fraction of --lr (default 0)")
    r.add_argument("--lr-end", type=float, metavar="F",
                   help="linear schedule: the last rate as a fraction of --lr (default 0)")
    r.add_argument("--step-size", type=int, metavar="EPOCHS",
                   help="step schedule: epochs between drops (default epochs/3)")
    r.add_argument("--gamma", type=float,
                   help="step and multistep schedules: factor per drop (default 0.1)")
    r.add_argument("--milestones", metavar="E1,E2,...",
                   help="multistep schedule: the epochs where the rate drops")
    r.add_argument("--patience", type=int, metavar="EPOCHS",
                   help="plateau schedule: epochs without improvement (default 3)")
    r.add_argument("--init", metavar="NAME",
                   help="default (PyTorch's), he (Xavier/2, He et al. 2015), xavier, dirac "
                        "(PyTorch's, then identity filters in each convolution), or FILE: "
                        "fine-tune from a state dict of the same architecture (torchvision's, "
                        "timm's, any torch.save of one), a new classifier for the data's "
                        "classes")
    r.add_argument("--label-smoothing", type=float, metavar="EPS",
                   help="spread EPS of each target over the other classes (default 0)")
    r.add_argument("--clip-grad", type=float, metavar="NORM", help="clip the gradient norm")
    r.add_argument("--seed", type=int, help="default 0 (runs are reproducible)")
    r.add_argument("--val-split", type=float, metavar="F",
                   help="hold out this fraction for validation (default: the data's test set, "
                        "else 0.2; 0 = none)")
    r.add_argument("--augment", metavar="SPEC",
                   help="a list of crop[:PAD], translate[:PAD], flip, rrc[:MIN], jitter[:S], "
                        "trivial, mixup[:A], cutmix[:A]; a preset basic | imagenet | strong; "
                        "none; auto (default: crop:4,flip for cifar10, none otherwise)")
    r.add_argument("--norm-bias-lr", type=float, metavar="F",
                   help="learning-rate factor of normalisation biases (their weight decay "
                        "is divided by it); default 1")
    r.add_argument("--freeze-norm-weight", action="store_true", default=None,
                   help="keep normalisation weights at 1")
    r.add_argument("--whiten", action="store_true", default=None,
                   help="set the first convolution (2 x C*k*k filters) from the training "
                        "images' patch covariance; never trained")
    r.add_argument("--whiten-bias-epochs", type=float, metavar="EPOCHS",
                   help="epochs the whitening layer's bias trains (default 0)")
    r.add_argument("--lookahead", action="store_true", default=None,
                   help="every 5 steps pull the weights to their moving average")
    r.add_argument("--ema", type=float, metavar="DECAY",
                   help="keep a moving average of the weights (e.g. 0.999); it is what "
                        "validation scores and the run keeps as its model")
    r.add_argument("--freeze", metavar="NAME",
                   help="train nothing from the input up to and including this layer or "
                        "block (names as in `cnndsl summary`, or module paths: layer3)")
    r.add_argument("--head-lr", type=float, metavar="F",
                   help="learning-rate factor of the classifier (the last layer with "
                        "weights); default 1")
    r.add_argument("--tta", metavar="NAME",
                   help="test-time augmentation of validation and eval: none (default), "
                        "flip, flip-translate")
    r.add_argument("--no-normalize", dest="normalize", action="store_false", default=None,
                   help="do not normalise inputs to zero mean, unit variance")
    d = p.add_argument_group("device and fast paths")
    d.add_argument("--device", default="auto", help="auto (default) | cpu | cuda | cuda:N")
    d.add_argument("--amp", default="auto", choices=("auto", "on", "off", "bf16", "fp16"),
                   help="mixed precision (auto: bf16 or fp16 on CUDA, off on the CPU)")
    d.add_argument("--no-amp", dest="amp", action="store_const", const="off",
                   help="train in float32")
    d.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=None,
                   help="channels-last memory format (default: on for CUDA)")
    d.add_argument("--compile", nargs="?", const=True, default=False, metavar="BACKEND",
                   help="torch.compile the model (optionally with BACKEND)")
    d.add_argument("--no-data-on-device", dest="data_on_device", action="store_false",
                   default=None, help="keep the data set in host memory")
    d.add_argument("--no-pin-memory", dest="pin_memory", action="store_false",
                   help="no pinned host memory for batches")
    d.add_argument("--sync-bn", action="store_true",
                   help="synchronise batch-norm statistics across processes (torchrun)")
    d.add_argument("--deterministic", action="store_true",
                   help="deterministic algorithms, no cuDNN autotuning")
    o = p.add_argument_group("output")
    o.add_argument("--out", metavar="DIR", help="run directory (default runs/NAME)")
    o.add_argument("--overwrite", action="store_true", help="replace a run in --out")
    o.add_argument("--force", action="store_true",
                   help="write into --out even when it is a non-empty folder that is not a "
                        "cnndsl run, replacing only the files a run writes (implies "
                        "--overwrite)")
    o.add_argument("--resume", metavar="DIR", help="continue the run in DIR (or a .pt file)")
    o.add_argument("--progress", default="auto", choices=("auto", "bar", "lines", "none"),
                   help="a bar on a terminal, a line per epoch otherwise (auto, the default)")
    o.add_argument("-q", "--quiet", dest="progress", action="store_const", const="none",
                   help="no progress output (--progress none)")
    o.add_argument("--no-plots", dest="plots", action="store_false",
                   help="no curves.png / compare.png")
    o.add_argument("--tensorboard", action="store_true",
                   help="also log each epoch to OUT/tensorboard (needs the tensorboard "
                        "package)")
    return p


def add_parsers(sub: Any) -> dict[str, Handler]:
    """Add ``train``, ``eval`` and ``predict`` to ``sub``; their handlers by name."""
    add_train_parser(sub)
    e = sub.add_parser("eval", description="Accuracy, top-5 accuracy, loss and confusion "
                       "matrix of a checkpoint (a .pt file or a run directory).")
    e.add_argument("checkpoint", metavar="CKPT", help="a checkpoint, or a run folder")
    e.add_argument("--data", metavar="SPEC", help="default: the data the run trained on")
    e.add_argument("--split", default="auto", choices=("auto", "val", "test", "train", "all"),
                   help="auto: the test set if the data has one, else the run's validation "
                        "hold-out")
    e.add_argument("--batch-size", type=int, default=256, help="default 256")
    e.add_argument("--device", default="auto", help="auto (default) | cpu | cuda | cuda:N")
    e.add_argument("--confusion", metavar="PNG",
                   help="confusion matrix image (default: confusion.png by the checkpoint): "
                        "a new file or one cnndsl wrote, unless --force")
    e.add_argument("--force", action="store_true",
                   help="replace the confusion image even when cnndsl did not write it "
                        "(never a directory, link, device or FIFO)")
    e.add_argument("--json", action="store_true", help="print one JSON object")
    pr = sub.add_parser("predict", description="The class and softmax probability of each image.")
    pr.add_argument("checkpoint", metavar="CKPT", help="a checkpoint, or a run folder")
    pr.add_argument("images", nargs="+", metavar="IMAGE", help="image files to classify")
    pr.add_argument("--top", type=int, default=1, metavar="K", help="show the K best classes")
    pr.add_argument("--device", default="auto", help="auto (default) | cpu | cuda | cuda:N")
    pr.add_argument("--json", action="store_true", help="print JSON lines")
    x = sub.add_parser("export", description="Write a trained model (a run folder: its best.pt, "
                       "else last.pt; or a checkpoint) by the suffix of -o: .onnx (ONNX, "
                       "class probabilities), .pt (TorchScript), .py (PyTorch source, and "
                       "the weights in NAME_weights.pt).")
    x.add_argument("checkpoint", metavar="RUN_OR_CKPT", help="a run folder or a checkpoint")
    x.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="MODEL.onnx | MODEL.pt | MODEL.py: a new file or one cnndsl wrote, "
                        "unless --force")
    x.add_argument("--force", action="store_true", help="replace an existing file")
    f = sub.add_parser("lr-find", description="The learning-rate range test (Smith 2015): "
                       "train a fresh network while the rate grows from --start to --end; "
                       "print the rate where the loss falls fastest and plot the curve.")
    f.add_argument("file", metavar="FILE", help=".cnn file or zoo name")
    f.add_argument("--data", default="digits", metavar="SPEC", help=DATA_HELP)
    f.add_argument("--set", action="append", metavar="K=V", default=[],
                   help="bind a network parameter (repeatable)")
    f.add_argument("--member", metavar="NAME", help="a family member (a `preset` line)")
    f.add_argument("--input", metavar="CxHxW", help="override the network's input shape")
    f.add_argument("--optimizer", default="adam", help="default adam")
    f.add_argument("--batch-size", type=int, default=64, help="default 64")
    f.add_argument("--start", type=float, default=1e-7, help="the first rate (default 1e-7)")
    f.add_argument("--end", type=float, default=10.0, help="the last rate (default 10)")
    f.add_argument("--steps", type=int, default=100, help="rates tried, geometrically (100)")
    f.add_argument("--seed", type=int, default=0, help="default 0")
    f.add_argument("--device", default="auto", help="auto (default) | cpu | cuda | cuda:N")
    f.add_argument("-o", "--output", metavar="PNG", help="the curve (default lr_find.png)")
    f.add_argument("--force", action="store_true", help="replace the PNG")
    f.add_argument("--json", action="store_true", help="print the curve as JSON")
    return {"train": run_train, "eval": run_eval, "predict": run_predict,
            "export": run_export, "lr-find": run_lr_find}


def default_out(name: str) -> Path:
    """``runs/NAME``, or ``runs/NAME-2``, ... when that already holds a run (or anything)."""
    base = Path("runs") / (name or "network")
    out, n = base, 1
    while os.path.lexists(out) and not (out.is_dir() and not any(out.iterdir())):
        n += 1
        out = base.with_name(f"{base.name}-{n}")
    return out


def run_train(args: argparse.Namespace, compile_fn: Callable[..., Any] | None = None) -> int:
    from cnndsl.diagnostics import UserError
    from cnndsl.limits import Limits

    from .api import train

    bindings = parse_set(args.set)
    if args.file is None and args.resume is None:
        raise UserError("train needs a .cnn FILE (or --resume DIR)",
                        help="cnndsl train zoo/lenet5.cnn --data digits", exit_code=2)
    net = None
    if args.file is not None:
        if compile_fn is None:
            import cnndsl

            compile_fn = cnndsl.compile
        bounds = {"limits": Limits.parse(args.limit)} if args.limit else {}
        if args.include:
            bounds["include"] = args.include
        source = Path(args.file) if os.path.isfile(args.file) else args.file
        if args.member:
            bounds["preset"] = args.member
        net = compile_fn(source, bindings=bindings or None, input=args.input, **bounds)
        warnings = getattr(net, "warnings", None)
        if warnings:
            from cnndsl.diagnostics import render_all

            print(render_all(warnings), file=sys.stderr)
    elif bindings or args.input or args.member:
        raise UserError("--set/--input/--member need FILE; a resumed run keeps its network",
                        exit_code=2)
    out = args.out
    if out is None and args.resume is None:
        out = default_out(net.name if net is not None else "network")
    result = train(
        net, args.data, epochs=args.epochs, batch_size=args.batch_size,
        optimizer=args.optimizer, lr=args.lr, weight_decay=args.weight_decay,
        momentum=args.momentum, nesterov=args.nesterov, schedule=args.schedule,
        warmup=args.warmup, warmup_start=args.warmup_start, lr_end=args.lr_end,
        norm_bias_lr=args.norm_bias_lr, freeze_norm_weight=args.freeze_norm_weight,
        whiten=args.whiten, whiten_bias_epochs=args.whiten_bias_epochs,
        lookahead=args.lookahead, tta=args.tta, freeze=args.freeze, head_lr=args.head_lr,
        ema=args.ema,
        step_size=args.step_size, gamma=args.gamma, milestones=args.milestones,
        patience=args.patience, init=args.init, preset=args.preset,
        label_smoothing=args.label_smoothing, clip_grad=args.clip_grad, seed=args.seed,
        val_split=args.val_split, augment=args.augment, normalize=args.normalize,
        device=args.device, out=out, overwrite=args.overwrite, force=args.force, amp=args.amp,
        channels_last=args.channels_last, compile=args.compile,
        data_on_device=args.data_on_device, pin_memory=args.pin_memory,
        sync_bn=args.sync_bn, deterministic=args.deterministic, resume=args.resume,
        progress=args.progress, plots=args.plots, tensorboard=args.tensorboard)
    runs = result if isinstance(result, dict) else {"": result}
    quiet = args.progress == "none"
    for name, h in runs.items():
        if not quiet and h.records and h.out is not None:
            b = h.best
            acc = (f"best val_acc {100 * b['val_acc']:.2f}% (epoch {b['epoch']})"
                   if b.get("val_acc") is not None else f"final loss {h.last['train_loss']:.4f}")
            print(f"{name + ': ' if name else ''}{acc}; run in {h.out}/")
    if isinstance(result, dict) and getattr(result, "plot", None) and not quiet:
        print(f"loss curves compared in {result.plot}")
    return 130 if any(h.stopped == "interrupted" for h in runs.values()) else 0


def run_eval(args: argparse.Namespace) -> int:
    from cnndsl.outputs import check_target

    from .checkpoint import find
    from .inference import evaluate_checkpoint

    png = args.confusion or find(args.checkpoint).parent / "confusion.png"
    check_target(png, args.force)  # before the evaluation, which may take a while
    ev = evaluate_checkpoint(args.checkpoint, args.data, split=args.split,
                             batch_size=args.batch_size, device=args.device,
                             confusion_png=png, force=args.force)
    if args.json:
        print(json.dumps(ev.to_json()))
        return 0
    s = ev.scores
    print(f"{ev.data} ({ev.split}): {s.count} images")
    top5 = f"  top-5 {100 * s.top5:.2f}%" if s.top5 is not None else ""
    print(f"accuracy {100 * s.accuracy:.2f}%{top5}  loss {s.loss:.4f}")
    if len(s.confusion) <= 20:
        width = max(4, max((len(str(v)) for row in s.confusion for v in row), default=1) + 1)
        names = [c[:width - 1] for c in ev.classes] + \
            [str(i) for i in range(len(ev.classes), len(s.confusion))]
        print("confusion matrix (rows: true, columns: predicted):")
        print(" " * width + "".join(f"{n:>{width}}" for n in names))
        for n, row in zip(names, s.confusion):
            print(f"{n:>{width}}" + "".join(f"{v:>{width}}" for v in row))
    per_class = s.per_class()
    width = max([len(c) for c in ev.classes] + [5])
    print(f"{'class':<{width}}  precision  recall     f1  support")
    for name, row in zip(ev.classes, per_class):
        print(f"{name:<{width}}  {100 * row['precision']:8.2f}%  {100 * row['recall']:5.1f}%  "
              f"{row['f1']:.3f}  {row['support']:7d}")
    f1 = sum(r["f1"] for r in per_class) / max(len(per_class), 1)
    print(f"{'macro':<{width}}  {'':9}  {'':6}  {f1:.3f}")
    print(f"confusion matrix image: {ev.confusion_png}")
    return 0


def run_lr_find(args: argparse.Namespace) -> int:
    import cnndsl
    from cnndsl.outputs import check_target

    from .device import resolve_device
    from .lrfind import lr_find, plot
    from .plots import have_matplotlib

    png = args.output or "lr_find.png"
    check_target(png, args.force)
    source = Path(args.file) if os.path.isfile(args.file) else args.file
    net = cnndsl.compile(source, bindings=parse_set(args.set) or None, input=args.input,
                         preset=args.member)
    result = lr_find(net, args.data, start=args.start, end=args.end, steps=args.steps,
                     batch_size=args.batch_size, optimizer=args.optimizer, seed=args.seed,
                     device=str(resolve_device(args.device)))
    if args.json:
        print(json.dumps(result.to_json()))
    else:
        print(f"suggested learning rate: {result.suggestion:.3g} ({args.optimizer}, "
              f"batch {args.batch_size}; {len(result.lrs)} steps"
              + (", stopped when the loss diverged)" if result.stopped_early else ")"))
    if have_matplotlib():
        plot(result, png, args.force)
        print(f"curve: {png}", file=sys.stderr)
    return 0


def run_export(args: argparse.Namespace) -> int:
    from .export import export

    for path in export(args.checkpoint, args.output, force=args.force):
        print(f"wrote {path}", file=sys.stderr)
    return 0


def run_predict(args: argparse.Namespace) -> int:
    from .inference import predict

    for p in predict(args.checkpoint, args.images, top=args.top, device=args.device):
        if args.json:
            print(json.dumps(p.to_json()))
        else:
            print(f"{p.source}: " + ", ".join(f"{c} ({100 * q:.1f}%)" for c, q in p.top))
    return 0
