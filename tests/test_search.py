"""cnndsl search: which members it picks, training them in parallel workers, the results
file (resume, refusals, a cut-short line), and the same on a local Ray cluster."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from cnndsl.cli import main
from cnndsl.family import Family
from cnndsl.family.search import _interrupt_deferred, header, select
from cnndsl.family.table import Bounds, walk
from cnndsl.family.trials import trial_key

ROOT = Path(__file__).resolve().parents[1]
# The slides' template on the digits' 1x8x8 images: 24 bindings, 22 members.
SLIDES = """\
network slides(N in 1..3, M in 1..2, K in 0..1):
    input 1x8x8
    [(CONV-RELU)*N-POOL?]*M-(FC-RELU)*K,SOFTMAX
"""
FAST = ["--data", "digits", "--epochs", "1", "--batch-size", "64"]


@pytest.fixture
def slides(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    p = tmp_path / "slides.cnn"
    p.write_text(SLIDES, encoding="utf-8")
    return p


def _records(path: Path) -> tuple[dict, list[dict]]:
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    return lines[0], lines[1:]


def _overlap(a: dict, b: dict) -> bool:
    return a["started"] < b["finished"] and b["started"] < a["finished"]


# ---------------------------------------------------------------- which members
def test_cheapest_picks_the_members_with_fewest_macs():
    rows, counts = walk(Family(SLIDES))
    assert counts.valid == 22 and len(rows) == 22
    brute = sorted(rows, key=lambda r: (r.macs, r.params, r.index))
    assert select(rows, 5) == brute[:5]
    assert select(rows, 100) == brute  # more trials than members: all of them
    bounded, _ = walk(Family(SLIDES), Bounds(max_params=30_000))
    assert bounded and all(r.params <= 30_000 for r in bounded)
    assert select(bounded, 3) == [r for r in brute if r.params <= 30_000][:3]


def test_sample_is_reproducible_by_seed():
    rows, _ = walk(Family(SLIDES))
    first = select(rows, 4, "sample", seed=7)
    assert first == select(rows, 4, "sample", seed=7) and len(first) == 4
    assert first == sorted(first, key=lambda r: (r.macs, r.params, r.index))
    draws = {tuple(r.index for r in select(rows, 4, "sample", seed=s)) for s in range(5)}
    assert len(draws) > 1


# ---------------------------------------------------------------- training
def test_jobs_2_trains_in_two_workers_at_once(slides, capsys):
    assert main(["search", str(slides), *FAST, "--trials", "4", "--jobs", "2"]) == 0
    out = capsys.readouterr()
    head, trials = _records(slides.parent / "search-slides.jsonl")
    assert head["generator"] == "cnndsl" and head["kind"] == "search"
    assert head["data"] == "digits" and head["recipe"] == {"epochs": 1, "batch_size": 64}
    rows, _ = walk(Family(slides))
    chosen = {trial_key(r.bindings): r for r in select(rows, 4)}
    assert sorted(t["key"] for t in trials) == sorted(chosen)
    for t in trials:
        assert t["status"] == "ok" and 0 <= t["accuracy"] <= 1 and t["epochs"] == 1
        assert (t["params"], t["macs"]) == (chosen[t["key"]].params, chosen[t["key"]].macs)
    assert len({t["pid"] for t in trials}) == 2 and os.getpid() not in {t["pid"] for t in trials}
    assert any(a["pid"] != b["pid"] and _overlap(a, b) for a in trials for b in trials)
    assert "front" in out.out and "*" in out.out
    assert "4 trials (0 resumed from search-slides.jsonl, 0 failed)" in out.out
    assert out.err.count("[") == 4  # one line per finished trial


def test_an_interrupted_search_resumes_without_retraining(slides):
    results = slides.parent / "r.jsonl"
    argv = [sys.executable, "-m", "cnndsl", "search", str(slides), "--data", "digits",
            "--trials", "4", "--jobs", "1", "--epochs", "15", "--results", str(results)]
    proc = subprocess.Popen(argv, cwd=slides.parent, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if results.exists() and '"trial"' in results.read_text():
                break
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "interrupted; run the same command again to resume (" in err
    before = results.read_bytes()
    _, done = _records(results)
    assert 1 <= len(done) < 4 and f"({len(done)} of 4 trials done" in err
    again = subprocess.run(argv, cwd=slides.parent, capture_output=True, text=True,
                           timeout=300)
    assert again.returncode == 0, again.stderr
    after = results.read_bytes()
    assert after.startswith(before)  # the finished trials stand as they were
    _, trials = _records(results)
    assert len(trials) == 4 and len({t["key"] for t in trials}) == 4
    assert f"{len(done)} resumed from" in again.stdout


def test_ctrl_c_while_a_record_is_written_waits_until_it_is_counted():
    # the race CI once lost: SIGINT between writing a trial and counting it
    steps = []
    with pytest.raises(KeyboardInterrupt):
        with _interrupt_deferred():
            signal.raise_signal(signal.SIGINT)
            steps.append("written")
            steps.append("counted")
    assert steps == ["written", "counted"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def _fake_results(path: Path, family: Family, recipe: dict, trials: list[dict]) -> None:
    head = header(family, "digits", recipe)
    path.write_text("".join(json.dumps(r) + "\n" for r in [head, *trials]))


def _fake_trial(bindings: dict, **fields) -> dict:
    return {"kind": "trial", "key": trial_key(bindings), "bindings": bindings,
            "status": "ok", "accuracy": 0.5, "seconds": 1.0, "pid": 1, "started": 1.0,
            "finished": 2.0, **fields}


def test_recorded_members_are_not_trained_again_and_a_cut_line_is_dropped(slides, capsys):
    family = Family(slides)
    cheapest = select(walk(family)[0], 2)
    results = slides.parent / "r.jsonl"
    _fake_results(results, family, {"epochs": 1},
                  [_fake_trial(cheapest[0].bindings, accuracy=0.25),
                   _fake_trial(cheapest[1].bindings, status="failed", accuracy=None,
                               error="boom")])
    good = results.read_bytes()
    results.write_bytes(good + b'{"kind": "trial", "key": "{\\"K')  # killed mid-write
    assert main(["search", str(slides), "--data", "digits", "--epochs", "1", "--trials",
                 "2", "--results", str(results)]) == 0  # nothing left to train
    out = capsys.readouterr()
    assert "ignored a truncated last line" in out.err
    assert results.read_bytes() == good
    assert "2 trials (2 resumed from" in out.out and "1 failed" in out.out
    assert "0.25" in out.out


def test_a_different_recipe_or_a_foreign_file_is_refused(slides, capsys):
    family = Family(slides)
    results = slides.parent / "r.jsonl"
    _fake_results(results, family, {"epochs": 1}, [])
    before = results.read_bytes()
    assert main(["search", str(slides), *FAST, "--results", str(results)]) == 2
    err = capsys.readouterr().err
    assert "holds a different search: recipe" in err and "--results OTHER" in err
    assert results.read_bytes() == before
    foreign = slides.parent / "notes.jsonl"
    foreign.write_text("my notes\n")
    assert main(["search", str(slides), *FAST, "--results", str(foreign)]) == 2
    assert "not a cnndsl search results file" in capsys.readouterr().err
    assert foreign.read_text() == "my notes\n"


def test_a_spent_budget_starts_nothing_and_writes_nothing(slides, capsys):
    assert main(["search", str(slides), *FAST, "--budget", "0s"]) == 0
    assert "8 trials (0 resumed from search-slides.jsonl, 0 failed, 8 not started (budget spent))" in capsys.readouterr().out
    assert not (slides.parent / "search-slides.jsonl").exists()


def test_a_wrong_data_spec_stops_the_search(slides, capsys):
    assert main(["search", str(slides), "--data", "nothing:x", "--trials", "1"]) == 2
    assert "unknown data kind" in capsys.readouterr().err
    assert not (slides.parent / "search-slides.jsonl").exists()


def test_a_misspelt_binding_is_warned_before_any_trial(slides, capsys):
    assert main(["search", str(slides), *FAST, "--budget", "0s", "--set", "hiden=64"]) == 0
    err = capsys.readouterr().err
    assert "warning[W0201]: parameter `hiden` was bound but the network does not use it" in err


def test_the_example_runs(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "search_slides.py")],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "[4/4]" in done.stdout and "the front" in done.stdout
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- hardening
def test_a_results_path_that_cannot_be_written_is_refused_before_any_training(slides,
                                                                              capsys):
    (slides.parent / "somefile.csv").write_text("a,b\n")
    bad = ["somefile.csv/r.jsonl"] + (["/proc/r.jsonl"] if Path("/proc/self").exists() else [])
    for path in bad:
        started = time.monotonic()
        assert main(["search", str(slides), *FAST, "--trials", "2", "--results", path]) == 2
        err = capsys.readouterr().err
        assert f"the results file {path}: " in err and "internal error" not in err
        assert "[1/2]" not in err and time.monotonic() - started < 5  # nothing trained
    assert (slides.parent / "somefile.csv").read_text() == "a,b\n"


def test_a_failed_append_is_a_usage_error_and_keeps_the_file(tmp_path, monkeypatch):
    from cnndsl.diagnostics import UserError
    from cnndsl.family import results as results_module
    head = header(Family(SLIDES), "digits", {"epochs": 1})
    store, _, _ = results_module.Results.open(tmp_path / "new" / "r.jsonl", head)
    store.begin()  # the missing folder is created, the header written
    store.append(_fake_trial({"N": 1}))

    def disk_full(fd, data):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(results_module, "_write_all", disk_full)
    with pytest.raises(UserError, match=r"r\.jsonl: No space left on device") as e:
        store.append(_fake_trial({"N": 2}))
    assert e.value.exit_code == 2 and "run the same command again" in e.value.help
    assert _records(store.path) == (head, [_fake_trial({"N": 1})])


def test_two_searches_creating_one_file_share_it_and_a_different_one_is_refused(tmp_path):
    from cnndsl.diagnostics import UserError
    from cnndsl.family.results import Results
    family, path = Family(SLIDES), tmp_path / "r.jsonl"
    head = header(family, "digits", {"epochs": 1})
    first, _, _ = Results.open(path, head)
    second, _, _ = Results.open(path, head)  # both found no file
    other, _, _ = Results.open(path, header(family, "digits", {"epochs": 2}))
    first.begin()
    second.begin()
    assert not path.exists()  # the file comes with the first record
    second.append(_fake_trial({"N": 1}))
    first.append(_fake_trial({"N": 2}))  # finds the file the second created: same header
    assert _records(path) == (head, [_fake_trial({"N": 1}), _fake_trial({"N": 2})])
    with pytest.raises(UserError, match="holds a different search: recipe"):
        other.append(_fake_trial({"N": 3}))
    assert _records(path)[1] == [_fake_trial({"N": 1}), _fake_trial({"N": 2})]


def test_a_write_that_fails_leaves_no_file_and_an_empty_one_is_taken_as_new(tmp_path,
                                                                            monkeypatch):
    from cnndsl.diagnostics import UserError
    from cnndsl.family import results
    family, path = Family(SLIDES), tmp_path / "r.jsonl"
    head = header(family, "digits", {"epochs": 1})
    store, _, _ = results.Results.open(path, head)

    def full(fd, data):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(results.os, "write", full)
    with pytest.raises(UserError, match="No space left on device"):
        store.append(_fake_trial({"N": 1}))
    assert not path.exists()  # a rerun is not refused for an empty file
    monkeypatch.undo()
    path.write_bytes(b"")  # a search killed between creating the file and writing it
    store, records, _ = results.Results.open(path, head)
    store.begin()
    store.append(_fake_trial({"N": 1}))
    assert records == {} and _records(path) == (head, [_fake_trial({"N": 1})])


@pytest.mark.parametrize("bad", [{"trials": -1}, {"trials": 0}, {"jobs": -1},
                                 {"threads": 0}, {"sample": 2.5}, {"epochs": True},
                                 {"trials": "2"}])
def test_search_from_python_checks_its_counts(tmp_path, bad):
    from cnndsl.diagnostics import UserError
    from cnndsl.family.search import search
    name = next(iter(bad))
    with pytest.raises(UserError, match=f"{name} must be a whole number, at least 1") as e:
        search(SLIDES, "digits", results=tmp_path / "r.jsonl", **bad)
    assert e.value.exit_code == 2 and list(tmp_path.iterdir()) == []


def test_durations_are_read_strictly():
    from cnndsl.diagnostics import UserError
    from cnndsl.family.search import parse_duration
    good = {"90s": 90, "30m": 1800, "1h": 3600, "1h30m": 5400, "1.5h": 5400, "90": 90,
            " 2H ": 7200, "1h30m15s": 5415, "0s": 0, 45: 45}
    assert {k: parse_duration(k) for k in good} == good
    for text in ("1h30", "1m30m", "30m1h", "", "h", "1.h", "-5", "1d", "1h 30", 1e999, -1,
                 True):
        with pytest.raises(UserError, match="not a duration") as e:
            parse_duration(text)
        assert "1h30m" in e.value.help and e.value.exit_code == 2


def test_json_and_csv_list_each_trials_status_and_error(slides, capsys):
    family = Family(slides)
    cheapest = select(walk(family)[0], 2)
    results = slides.parent / "r.jsonl"
    _fake_results(results, family, {"epochs": 1},
                  [_fake_trial(cheapest[0].bindings, accuracy=0.25),
                   _fake_trial(cheapest[1].bindings, status="failed", accuracy=None,
                               error="RuntimeError: boom")])
    argv = ["search", str(slides), "--data", "digits", "--epochs", "1", "--trials", "2",
            "--results", str(results), "--format"]
    assert main([*argv, "json"]) == 0  # all recorded: nothing trains
    members = json.loads(capsys.readouterr().out)["members"]
    assert [(m["status"], m["error"], m["accuracy"]) for m in members] == [
        ("ok", "", 0.25), ("failed", "RuntimeError: boom", None)]
    assert main([*argv, "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    head = lines[0].split(",")
    cells = [dict(zip(head, line.split(","))) for line in lines[1:]]
    assert [(c["status"], c["error"], c["accuracy"]) for c in cells] == [
        ("ok", "", "0.25"), ("failed", "RuntimeError: boom", "")]


def test_source_text_names_the_default_results_file_safely(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    named = "network f(N in 1..2):\n input 1x8x8\n conv(4)*N - gap - fc(10)"
    nameless = "input 1x8x8\nconv(4) - gap - fc(10)"
    for text, file in ((named, "search-f.jsonl"), (nameless, "search-network.jsonl")):
        assert main(["search", text, *FAST, "--budget", "0s"]) == 0
        assert f"resumed from {file}," in capsys.readouterr().out


# ---------------------------------------------------------------- review fixes
IMPORTER = """\
import "blocks.cnn"
network fam(N in 1..2):
    input 1x8x8
    unit(4) * N - gap - fc(10)
"""


def test_an_edited_import_is_a_different_search_and_a_moved_project_resumes(tmp_path,
                                                                            monkeypatch,
                                                                            capsys):
    # a family without imports hashes as it always has: older results files resume
    assert header(Family(SLIDES), "digits", {})["source_sha256"] == \
        hashlib.sha256(SLIDES.encode()).hexdigest()
    project = tmp_path / "project"
    project.mkdir()
    (project / "fam.cnn").write_text(IMPORTER)
    (project / "blocks.cnn").write_text("block unit(c) = conv(c) - relu\n")
    monkeypatch.chdir(project)
    family = Family(project / "fam.cnn")
    assert header(family, "digits", {})["source_sha256"] != \
        hashlib.sha256(IMPORTER.encode()).hexdigest()  # the import is in it
    results = tmp_path / "r.jsonl"
    _fake_results(results, family, {"epochs": 1},
                  [_fake_trial(r.bindings) for r in select(walk(family)[0], 2)])
    before = results.read_bytes()
    argv = ["search", "fam.cnn", "--data", "digits", "--epochs", "1", "--trials", "2",
            "--results", str(results)]
    moved = tmp_path / "moved"
    shutil.copytree(project, moved)
    monkeypatch.chdir(moved)  # the same texts elsewhere: the same search
    assert main(argv) == 0 and "2 trials (2 resumed from" in capsys.readouterr().out
    (moved / "blocks.cnn").write_text("block unit(c) = conv(c, 1)\n")
    assert main(argv) == 2  # the recorded accuracies are the old network's
    err = capsys.readouterr().err
    assert "holds a different search: the source (fam.cnn) or a file it imports changed" in err
    assert "restore the files" in err and results.read_bytes() == before


FIT = """\
network fit:
    input 1x8x8
    conv(4) - relu - gap - fc(10) - FC(3)?
"""


def test_a_member_that_does_not_fit_the_data_fails_alone_and_is_retried(tmp_path,
                                                                         monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "fit.cnn").write_text(FIT)
    argv = ["search", "fit.cnn", *FAST, "--trials", "2"]
    assert main(argv) == 0
    out = capsys.readouterr()
    assert "2 trials (0 resumed from search-fit.jsonl, 1 failed)" in out.out
    _, trials = _records(tmp_path / "search-fit.jsonl")
    status = {t["bindings"]["fc(3)?"]: (t["status"], t.get("error", "")) for t in trials}
    assert status[False][0] == "ok"
    assert status[True] == ("failed", "digits: label 3 (sample 3) is out of range for 3 "
                            "classes (valid labels are 0..2)")
    assert main([*argv, "--retry-failed"]) == 0  # trained again, failed again, recorded
    assert "[2/2] fc(3)?=on: failed: digits: label 3" in capsys.readouterr().err
    _, trials = _records(tmp_path / "search-fit.jsonl")
    assert [t["bindings"]["fc(3)?"] for t in trials[2:]] == [True]


def test_what_the_command_gets_wrong_stops_a_trial_and_what_the_member_does_fails_it():
    from cnndsl.family.trials import Trial, run_trial
    family = Family(FIT)
    recipe = {"epochs": 1, "batch_size": 64}
    ok, too_few = ({"fc(3)?": on} for on in (False, True))
    assert run_trial(Trial(family, ok, "nothing:x", recipe))["status"] == "usage"
    assert run_trial(Trial(family, ok, "folder:no/such/dir", recipe))["status"] == "usage"
    assert run_trial(Trial(family, too_few, "nothing:x", recipe))["status"] == "usage"
    member = run_trial(Trial(family, too_few, "digits", recipe))
    assert member["status"] == "failed" and "out of range for 3 classes" in member["error"]
    fits = run_trial(Trial(family, ok, "synthetic:N=64,shape=1x8x8", recipe))
    assert fits["status"] == "ok" and 0 <= fits["accuracy"] <= 1


@pytest.mark.parametrize("spec", ["folder:no/such/dir", "digits:extra"])
def test_an_unreadable_data_spec_stops_the_search_at_the_first_trial(slides, capsys, spec):
    assert main(["search", str(slides), "--data", spec, "--trials", "2"]) == 2
    err = capsys.readouterr().err
    assert f"error: {spec.partition(':')[0]}" in err and "[1/2]" not in err
    assert not (slides.parent / "search-slides.jsonl").exists()


def test_a_family_no_member_of_which_compiles_gives_its_own_error(tmp_path, monkeypatch,
                                                                   capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.cnn").write_text("block skip = id\n" + SLIDES)
    results = tmp_path / "search-slides.jsonl"
    results.write_text('{"generator": "cnndsl", "kind": "search", "version": 1}\n')
    for extra in ([], ["--sample", "3", "--seed", "4"]):
        assert main(["search", "bad.cnn", *FAST, *extra]) == 1
        err = capsys.readouterr().err
        assert "error[E0405]: `skip` is a built-in layer" in err
        assert "no valid member" not in err and "different search" not in err
    assert main(["search", str(ROOT / "zoo" / "lenet5.cnn"), *FAST, "--preset", "nope"]) == 1
    assert "no valid member" not in capsys.readouterr().err


def test_the_footer_and_csv_of_a_family_without_free_dimensions(tmp_path, monkeypatch,
                                                                 capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "one.cnn").write_text("input 1x8x8\nconv(4) - gap - fc(10)\n")
    results = tmp_path / "r.jsonl"
    _fake_results(results, Family(tmp_path / "one.cnn"), {"epochs": 1},
                  [_fake_trial({}, accuracy=0.12812345678901, seconds=1.23456)])
    argv = ["search", "one.cnn", "--data", "digits", "--epochs", "1", "--results",
            str(results)]
    assert main(argv) == 0  # recorded: nothing trains
    assert "front: the network (12.8%)" in capsys.readouterr().out
    assert main([*argv, "--format", "csv"]) == 0
    head, row = capsys.readouterr().out.splitlines()
    cells = dict(zip(head.split(","), row.split(",")))
    assert (cells["accuracy"], cells["seconds"]) == ("0.12812345678901", "1.23456")


# ---------------------------------------------------------------- Ray
def test_a_ray_address_nothing_listens_on_is_refused_at_once(slides, capsys):
    """ray.init would retry such an address for ever; a closed port and a name that does
    not resolve are usage errors before anything is written (Ray itself not needed)."""
    from cnndsl.diagnostics import UserError
    from cnndsl.family.trials import _check_reachable
    for address in (f"127.0.0.1:{_free_port()}", f"ray://127.0.0.1:{_free_port()}",
                    "no-such-host.invalid:6379"):
        with pytest.raises(UserError, match=r"cannot connect to the Ray cluster at ") as e:
            _check_reachable(address, timeout=2)
        assert e.value.exit_code == 2 and "ray start --head" in str(e.value)
    _check_reachable("auto")  # Ray finds a local cluster itself
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        _check_reachable(f"127.0.0.1:{listening.getsockname()[1]}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_the_trials_run_on_a_local_ray_cluster(slides):
    """A Ray head of the test's own on the loopback address (its own session and temp
    folder, stopped by ending that session: other Ray clusters on the machine are left
    alone), then the search with --ray ADDRESS."""
    pytest.importorskip("ray")
    ray_bin = Path(sys.executable).with_name("ray")
    port = _free_port()
    temp = tempfile.mkdtemp(prefix="ray")  # short: Ray's socket paths must fit 107 bytes
    head = subprocess.Popen(
        [str(ray_bin), "start", "--head", "--block", "--node-ip-address=127.0.0.1",
         f"--port={port}", "--num-cpus=2", "--include-dashboard=false",
         "--disable-usage-stats", f"--temp-dir={temp}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        _wait_for_port(port, head)
        done = subprocess.run(
            [sys.executable, "-m", "cnndsl", "search", str(slides), *FAST, "--trials", "3",
             "--ray", f"127.0.0.1:{port}"], cwd=slides.parent, capture_output=True,
            text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        _, trials = _records(slides.parent / "search-slides.jsonl")
        assert len(trials) == 3 and all(t["status"] == "ok" for t in trials)
        assert "3 trials (0 resumed" in done.stdout
    finally:
        _end_session(head)
        shutil.rmtree(temp, ignore_errors=True)


def _wait_for_port(port: int, head: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert head.poll() is None, "ray start exited"
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError(f"no Ray head on port {port} after {timeout} s")


def _end_session(head: subprocess.Popen) -> None:
    """SIGTERM to the head's session (`ray start --block` then stops what it started),
    SIGKILL to whatever is left of it."""
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 10)):
        try:
            os.killpg(head.pid, sig)
        except ProcessLookupError:
            return
        try:
            head.wait(timeout=wait)
            time.sleep(1)
        except subprocess.TimeoutExpired:
            continue


def test_a_member_the_data_cannot_be_read_for_fails_alone(tmp_path, monkeypatch, capsys):
    """synthetic data for a member with one class cannot be made (it needs two): that is
    the member's, since the spec reads for the others; the search goes on."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "cls.cnn").write_text("network f(classes in {1, 2}):\n    input 1x8x8\n"
                                      "    conv(4) - gap - fc(classes)\n", encoding="utf-8")
    assert main(["search", "cls.cnn", "--data", "synthetic:N=32,shape=1x8x8", "--trials",
                 "2", "--epochs", "1", "--format", "json"]) == 0
    trials = {t["bindings"]["classes"]: t for t in _records(tmp_path / "search-f.jsonl")[1]}
    assert trials[1]["status"] == "failed" and "classes >= 2" in trials[1]["error"]
    assert trials[2]["status"] == "ok"
