"""Searching a family: train its cheapest (or a sample of its) members for a short
schedule each, in parallel, and keep the accuracy-cost front.

NOTE: the search in four steps.

1. *Enumerate* (static, fast): every member is compiled and measured
   (:func:`~cnndsl.family.table.measure`), kept as a row of numbers; the bounds
   (``max_params``, ...) decide which are eligible.
2. *Select* (:func:`select`, pure): the ``trials`` cheapest by MACs (then parameters),
   or ``trials`` drawn with ``seed``. The same command selects the same members, which
   is what makes resuming simple.
3. *Train* (:mod:`.trials`): one trial per member not yet in the results file
   (:mod:`.results`, created as the first trial starts), in ``jobs`` worker processes
   or as Ray tasks; each record appended as it finishes.
4. *Report*: the rows of the trained members with ``accuracy`` (best validation
   accuracy, 0..1) and ``seconds`` (training time) as extra columns, the front of
   accuracy against MACs marked.

Training one member on several GPUs is ``cnndsl train`` under torchrun; a search runs
one process per trial (on Ray, one GPU per trial with ``device="cuda"``).
"""

from __future__ import annotations

import hashlib
import json
import math
import numbers
import os
import random
import re
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..diagnostics import Diagnostic, UserError
from .members import Family
from .results import Results
from .table import Bounds, Counts, Row, pareto, walk
from .trials import VERSION, Record, Trial, run_local, run_ray, trial_key

STRATEGIES = ("cheapest", "sample")
FRONT = ("macs", "accuracy")  # the front a search reports
# 90s, 30m, 1h, 1h30m, 1.5h, 1h30m15s: each unit once, in that order, each with its number
DURATION = re.compile(r"(?:(\d+(?:\.\d+)?)h)?\s*(?:(\d+(?:\.\d+)?)m)?\s*(?:(\d+(?:\.\d+)?)s)?")
SECONDS = re.compile(r"\d+(?:\.\d+)?")
DURATION_HELP = "e.g. 90s, 30m, 1h, 1h30m, 1.5h, or 90 (seconds)"
# train() arguments a search sets itself (each trial trains in memory, quietly)
NOT_RECIPE = frozenset({"out", "overwrite", "force", "resume", "progress", "plots",
                        "callback", "tensorboard", "device", "network", "data"})


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a search: what was finished is in the results file."""

    def __init__(self, done: int, total: int, path: Path | None):
        super().__init__(f"{done} of {total} trials done")
        self.done, self.total, self.path = done, total, path


class SearchResult(list):
    """The trained members' rows (by MACs), ``extra`` holding ``accuracy``,
    ``seconds``, ``status`` (``ok``, ``failed``), ``error`` (``""`` when ok) and
    ``front`` (``"*"`` on the accuracy-MACs front)."""

    name: str = ""
    counts: Counts | None = None
    selected: int = 0  # members chosen to train
    resumed: int = 0  # of those, found in the results file
    failed: int = 0
    unstarted: int = 0  # left when the budget ran out
    seconds: float = 0.0
    path: Path | None = None
    front: list[Row]
    notes: list[str]


def parse_duration(text: str | float) -> float:
    """Seconds in ``90s``, ``30m``, ``1h``, ``1h30m``, ``1.5h`` or a plain number
    (seconds). Strict: ``1h30`` (a number after a unit) or ``1m30m`` (a unit twice) is
    a usage error, not a guess.

    >>> parse_duration("90s"), parse_duration("1h30m"), parse_duration("1.5h"), parse_duration("45")
    (90.0, 5400.0, 5400.0, 45.0)
    """
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        if math.isfinite(text) and text >= 0:
            return float(text)
    elif isinstance(text, str):
        spec = text.strip().lower()
        if SECONDS.fullmatch(spec):
            return float(spec)
        m = DURATION.fullmatch(spec)
        if m and any(m.groups()):
            return sum(float(n) * unit for n, unit in zip(m.groups(), (3600, 60, 1)) if n)
    raise UserError(f"not a duration: {text!r}", help=DURATION_HELP, exit_code=2)


def select(rows: Sequence[Row], trials: int, strategy: str = "cheapest",
           seed: int = 0) -> list[Row]:
    """The members to train: the ``trials`` cheapest valid rows (MACs, then parameters,
    then enumeration order), or ``trials`` drawn with ``seed``; cheapest first.

    >>> rows = [Row(i, {"N": i}, True, params=10 * i, macs=m) for i, m in enumerate([5, 3, 9, 3])]
    >>> [r.index for r in select(rows, 2)], [r.index for r in select(rows, 2, "sample", seed=1)]
    ([1, 3], [1, 2])
    """
    if strategy not in STRATEGIES:
        raise UserError(f"unknown strategy {strategy!r}", help="choose " +
                        " or ".join(STRATEGIES), exit_code=2)
    valid = [r for r in rows if r.valid]
    if strategy == "sample":
        valid = random.Random(seed).sample(valid, min(trials, len(valid)))
    return sorted(valid, key=_cost)[:trials]


def _cost(r: Row) -> tuple[int, int, int]:
    return (r.macs or 0, r.params or 0, r.index)


def header(family: Family, data: str, recipe: dict[str, Any]) -> Record:
    """The results file's first line: what was searched. A resume must match it."""
    net = family.program.network
    head = {"generator": "cnndsl", "kind": "search", "version": VERSION,
            "family": net.name if net and net.name else family.program.source.name,
            "source": family.program.source.name,
            "source_sha256": source_sha256(family),
            "compile": {"fixed": dict(family.space.fixed), "input": family.input,
                        "preset": family.preset},
            "data": data, "recipe": recipe}
    return json.loads(json.dumps(head))  # tuples as lists: compared with the file's


def source_sha256(family: Family) -> str:
    """The hash of the texts every member is compiled from: the file's, then each file
    it imports in load order. Texts, not paths, so that a moved project still resumes;
    a file that imports nothing hashes its text alone, as results files always have."""
    texts = [family.program.source.text, *family.imported_sources.values()]
    hashed = texts[0] if len(texts) == 1 else json.dumps(texts)
    return hashlib.sha256(hashed.encode()).hexdigest()


def search(family_or_source: Family | str | os.PathLike, data: str, *, trials: int = 8,
           strategy: str = "cheapest", epochs: int = 2, jobs: int | None = None,
           threads: int | None = None, results: str | os.PathLike | None = None,
           budget: str | float | None = None, bounds: Bounds | None = None,
           sample: int | None = None, seed: int = 0, device: str = "auto",
           ray_address: str | None = None, retry_failed: bool = False,
           report: Callable[[Record, int, int], None] | None = None,
           warn: Callable[[list[Diagnostic]], None] | None = None,
           **recipe: Any) -> SearchResult:
    """Train ``trials`` members of a family on ``data`` (a data spec, ``"digits"``) for
    ``epochs`` each and return their rows (:class:`SearchResult`).

    ``jobs`` worker processes (default 1; on Ray, as many as the cluster's CPUs allow)
    with ``threads`` torch threads each (default: the cores shared out). ``results``:
    a JSON Lines file (created, with missing folders, as the first trial starts); trials
    already in it are not trained again (failed ones only with ``retry_failed``).
    ``budget`` (``"30m"``, seconds): no trial starts after it. The counts (``trials``,
    ``epochs``, ``jobs``, ``threads``, ``sample``) are whole numbers >= 1. The
    ``recipe`` is :func:`cnndsl.train`'s (``batch_size``, ``optimizer``, ``lr``, ...).
    ``report(record, done, total)`` is called as each trial finishes; ``warn`` is given
    the family's warnings (W0201: a binding no member uses) before any trial starts.

    >>> rows = search("network f(N in 1..2):\\n input 1x8x8\\n conv(4)*N - gap - fc(10)",
    ...               "digits", trials=2, epochs=1)                     # doctest: +SKIP
    >>> [(r.bindings, r.extra["accuracy"]) for r in rows]               # doctest: +SKIP
    [({'N': 1}, 0.31...), ({'N': 2}, 0.25...)]
    """
    _check_counts(trials=trials, epochs=epochs, jobs=jobs, threads=threads, sample=sample)
    start = time.monotonic()
    family = family_or_source if isinstance(family_or_source, Family) else \
        Family(family_or_source)
    recipe = _recipe(epochs, recipe)
    deadline = None if budget is None else start + parse_duration(budget)
    rows, counts = walk(family, bounds, sample, seed)
    if warn is not None and family.unused_bindings:
        warn(family.unused_bindings)
    chosen = select(rows, trials, strategy, seed)
    head = header(family, data, recipe)
    # nothing to train, nothing to resume: a family with no valid member is refused
    # for its own error, not for a results file an earlier version of it wrote
    store, records, notes = (Results.open(results, head) if results is not None and chosen
                             else (None, {}, []))
    keys = {trial_key(r.bindings) for r in chosen}
    redo = {"failed"} if retry_failed else set()
    resumed = sum(1 for k in keys if k in records and records[k].get("status") not in redo)
    local = ray_address is None
    jobs = jobs or (1 if local else None)
    if threads is None:  # locally the cores are shared out; a Ray task asks for one
        threads = max(1, _cores() // jobs) if local else 1
    todo = [Trial(family, r.bindings, data, recipe, device, threads) for r in chosen
            if (rec := records.get(trial_key(r.bindings))) is None or rec.get("status") in redo]
    starting = todo if store is None else _first_starts(todo, store.begin)
    done = [resumed]

    def finished(record: Record) -> None:
        if record.get("status") == "usage":  # the command's mistake, not the member's
            raise UserError(record.get("error", "the trial could not start"),
                            help=record.get("help"), exit_code=2)
        if record.get("status") == "interrupted":
            return
        with _interrupt_deferred():  # a record on disk is a trial counted as done
            if store is not None:
                store.append(record)
            records[record["key"]] = record
            done[0] += 1
        if report is not None:
            report(record, done[0], len(chosen))

    def expired() -> bool:
        return deadline is not None and time.monotonic() >= deadline

    try:
        if local:
            run_local(starting, jobs, finished, expired)
        else:
            run_ray(starting, ray_address, jobs, threads,
                    1 if device.startswith("cuda") else 0, finished, expired)
    except KeyboardInterrupt:
        raise Interrupted(done[0], len(chosen), store.path if store else None) from None
    out = _rows(rows, records)
    out.name, out.counts, out.selected, out.resumed = head["family"], counts, len(chosen), resumed
    out.unstarted = sum(1 for k in keys if k not in records)
    out.failed = sum(1 for r in out if r.extra["status"] != "ok")
    out.seconds, out.notes = time.monotonic() - start, notes
    out.path = None if results is None else Path(results)
    return out


def _check_counts(**counts: Any) -> None:
    """Each count a whole number >= 1 (``None``: the default, where there is one): a
    negative ``trials`` would slice off members, a fractional ``sample`` round up."""
    for name, value in counts.items():
        if value is None and name not in ("trials", "epochs"):
            continue
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise UserError(f"search(): {name} must be a whole number, at least 1, got "
                            f"{value!r}", exit_code=2)


def _first_starts(trials: list[Trial], begin: Callable[[], None]) -> Iterator[Trial]:
    """The trials, ``begin()`` called as the first is about to start (not sooner: a
    search whose budget is spent, or with nothing to train, writes nothing)."""
    for i, trial in enumerate(trials):
        if i == 0:
            begin()
        yield trial


def _recipe(epochs: int, given: dict[str, Any]) -> dict[str, Any]:
    """The training recipe, checked now (an unknown optimizer is the command's mistake,
    better said before any member trains)."""
    from ..train.config import make_recipe

    wrong = sorted(set(given) & NOT_RECIPE)
    if wrong:
        raise UserError(f"a search sets {', '.join(wrong)} itself", exit_code=2)
    recipe = {"epochs": epochs, **{k: v for k, v in given.items() if v is not None}}
    try:
        r = make_recipe(None, **recipe)
    except TypeError as e:
        raise UserError(f"not a training option: {e}", exit_code=2) from None
    if len(r.optimizers) > 1:
        raise UserError("a search trains each member with one optimizer", help="compare "
                        "optimizers on one member with cnndsl train --optimizer a,b",
                        exit_code=2)
    return recipe


def _rows(rows: list[Row], records: dict[str, Record]) -> SearchResult:
    """The admitted members with a record (this search's and earlier ones'), by MACs."""
    out = SearchResult()
    for r in sorted(rows, key=_cost):
        rec = records.get(trial_key(r.bindings))
        if rec is None:
            continue
        r.extra = {"accuracy": rec.get("accuracy"), "seconds": rec.get("seconds"),
                   "status": rec.get("status"), "error": rec.get("error") or "", "front": "",
                   "pid": rec.get("pid"), "started": rec.get("started")}
        out.append(r)
    ok = [r for r in out if r.extra["status"] == "ok" and r.extra["accuracy"] is not None]
    out.front = pareto(ok, list(FRONT))
    for r in out.front:
        r.extra["front"] = "*"
    return out


@contextmanager
def _interrupt_deferred() -> Iterator[None]:
    """Ctrl-C inside the block takes effect as it ends (in the main thread, where
    Python runs signal handlers; elsewhere the block runs as is)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[tuple[int, Any]] = []
    previous = signal.signal(signal.SIGINT, lambda *args: caught.append(args))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if caught:
            if callable(previous):
                previous(*caught[0])
            else:  # SIG_DFL ends the process as it would have; SIG_IGN drops it
                signal.raise_signal(signal.SIGINT)


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
