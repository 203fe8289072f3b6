"""Input is data, never code: a payload that would create a marker file, in every place
where text from a program, a command line or a checkpoint reaches generated Python.

For each place: the marker never appears (after compiling, building the module,
running the emitted file as a script, training, eval, predict and resume), the
generated source passes the allow-list of :mod:`cnndsl.backends.codecheck`, and none of
the payload's names becomes a code token of the generated file.
"""

from __future__ import annotations

import io
import subprocess
import sys
import tokenize
from pathlib import Path

import pytest

import cnndsl
from cnndsl.backends import codecheck
from cnndsl.cli import main

from ..conftest import needs_torch

FORBIDDEN_TOKENS = {"open", "os", "system", "exec", "close", "__import__", "subprocess"}


def payloads(marker: Path) -> dict[str, str]:
    """Python that creates ``marker`` if it ever runs, in the shapes an attacker tries:
    close a docstring, break out of a comment with every kind of line break."""
    act = f'open({str(marker)!r}, "w").close()'
    return {
        "docstring": f'"""; {act}; """',
        "newline": f"\n{act}\n",
        "cr": f"\r{act}\r",
        "separators": f"\u2028{act}\u0085{act}\x0b{act}\x0c{act}",
        "backslash": f'\\"""; {act}; """\\',
    }


def code_tokens(source: str) -> set[str]:
    """The names the generated file uses as code (not inside strings or comments)."""
    toks = tokenize.generate_tokens(io.StringIO(source).readline)
    return {t.string for t in toks if t.type == tokenize.NAME}


def assert_inert(source: str, marker: Path) -> None:
    codecheck.check(source)
    compile(source, "<generated>", "exec")
    assert not code_tokens(source) & FORBIDDEN_TOKENS
    assert not marker.exists()


def run_script(source: str, folder: Path) -> None:
    """Run an emitted file the way a user would: ``python model.py``."""
    f = folder / "model.py"
    f.write_text(source, encoding="utf-8")
    r = subprocess.run([sys.executable, str(f)], capture_output=True, text=True, cwd=folder,
                       timeout=120)
    assert r.returncode == 0, r.stderr


def single_line(p: str) -> str:
    """A payload that a .cnn string literal can hold (no line break, one kind of quote)."""
    return p.replace("\n", " ").replace("'", '"')


# ---------------------------------------------------------------- the compiler's inputs
def string_argument(p: str) -> dict:
    text = (f"block b(s) = conv(4) - relu\ninput 1x8x8\n"
            f"b('{single_line(p)}') - gap - fc(3)")
    return {"text": text}


def comment_in_argument(p: str) -> dict:
    text = ("block b(body) = body - relu\ninput 1x8x8\n"
            f"b(conv(4) # {p.replace(chr(10), ' ')}\n  - relu) - gap - fc(3)")
    return {"text": text}


def set_binding(p: str) -> dict:
    text = "block b(s) = conv(4) - relu\nnetwork n(tag=x):\n  input 1x8x8\n  b(tag) - gap - fc(3)"
    return {"text": text, "params": {"tag": p}}


def loads_name(p: str) -> dict:
    return {"text": "input 1x8x8\nconv(4) - gap - fc(3)", "name": p}


PLACES = {"string argument": string_argument, "comment in an argument": comment_in_argument,
          "bindings= / --set": set_binding, "loads(name=)": loads_name}


@pytest.mark.parametrize("place", PLACES)
@pytest.mark.parametrize("kind", list(payloads(Path("m"))))
def test_program_text_never_runs(place, kind, tmp_path):
    marker = tmp_path / "MARK"
    case = PLACES[place](payloads(marker)[kind])
    net = cnndsl.loads(case["text"], bindings=case.get("params"),
                       name=case.get("name", "<input>"))
    source = net.to_python()
    assert_inert(source, marker)
    if HAS_TORCH:
        model = net.to_torch()
        assert sum(p.numel() for p in model.parameters()) == net.params_count
        assert not marker.exists()
    if kind == "docstring" and HAS_TORCH:  # one run of the file as a script per place
        run_script(source, tmp_path)
        assert not marker.exists()


def test_escaped_text_reads_back_exactly(tmp_path):
    """Escaping is faithful: the docstring of a block's class holds the call as written."""
    import ast
    p = payloads(tmp_path / "MARK")["docstring"]
    net = cnndsl.loads(string_argument(p)["text"])
    tree = ast.parse(net.to_python())
    docs = [ast.get_docstring(c) for c in tree.body if isinstance(c, ast.ClassDef)]
    assert f"b({single_line(p)})" in docs


def test_file_names_and_set_values_from_the_command_line(tmp_path, capsys):
    marker = tmp_path / "MARK"
    folder = tmp_path / 'evil"""\n' / payloads(marker)["cr"].replace("/", "_")
    folder.mkdir(parents=True)
    f = folder / 'net """; x.cnn'
    f.write_text("block b(s) = conv(4) - relu\nnetwork n(tag=x):\n  input 1x8x8\n"
                 "  b(tag) - gap - fc(3)\n")
    out = tmp_path / "model.py"
    tag = single_line(payloads(marker)["docstring"])
    assert main(["compile", str(f), "--set", f"tag={tag}", "-o", str(out)]) == 0
    source = out.read_text()
    assert_inert(source, marker)
    if HAS_TORCH:
        run_script(source, tmp_path)
        assert not marker.exists()


def test_an_imported_file_with_a_hostile_name(tmp_path, monkeypatch):
    marker = tmp_path / "MARK"
    name = 'lib """\r\u2028open("MARK", "w").close() #.cnn'  # run here, it writes MARK here
    (tmp_path / name).write_text("block b(c) = conv(c) - relu\n")
    (tmp_path / "net.cnn").write_text(f"import '{name}'\ninput 1x8x8\nb(4) - b(4) - gap - fc(3)\n")
    monkeypatch.chdir(tmp_path)
    net = cnndsl.compile(tmp_path / "net.cnn")
    source = net.to_python()
    assert "lib" in source  # the imported file is named in the line comments, escaped
    assert_inert(source, marker)
    if HAS_TORCH:
        net.to_torch()
        assert not marker.exists()


# ---------------------------------------------------------------- checkpoints
HAS_TORCH = __import__("importlib").util.find_spec("torch") is not None
SYN = "synthetic:N=48,shape=1x8x8,classes=3,noise=0.3"


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    """A run trained (for real) from a program carrying a payload in a string argument."""
    tmp = tmp_path_factory.mktemp("run")
    marker = tmp / "MARK"
    src = tmp / "net.cnn"
    src.write_text(string_argument(payloads(marker)["docstring"])["text"] + "\n")
    out = tmp / "run"
    code = main(["train", str(src), "--data", SYN, "--epochs", "1", "--batch-size", "16",
                 "--out", str(out), "-q", "--no-plots", "--device", "cpu"])
    assert code == 0 and not marker.exists()
    return tmp, marker, out


def craft(run: Path, dest: Path, **changes) -> Path:
    """A copy of the run's checkpoint with some fields replaced (as an attacker would)."""
    import torch
    ckpt = torch.load(run / "last.pt", weights_only=True)
    ckpt.update(changes)
    torch.save(ckpt, dest)
    return dest


@needs_torch
def test_eval_predict_and_resume_of_a_hostile_checkpoint_run_no_code(hostile_run, capsys):
    import numpy as np

    from cnndsl.train.data.images import write_netpbm
    tmp, marker, out = hostile_run
    img = tmp / "a.pgm"
    write_netpbm(img, np.zeros((1, 8, 8), np.uint8))
    assert main(["eval", str(out), "--data", SYN, "--json"]) == 0
    assert main(["predict", str(out), str(img)]) == 0
    assert main(["train", "--resume", str(out), "--epochs", "2", "-q", "--no-plots",
                 "--device", "cpu"]) == 0
    assert not marker.exists()


@needs_torch
def test_a_checkpoint_source_is_text_never_a_path(hostile_run, tmp_path):
    from cnndsl.diagnostics import UserError
    from cnndsl.train.inference import load_model
    _, _, out = hostile_run
    other = tmp_path / "other.cnn"  # a valid program that the one-line source names
    other.write_text("input 1x8x8\nconv(4) - relu - gap - fc(3)\n")
    ckpt = craft(out, tmp_path / "x.pt", source=str(other))
    with pytest.raises(UserError, match="does not compile"):
        load_model(ckpt, device="cpu")


@needs_torch
@pytest.mark.parametrize("field,value,message", [
    ("source", "input 1x8x8\nconv(4) - gap - fc(7)", "weights do not fit"),
    ("source", "input 1x8x8\nconv(4) - nosuchlayer", "does not compile"),
    ("source", 42, "not text"),
    ("bindings", ["not", "a", "dict"], "malformed"),
    ("bindings", None, "malformed"),
    ("input_shape", "1x8x8", "malformed"),
    ("imports", {"files": {"a.cnn": 3}, "links": []}, "not a record"),
])
def test_a_malformed_checkpoint_is_refused_with_a_message(hostile_run, tmp_path, field,
                                                          value, message):
    from cnndsl.diagnostics import UserError
    from cnndsl.train.inference import load_model
    _, marker, out = hostile_run
    ckpt = craft(out, tmp_path / "x.pt", **{field: value})
    with pytest.raises(UserError, match=message):
        load_model(ckpt, device="cpu")
    assert not marker.exists()


@needs_torch
def test_a_checkpoint_rebuilds_its_imports_from_its_own_copies(tmp_path, monkeypatch):
    """The imported file may be gone or changed: the checkpoint's copy is what counts,
    and nothing outside it is read."""
    from cnndsl.train.inference import load_model
    (tmp_path / "lib.cnn").write_text("block b(c) = conv(c) - relu\n")
    (tmp_path / "net.cnn").write_text('import "lib.cnn"\ninput 1x8x8\nb(4) - gap - fc(3)\n')
    out = tmp_path / "run"
    assert main(["train", str(tmp_path / "net.cnn"), "--data", SYN, "--epochs", "1",
                 "--out", str(out), "-q", "--no-plots", "--device", "cpu"]) == 0
    (tmp_path / "lib.cnn").write_text("block b(c) = conv(2 * c) - relu\n")  # changed since
    monkeypatch.chdir(tmp_path)
    m = load_model(out, device="cpu")
    assert sum(p.numel() for p in m.model.parameters()) == 4 * 9 + 4 + 4 * 3 + 3
