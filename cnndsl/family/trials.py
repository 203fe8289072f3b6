"""A search's trials: one member trained per trial, in worker processes or on Ray (the
results file that makes a search resumable is :mod:`.results`).

NOTE: why the pieces are shaped so.

- A :class:`Trial` is data: the :class:`~cnndsl.family.Family` (its parsed program, its
  bindings and import folders; it pickles in a few kB), the member's values and the
  recipe. The worker compiles the member itself, so no network or module crosses a
  process boundary, and a Ray node needs only cnndsl, not the .cnn file.
- Workers are spawned, not forked (torch and fork do not mix), ignore SIGINT (the
  search decides what an interruption does) and set their own torch threads, so that
  ``jobs`` trials share the cores instead of each taking them all.
- :func:`run_trial` never raises: a member that fails to compile or to train is a
  record with ``status: failed``; only a mistake in the command comes back as
  ``status: usage``, which stops the search instead of being recorded against every
  member. Which is which is told by *when* it fails, not by its message: the recipe is
  checked in the parent before any trial; in the trial, reading the data set and
  finding the device come first (:func:`_command_inputs`: a UserError there is the
  command's), then the member meets the data (a UserError from training, classes or
  an input the data does not fit, is the member's).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import socket
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from functools import partial
from typing import Any

from ..diagnostics import CnnError, UserError
from .members import Family

Record = dict[str, Any]
OnDone = Callable[[Record], None]
VERSION = 1


def trial_key(bindings: dict[str, Any]) -> str:
    """A member's identity in the results file: its bindings as sorted JSON.

    >>> trial_key({"N": 2, "pool?": False, "K": 0})
    '{"K": 0, "N": 2, "pool?": false}'
    """
    return json.dumps(bindings, sort_keys=True)


@dataclass(frozen=True)
class Trial:
    """What a worker needs to train one member (picklable; no network, no torch)."""

    family: Family
    bindings: dict[str, Any]
    data: str
    recipe: dict[str, Any]
    device: str = "auto"
    threads: int = 1

    @property
    def key(self) -> str:
        return trial_key(self.bindings)


def run_trial(trial: Trial) -> Record:
    """Compile and train one member for a short schedule; its record (never raises).

    ``started``/``finished`` span the whole trial (the worker's first one includes
    importing torch, and each one loading the data); ``seconds`` is the epochs alone,
    comparable between members."""
    record: Record = {"kind": "trial", "key": trial.key, "bindings": trial.bindings,
                      "pid": os.getpid(), "host": socket.gethostname(),
                      "started": time.time()}
    try:
        import torch

        from ..train.api import train
        from ..train.history import clean

        torch.set_num_threads(max(1, trial.threads))
        net = trial.family.compile(trial.bindings)
        record.update(params=net.params_count, macs=net.cost.macs)
        data = _command_inputs(trial, net)
        h = train(net, data, device=trial.device, out=None, progress=False,
                  plots=False, **trial.recipe)
        record.update(status="interrupted" if h.stopped == "interrupted" else "ok",
                      accuracy=clean(h.best.get("val_acc")),
                      loss=clean(h.last.get("train_loss")), epochs=len(h),
                      seconds=round(sum(r.get("epoch_time") or 0 for r in h.records), 4),
                      stopped=h.stopped)
    except _CommandError as e:  # the data or device the command names: stop the search
        record.update(status="usage", error=e.error.message, help=e.error.help)
    except UserError as e:  # the member does not fit the data (classes, input shape, ...)
        record.update(status="failed", error=e.message)
    except CnnError as e:
        first = next((d for d in e.diagnostics if d.is_error), None)
        record.update(status="failed", error=f"{first.code}: {first.message}" if first
                      else str(e))
    except Exception as e:  # a member too large for memory, a numerical failure, ...
        record.update(status="failed", error=f"{type(e).__name__}: {e}")
    record["finished"] = time.time()
    return record


class _CommandError(Exception):
    """A UserError in what the command gives every member, not in the member."""

    def __init__(self, error: UserError):
        super().__init__(error.message)
        self.error = error


def _command_inputs(trial: Trial, net: Any) -> Any:
    """The device and the data set for this member, read as ``train`` would (a folder's
    mixed sizes fitted to its input, synthetic data shaped like it). _CommandError for
    what is the command's (no CUDA, an unknown data kind, a folder that cannot be read,
    an empty training set); a UserError where only this member does not fit the data:
    the same spec read without the member's input and classes reads."""
    from ..train.data import load_source
    from ..train.device import resolve_device

    try:
        resolve_device(trial.device)
    except UserError as e:
        raise _CommandError(e) from None
    try:
        source = load_source(trial.data, net.input_shape, net.num_classes)
    except UserError as e:
        try:
            load_source(trial.data)  # the spec alone
        except UserError:
            raise _CommandError(e) from None
        raise  # the member's: its input or classes do not fit the data
    if len(source.train) == 0:
        raise _CommandError(UserError(f"{source.spec}: the training set is empty",
                                      exit_code=2))
    return source


def _failed(trial: Trial, why: str) -> Record:
    now = time.time()
    return {"kind": "trial", "key": trial.key, "bindings": trial.bindings,
            "status": "failed", "error": why, "started": now, "finished": now}


# ---------------------------------------------------------------- local workers
def _fill(running: dict[Any, Trial], todo: Iterator[Trial], jobs: int,
          expired: Callable[[], bool], submit: Callable[[Trial], Any]) -> None:
    """Start trials until ``jobs`` run at once (none once ``expired()``)."""
    while len(running) < jobs and not expired():
        trial = next(todo, None)
        if trial is None:
            return
        running[submit(trial)] = trial


def _worker_init() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the search's to handle


def run_local(trials: Iterable[Trial], jobs: int, on_done: OnDone,
              expired: Callable[[], bool]) -> None:
    """Run ``trials`` in ``jobs`` spawned worker processes, at most ``jobs`` at a time
    (none started once ``expired()``); ``on_done`` gets each record as it finishes.
    On any exception (Ctrl-C) the workers are stopped and the exception goes on."""
    ctx = multiprocessing.get_context("spawn")
    todo = iter(trials)
    running: dict[Future, Trial] = {}
    pool = ProcessPoolExecutor(jobs, mp_context=ctx, initializer=_worker_init)
    try:
        while True:
            _fill(running, todo, jobs, expired, partial(pool.submit, run_trial))
            if not running:
                break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            broken = False
            for f in done:
                trial = running.pop(f)
                try:
                    on_done(f.result())
                except BrokenProcessPool:  # the worker died (killed, out of memory)
                    broken = True
                    on_done(_failed(trial, "the worker process died while training "
                                    "(out of memory?)"))
            if broken:  # every trial of a broken pool fails with it: start afresh
                for trial in running.values():
                    on_done(_failed(trial, "the worker process died while training "
                                    "(out of memory?)"))
                running.clear()
                _stop(pool)
                pool = ProcessPoolExecutor(jobs, mp_context=ctx, initializer=_worker_init)
    except BaseException:
        _stop(pool)
        raise
    pool.shutdown()


def _stop(pool: ProcessPoolExecutor) -> None:
    """Cancel what waits and end the workers now (their trials are retrained on resume)."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for p in processes:
        p.terminate()
    for p in processes:
        p.join(5)


# ---------------------------------------------------------------- Ray
def run_ray(trials: Iterable[Trial], address: str, jobs: int | None, threads: int,
            gpus: float, on_done: OnDone, expired: Callable[[], bool]) -> None:
    """The same trials as Ray tasks on the cluster at ``address``: ``threads`` CPUs
    (and ``gpus`` GPUs) each; at most ``jobs`` at a time, or as many as its CPUs
    allow."""
    try:
        import ray
    except ModuleNotFoundError:
        raise UserError("--ray needs the ray package, which is not installed",
                        help="pip install 'cnndsl[ray]' (or pip install ray)",
                        exit_code=2) from None
    _check_reachable(address)
    try:
        ray.init(address=address, logging_level="ERROR", log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError) as e:
        raise UserError(f"cannot connect to the Ray cluster at {address}: {e}",
                        help="start one with `ray start --head` and give the address it "
                             "prints (HOST:PORT)", exit_code=2) from None
    try:
        if jobs is None:
            jobs = max(1, int(ray.cluster_resources().get("CPU", 1) // max(1, threads)))
        task = ray.remote(num_cpus=threads, num_gpus=gpus, max_retries=0)(run_trial)
        todo = iter(trials)
        running: dict[Any, Trial] = {}
        try:
            while True:
                _fill(running, todo, jobs, expired, task.remote)
                if not running:
                    break
                # a timeout, so that Ctrl-C is seen: a signal waits for Python's turn
                done, _ = ray.wait(list(running), num_returns=1, timeout=0.5)
                for ref in done:
                    trial = running.pop(ref)
                    try:
                        on_done(ray.get(ref))
                    except ray.exceptions.RayError as e:  # the task's worker died
                        on_done(_failed(trial, f"the Ray task failed: {e}"))
        except BaseException:
            for ref in running:
                ray.cancel(ref, force=True)
            raise
    finally:
        ray.shutdown()


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """Refuse an address nothing listens on: ``ray.init`` would retry it for ever."""
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not port.isdigit():
        return  # "auto" and other forms Ray resolves itself
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except (OSError, ValueError) as e:
        raise UserError(f"cannot connect to the Ray cluster at {address}: "
                        f"{getattr(e, 'strerror', None) or e}",
                        help="start one with `ray start --head` and give the address it "
                             "prints (HOST:PORT)", exit_code=2) from None
