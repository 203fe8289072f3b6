"""The training loop of one run: one network, one recipe, one output directory.

NOTE: exact resume. Everything random in an epoch comes from generators seeded by
(seed, epoch, ...) alone: the sample order, the augmentation of each step, and the
global RNGs (dropout) reseeded at the start of each epoch. A checkpoint taken between
two steps also stores the RNG states and the running sums of the epoch, so a run
stopped at any step and resumed from its checkpoint computes exactly what an
uninterrupted run computes (bitwise on the CPU).
"""

from __future__ import annotations

import math
import time
from typing import Any

import torch
import torch.nn.functional as F

from cnndsl.deprecation import renamed_attribute
from cnndsl.diagnostics import UserError
from cnndsl.outputs import mark_run_dir, write_output

from . import checkpoint as ck
from .config import Recipe, is_weights_file
from .data import Feeder, Prepared, mix_seed
from .describe import describe
from .device import sum_dtype
from .distributed import World
from .ema import WeightAverage
from .evaluate import evaluate
from .freeze import freeze, frozen_paths, head_parameters
from .history import History, write_metrics
from .initialize import apply_init
from .lookahead import Lookahead
from .optim import NORMS, make_optimizer, set_lr
from .precision import Precision, choose_precision
from .progress import Progress
from .protocol import NetworkLike
from .run_types import Diverged, Event, Options, seed_all, stop_on_sigint  # noqa: F401 (Options, Event: the API's)
from .schedule import Schedule
from .snapshot import restore_run, save_run
from .whitening import SAMPLES, whiten, whitening_layer

AUX_WEIGHT = 0.3  # weight of an auxiliary head's loss (Szegedy et al. 2014)


class Trainer:
    """Set up from a network, prepared data and a resolved recipe; :meth:`run` trains.

    A callback sees it as ``event.trainer``: ``net``, ``data``, ``recipe``, ``options``,
    ``model``, ``history``, ... (``r`` and ``o`` are the old, deprecated names of
    ``recipe`` and ``options``)."""

    r = renamed_attribute("recipe", "r", "Trainer")
    o = renamed_attribute("options", "o", "Trainer")

    def __init__(self, network: NetworkLike, data: Prepared, recipe: Recipe,
                 options: Options, world: World | None = None,
                 resume: dict[str, Any] | None = None) -> None:
        self.net, self.data, self.recipe, self.options = network, data, recipe, options
        self.world = world or World()
        self.device = options.device
        self.out = options.out if self.world.main else None
        self.num_classes = network.num_classes or len(data.classes)
        self.progress = Progress(options.progress, enabled=self.world.main)
        self.stop_requested = False
        self.history = History(network=network.name, optimizer=recipe.optimizer,
                               out=self.out, notes=list(data.notes))
        self.resume = resume
        self.board = None
        if options.tensorboard and options.out is None:
            raise UserError("tensorboard logging needs a run folder", help="give out=DIR",
                            exit_code=2)
        if options.tensorboard and self.out is not None:  # the main process writes
            from .tensorboard import Board

            self.board = Board(self.out)
        self._build()

    # -- setup ---------------------------------------------------------------------

    def _build(self) -> None:
        r, o, dev = self.recipe, self.options, self.device
        seed_all(r.seed)
        model = self.net.to_torch()
        if not is_weights_file(r.init):
            apply_init(model, r.init)
        elif self.resume is None:  # resumed, the checkpoint holds the weights
            from .finetune import load_init

            notes = load_init(model, r.init)
            self.data.notes.extend(notes)  # printed with the data's
            self.history.notes.extend(notes)
        model.to(dev)
        cuda = dev.type == "cuda"
        self.channels_last = cuda if o.channels_last is None else o.channels_last
        if self.channels_last:
            model.to(memory_format=torch.channels_last)
        if o.sync_bn and self.world.distributed:
            if dev.type == "cpu":
                raise UserError("--sync-bn needs GPUs: PyTorch's SyncBatchNorm does not run "
                                "on the CPU", help="leave out --sync-bn", exit_code=2)
            model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
        self.base = model
        self._make_feeders()
        self._fix_weights(model)
        self.frozen_norms = freeze(model, frozen_paths(self.net, r.freeze)) if r.freeze else []
        if not any(p.requires_grad for p in model.parameters()):
            raise UserError(f"--freeze {r.freeze}: nothing is left to train" if r.freeze
                            else "the network has no trainable parameters",
                            help="freeze an earlier layer (the classifier must train)",
                            exit_code=2)
        if self.resume is not None:
            self._load_model_state(self.resume)
        self.model: torch.nn.Module = model
        if self.world.distributed:
            from torch.nn.parallel import DistributedDataParallel

            self.model = DistributedDataParallel(model, device_ids=[dev.index] if cuda else None)
        if o.compile:
            backend = o.compile if isinstance(o.compile, str) else "inductor"
            self.model = torch.compile(self.model, backend=backend)
        self.precision: Precision = choose_precision(o.amp, dev)
        self.optimizer = make_optimizer(self.base, r, dev, head_parameters(self.net, self.base))
        self.steps = self.train_feeder.steps(r.batch_size, train=True)
        self.whiten_bias_steps = round(r.whiten_bias_epochs * self.steps)
        self.lookahead = Lookahead(self.base, r.epochs * self.steps) if r.lookahead else None
        self.ema = WeightAverage(self.base, r.ema) if r.ema else None
        if self.ema is not None and self.resume is not None and self.resume.get("ema"):
            self.ema.load_state_dict(self.resume["ema"])
        if self.lookahead is not None and self.resume is not None \
                and self.resume.get("lookahead") is not None:
            self.lookahead.load_state_dict(self.resume["lookahead"])
        self.schedule = Schedule(r.schedule, float(r.lr), epochs=r.epochs,  # type: ignore[arg-type]
                                 steps_per_epoch=self.steps, warmup=r.warmup,
                                 step_size=int(r.step_size or 1), gamma=r.gamma,
                                 patience=r.patience, start=r.warmup_start, end=r.lr_end,
                                 milestones=tuple(int(v) for v in (r.milestones or "").split(",")
                                                  if v.strip()))

    def _fix_weights(self, model: torch.nn.Module) -> None:
        """Weights the recipe sets rather than trains: normalisation weights stay 1
        (``freeze_norm_weight``); the whitening layer comes from the training data."""
        if self.recipe.freeze_norm_weight:
            for m in model.modules():
                if isinstance(m, NORMS) and getattr(m, "weight", None) is not None:
                    m.weight.requires_grad_(False)
        self.whitening = whitening_layer(model) if self.recipe.whiten else None
        if self.whitening is not None:
            whiten(self.whitening, self.train_feeder.ready(SAMPLES))

    def _make_feeders(self) -> None:
        o, d, dev = self.options, self.data, self.device
        resident = o.data_on_device
        if resident is None:
            resident = True
            if dev.type == "cuda":
                need = d.train.nbytes() + (d.val.nbytes() if d.val is not None else 0)
                resident = need < 0.5 * torch.cuda.mem_get_info(dev)[0]
        kw = dict(resident=resident, pin=o.pin_memory, channels_last=self.channels_last,
                  world=self.world.size, rank=self.world.rank)
        self.train_feeder = Feeder(d.train, d.transform, dev, augment=d.augment, **kw)
        self.val_feeder = Feeder(d.val, d.transform, dev, **kw) if d.val is not None else None

    def _load_model_state(self, ckpt: dict[str, Any]) -> None:
        try:
            self.base.load_state_dict(ckpt["state_dict"])
        except RuntimeError as e:
            raise UserError(f"{ckpt.get('_path', 'checkpoint')}: its weights do not fit the "
                            f"network: {str(e).splitlines()[0]}",
                            help="resume with the same .cnn file and --set values") from e

    def describe(self, data: bool = True) -> list[str]:
        """What this run does, one line per topic (``data=False``: recipe and device)."""
        return describe(self, data)

    # -- checkpoints (cnndsl.train.snapshot) -----------------------------------------

    def save(self, epoch: int, step: int, partial: dict[str, float], best: bool) -> None:
        save_run(self, epoch, step, partial, best)

    # -- the loop ------------------------------------------------------------------

    def run(self) -> History:
        r, h = self.recipe, self.history
        start_epoch, start_step, partial = restore_run(self)
        if self.out is not None:  # a folder train() checked (cnndsl.outputs.check_run_dir)
            mark_run_dir(self.out, "run", self.net.name)
            write_output(self.out / "network.cnn", self.net.source, force=True)
        for line in self.describe(data=self.options.header):
            self.progress.note(line)
        if start_epoch >= r.epochs:
            self.progress.note(f"the run has trained {start_epoch} epochs already; "
                               "--epochs N with a larger N continues it")
        elif start_epoch or start_step:
            self.progress.note(f"resuming at epoch {start_epoch + 1}"
                               + (f", step {start_step + 1}" if start_step else ""))
        best = max((x["val_acc"] for x in h.records if x.get("val_acc") is not None),
                   default=-1.0)
        try:
            with stop_on_sigint(self):
                for epoch in range(start_epoch, r.epochs):
                    record = self._epoch(epoch, start_step, partial)
                    start_step, partial = 0, {}
                    if record is None:  # stopped inside the epoch
                        h.stopped = "interrupted"
                        break
                    improved = record.get("val_acc") is not None and record["val_acc"] > best
                    best = max(best, record.get("val_acc") or -1.0)
                    h.records.append(record)
                    self.save(epoch + 1, 0, {}, best=improved or record.get("val_acc") is None)
                    if self.out is not None:
                        write_metrics(h.records, self.out)
                        if self.board is not None:
                            self.board.epoch(record)
                    self.progress.epoch(record, r.epochs)
                    self._callback("epoch", epoch + 1, self.steps, record)
                    if self.stop_requested and epoch + 1 < r.epochs:
                        h.stopped = "interrupted"
                        break
        finally:
            self.progress.clear()
            self._finish()
            self.model = self.base  # drop the DistributedDataParallel wrapper (see World.close)
        if h.stopped == "interrupted" and self.out is not None:
            self.progress.note(f"stopped; checkpoint {self.out / ck.LAST}; continue with "
                               f"--resume {self.out}")
        h.model = self.trained
        return h

    @property
    def trained(self) -> torch.nn.Module:
        """The model the run offers: the weights' moving average with ``--ema``."""
        return self.ema.model if self.ema is not None else self.base

    def _finish(self) -> None:
        if self.board is not None:
            self.board.close()
        if self.out is None or not self.options.plots or not self.history.records:
            return
        from .plots import have_matplotlib, save_curves

        if have_matplotlib():
            save_curves(self.history, self.out / "curves.png", force=True)
        else:
            self.progress.note("note: matplotlib is not installed, so no curves.png "
                               "(pip install matplotlib)")

    def _callback(self, kind: str, epoch: int, step: int, record: dict | None) -> None:
        if self.options.callback is not None:
            self.options.callback(Event(kind, epoch, step, record, self))

    def _epoch(self, epoch: int, start: int, partial: dict[str, float]) -> dict | None:
        """Train one epoch (from step ``start``); its record, or None when stopped."""
        r, dev, world, prec = self.recipe, self.device, self.world, self.precision
        if start == 0:
            seed_all(mix_seed(r.seed, epoch, world.rank, 2))
        self.model.train()
        for m in self.frozen_norms:  # a frozen backbone keeps its statistics
            m.eval()
        loss_sum = torch.tensor(partial.get("loss", 0.0), device=dev)
        correct = torch.tensor(int(partial.get("correct", 0)), device=dev)
        seen = seen0 = int(partial.get("seen", 0))
        spent = float(partial.get("time", 0.0))
        check_every = 1 if (world.size == 1 and dev.type == "cpu") else 20
        scale = world.size  # loss = sum over the local share * world / global batch
        t0 = time.perf_counter()
        step = start
        batches = self.train_feeder.batches(r.batch_size, seed=r.seed, epoch=epoch,
                                            shuffle=True, train=True, start=start)
        for step, batch in enumerate(batches, start):
            set_lr(self.optimizer, self.schedule.lr(epoch, step))
            if self.whitening is not None and self.whitening.bias is not None \
                    and epoch * self.steps + step >= self.whiten_bias_steps:
                self.whitening.bias.requires_grad_(False)  # trained long enough
            # gradients freed before the forward, whose activations can reuse their memory
            self.optimizer.zero_grad(set_to_none=True)
            with prec.autocast():
                out = self.model(batch.x)
                # Auxiliary heads (aux(...) in the source) come after the main output while
                # training; each adds its loss discounted by AUX_WEIGHT (GoogLeNet's 0.3).
                logits, heads = (out[0], out[1:]) if isinstance(out, tuple) else (out, ())
                loss = self._loss(logits, batch)
                for head in heads:
                    loss = loss + AUX_WEIGHT * self._loss(head, batch)
            scaled = loss * (scale / batch.size)
            if prec.scaler is not None:
                prec.scaler.scale(scaled).backward()
                if r.clip_grad:
                    prec.scaler.unscale_(self.optimizer)
                    torch.nn.utils.clip_grad_norm_(self.base.parameters(), r.clip_grad)
                prec.scaler.step(self.optimizer)
                prec.scaler.update()
            else:
                scaled.backward()
                if r.clip_grad:
                    torch.nn.utils.clip_grad_norm_(self.base.parameters(), r.clip_grad)
                self.optimizer.step()
            if self.lookahead is not None:
                self.lookahead.after_step(epoch * self.steps + step + 1)
            if self.ema is not None:
                self.ema.update(self.base)
            with torch.no_grad():
                loss_sum += loss.detach()
                correct += (logits.argmax(dim=1) == batch.y).sum()
            seen += len(batch.y)
            self._callback("step", epoch + 1, step + 1, None)
            stop = self.stop_requested
            if (step + 1) % check_every == 0 or step + 1 == self.steps:
                stop = self._check(loss if check_every == 1 else loss_sum, epoch, step)
            elif world.distributed:
                stop = False  # processes agree on stopping at check steps only
            self.progress.step(epoch, r.epochs, step, self.steps, t0,
                               lambda ls=loss_sum, c=correct, n=seen: (
                                   ls.item() / max(n, 1), c.item() / max(n, 1),
                                   (n - seen0) * world.size))
            if stop and step + 1 < self.steps:
                spent += time.perf_counter() - t0
                self.save(epoch, step + 1, {"loss": loss_sum.item(), "correct": correct.item(),
                                            "seen": seen, "time": spent}, best=False)
                return None
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        spent += time.perf_counter() - t0
        totals = world.sum_(torch.tensor([loss_sum.item(), correct.item(), seen,
                                          float(self.stop_requested)],
                                         dtype=sum_dtype(dev), device=dev))
        t_loss, t_correct, t_seen, t_stop = totals.tolist()
        self.stop_requested = t_stop > 0
        record: dict[str, Any] = {
            "epoch": epoch + 1, "train_loss": t_loss / max(t_seen, 1),
            "train_acc": t_correct / max(t_seen, 1),
            "val_loss": None, "val_acc": None, "val_top5": None,
            "lr": self.optimizer.param_groups[0]["lr"],
            "images_per_s": t_seen / max(spent, 1e-9), "epoch_time": spent,
        }
        prev = self.history.records[-1]["time"] if self.history.records else 0.0
        if self.val_feeder is not None:
            v = evaluate(self.trained, self.val_feeder, batch_size=2 * r.batch_size,
                         num_classes=self.num_classes, precision=prec, world=world,
                         tta=r.tta)
            record.update(val_loss=v.loss, val_acc=v.accuracy, val_top5=v.top5)
        record["time"] = prev + spent
        if self.schedule.end_epoch(record["val_acc"] if record["val_acc"] is not None
                                   else record["train_acc"]):
            self.progress.note(f"accuracy has not improved for {r.patience} epochs: "
                               f"learning rate divided by 10")
        return record

    def _loss(self, logits: torch.Tensor, batch: Any) -> torch.Tensor:
        """Summed cross-entropy; a mixed batch (mixup, CutMix) weighs both labels."""
        ce = F.cross_entropy(logits.float(), batch.y, reduction="sum",
                             label_smoothing=self.recipe.label_smoothing)
        if batch.lam == 1.0:
            return ce
        other = F.cross_entropy(logits.float(), batch.y2, reduction="sum",
                                label_smoothing=self.recipe.label_smoothing)
        return batch.lam * ce + (1.0 - batch.lam) * other

    def _check(self, value: torch.Tensor, epoch: int, step: int) -> bool:
        """Whether to stop (all processes agree: one asked); raises on a NaN/inf loss,
        keeping the last good checkpoint."""
        if self.world.distributed:
            flags = torch.stack([(~torch.isfinite(value)).any().float(),
                                 torch.tensor(float(self.stop_requested), device=self.device)])
            bad, stop = (v > 0 for v in self.world.sum_(flags).tolist())
            self.stop_requested = self.stop_requested or stop
        else:
            bad, stop = not math.isfinite(value.item()), self.stop_requested  # a scalar
        if not bad:
            return stop
        self.history.stopped = "diverged"
        self.history.model = self.base
        kept = ""
        if self.out is not None and (self.out / ck.LAST).is_file():
            kept = f"; the last good checkpoint is {self.out / ck.LAST} (epoch {epoch})"
        lr = self.optimizer.param_groups[0]["lr"]
        raise Diverged(
            f"the training loss became NaN or infinite at epoch {epoch + 1}, step "
            f"{step + 1} (learning rate {lr:.3g}); training stopped{kept}", self.history,
            help="lower the learning rate (--lr), add warm-up (--warmup 1), clip gradients "
                 "(--clip-grad 1), or train without mixed precision (--no-amp)")
