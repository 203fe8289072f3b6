"""cnndsl train / eval / predict: flags, outputs, exit codes."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from fakenet import FakeNetwork

from cnndsl.diagnostics import UserError
from cnndsl.train import cli
from cnndsl.train import inference as inference_mod

NET = FakeNetwork("tiny", (1, 8, 8), 4, name="tiny")
SYN = "synthetic:N=64,shape=1x8x8,classes=4,noise=0.3"


def parser() -> tuple[argparse.ArgumentParser, dict]:
    p = argparse.ArgumentParser(prog="cnndsl")
    sub = p.add_subparsers(dest="command")
    return p, cli.add_parsers(sub)


def run(argv: list[str], compile_fn=None) -> int:
    p, handlers = parser()
    args = p.parse_args(argv)
    if args.command == "train":
        return cli.run_train(args, compile_fn)
    return handlers[args.command](args)


def fake_compile(calls: list):
    def compile_fn(path, bindings=None, input=None):
        calls.append((path, bindings, input))
        return NET
    return compile_fn


def test_every_train_flag_parses() -> None:
    p, handlers = parser()
    assert set(handlers) == {"train", "eval", "predict", "export", "lr-find"}
    a = p.parse_args([
        "train", "net.cnn", "--data", "mnist:/d", "--epochs", "3", "--batch-size", "32",
        "--optimizer", "sgd", "--lr", "0.1", "--weight-decay", "1e-4", "--momentum", "0.8",
        "--nesterov", "--schedule", "cosine", "--warmup", "0.5", "--step-size", "2",
        "--gamma", "0.5", "--patience", "4", "--init", "he", "--preset", "resnet2015",
        "--label-smoothing", "0.1", "--clip-grad", "2", "--seed", "3", "--val-split", "0.1",
        "--augment", "crop:2,flip", "--no-normalize", "--device", "cuda:1", "--no-amp",
        "--no-channels-last", "--compile", "--no-data-on-device", "--no-pin-memory",
        "--sync-bn", "--deterministic", "--out", "o", "--overwrite", "--set", "classes=4",
        "--set", "width=2", "--input", "1x8x8", "--no-plots", "-q"])
    assert (a.epochs, a.batch_size, a.lr, a.nesterov, a.warmup, a.amp, a.compile) == \
        (3, 32, 0.1, True, 0.5, "off", True)
    assert (a.channels_last, a.data_on_device, a.pin_memory, a.normalize) == \
        (False, False, False, False)
    assert a.set == ["classes=4", "width=2"] and a.progress == "none" and not a.plots
    b = p.parse_args(["train", "net.cnn", "--compile", "aot_eager", "--amp", "bf16"])
    assert (b.compile, b.amp, b.nesterov, b.channels_last, b.out) == \
        ("aot_eager", "bf16", None, None, None)
    c = p.parse_args(["train", "net.cnn", "--preset", "airbench94", "--schedule", "linear",
                      "--warmup-start", "0.2", "--lr-end", "0.07", "--norm-bias-lr", "64",
                      "--freeze-norm-weight", "--whiten", "--whiten-bias-epochs", "3",
                      "--lookahead", "--tta", "flip-translate", "--init", "w.pth",
                      "--augment", "flip,translate:2"])
    assert (c.preset, c.warmup_start, c.lr_end, c.norm_bias_lr, c.freeze_norm_weight,
            c.whiten, c.whiten_bias_epochs, c.lookahead, c.tta, c.init) == \
        ("airbench94", 0.2, 0.07, 64.0, True, True, 3.0, True, "flip-translate", "w.pth")
    d = p.parse_args(["train", "net.cnn"])
    assert (d.freeze_norm_weight, d.whiten, d.lookahead, d.tta) == (None, None, None, None)


def test_parse_set() -> None:
    assert cli.parse_set(["classes=10", "p=0.5", "bn=off", "act=relu"]) == \
        {"classes": 10, "p": 0.5, "bn": False, "act": "relu"}
    with pytest.raises(UserError, match="K=V"):
        cli.parse_set(["classes"])


def test_train_then_eval_then_predict(tmp_path: Path, monkeypatch, capsys) -> None:
    calls: list = []
    out = tmp_path / "run"
    code = run(["train", "net.cnn", "--data", SYN, "--epochs", "2", "--batch-size", "16",
                "--lr", "0.01", "--set", "classes=4", "--input", "1x8x8", "--out", str(out),
                "--progress", "lines"], fake_compile(calls))
    assert code == 0
    assert calls == [("net.cnn", {"classes": 4}, "1x8x8")]
    text = capsys.readouterr().out
    assert "input: data 1x8x8 -> network 1x8x8: no resizing" in text
    assert "epoch 2/2" in text and f"run in {out}/" in text
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 2

    monkeypatch.setattr(inference_mod, "rebuild", lambda *a: NET)
    assert run(["eval", str(out), "--json"]) == 0
    ev = json.loads(capsys.readouterr().out)
    assert ev["count"] == 13 and 0 <= ev["accuracy"] <= 1 and len(ev["confusion"]) == 4
    assert (out / "confusion.png").is_file()
    assert run(["eval", str(out / "best.pt"), "--split", "all"]) == 0
    text = capsys.readouterr().out
    assert "(all): 64 images" in text and "confusion matrix (rows: true" in text

    import numpy as np

    from cnndsl.train.data.images import write_netpbm
    img = tmp_path / "a.pgm"
    write_netpbm(img, np.zeros((1, 8, 8), np.uint8))
    assert run(["predict", str(out), str(img), "--top", "2"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(f"{img}: ") and line.count("%") == 2


def test_default_out_is_runs_name_and_never_overwrites(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    argv = ["train", "net.cnn", "--data", SYN, "--epochs", "1", "-q", "--no-plots"]
    assert run(argv, fake_compile([])) == 0
    assert run(argv, fake_compile([])) == 0
    assert (tmp_path / "runs" / "tiny" / "last.pt").is_file()
    assert (tmp_path / "runs" / "tiny-2" / "last.pt").is_file()


def test_resume_from_the_command_line(tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / "run"
    assert run(["train", "net.cnn", "--data", SYN, "--epochs", "1", "--out", str(out), "-q"],
               fake_compile([])) == 0
    monkeypatch.setattr("cnndsl.train.api.rebuild", lambda *a: NET)
    assert run(["train", "--resume", str(out), "--epochs", "2", "-q"]) == 0
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 2


def test_usage_errors() -> None:
    with pytest.raises(UserError, match="needs a .cnn FILE") as e:
        run(["train"])
    assert e.value.exit_code == 2
    with pytest.raises(UserError, match="CUDA is not available"):
        run(["train", "net.cnn", "--device", "cuda", "--data", SYN], fake_compile([]))
    with pytest.raises(UserError, match="unknown data kind"):
        run(["train", "net.cnn", "--data", "imagenet:/x"], fake_compile([]))
    with pytest.raises(SystemExit):
        run(["train", "net.cnn", "--preset", "vgg19"])


def test_cnndsl_main_dispatches_train(tmp_path: Path, capsys) -> None:
    """Through the real `cnndsl` command and the real compiler."""
    main = pytest.importorskip("cnndsl.cli").main
    src = tmp_path / "small.cnn"
    src.write_text("network small(classes=4):\n    input 1x8x8\n"
                   "    conv(4, 3) - relu - maxpool(2) - fc(classes)\n")
    out = tmp_path / "run"
    code = main(["train", str(src), "--data", SYN, "--epochs", "1", "--out", str(out), "-q"])
    assert code == 0 and (out / "last.pt").is_file()
    assert main(["eval", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["count"] == 13
    assert main(["train", str(src), "--data", "mnist:/nonexistent"]) == 2
    assert "no such directory" in capsys.readouterr().err


def test_diverging_run_is_an_error_with_help(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="NaN or infinite at epoch") as e:
        run(["train", "net.cnn", "--data", SYN, "--optimizer", "sgd", "--lr", "1e30",
             "--out", str(tmp_path), "-q", "--no-plots"], fake_compile([]))
    assert e.value.exit_code == 1 and "--lr" in e.value.help


def test_ctrl_c_saves_and_exits_130(tmp_path: Path) -> None:
    """A real SIGINT to a real `cnndsl train` process."""
    import os
    import signal
    import subprocess
    import sys
    import time

    root = Path(__file__).resolve().parents[2]
    src = tmp_path / "small.cnn"
    src.write_text("network small(classes=4):\n    input 1x8x8\n"
                   "    conv(4, 3) - relu - maxpool(2) - fc(classes)\n")
    out = tmp_path / "run"
    env = dict(os.environ, PYTHONPATH=str(root), OMP_NUM_THREADS="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "cnndsl", "train", str(src), "--data",
         "synthetic:N=1024,shape=1x8x8,classes=4", "--epochs", "1000", "--batch-size", "8",
         "--out", str(out), "--progress", "lines"],
        cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 120
        while not (out / "last.pt").exists() and time.time() < deadline:
            time.sleep(0.2)  # wait for the first epoch's checkpoint
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130, stderr[-2000:]
    assert "stopping after this step" in stdout and f"--resume {out}" in stdout
    from cnndsl.train.checkpoint import load

    ck = load(out)
    assert ck["epoch"] >= 1 and (ck["step"] > 0 or ck["epoch"] > 1)
