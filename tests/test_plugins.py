"""Plugin operators (cnndsl.plugins): registered in-process, found through entry points,
and, in a fresh virtual environment, installed with pip like any user would."""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import cnndsl
from cnndsl import ops, plugins
from cnndsl.backends import codecheck
from cnndsl.cli import main
from cnndsl.ops import OpDef, registry

from .conftest import needs_torch

ROOT = Path(__file__).resolve().parent.parent
PLUGIN = ROOT / "examples" / "plugin_coordconv"
SOURCE = "input 1x8x8\ncoordconv(8, 3) - relu - coordconv(4, 3, stride=2) - gap - fc(10)\n"


@pytest.fixture
def coordconv(monkeypatch):
    """The example plugin's operator, importable and registered for one test."""
    monkeypatch.syspath_prepend(str(PLUGIN))
    from cnndsl_coordconv.op import COORDCONV
    with plugins.registered(COORDCONV, plugin="test"):
        yield COORDCONV


@pytest.fixture
def fresh_registry(monkeypatch):
    """The registry as before its first lookup (plugins not loaded yet); afterwards, the
    plugin operators a test loaded are taken away again."""
    monkeypatch.setitem(registry._PLUGINS, "state", "unloaded")
    monkeypatch.setattr(plugins, "_LOADED", {})
    yield
    for name in list(plugins.plugin_ops()):
        registry.unregister(name)
    registry._PLUGINS["state"] = "loaded"


def _entry_points(*specs: tuple[str, str]):
    found = [importlib.metadata.EntryPoint(name, value, plugins.GROUP) for name, value in specs]
    return lambda group=None, **kw: [e for e in found if group in (None, e.group)]


# ---------------------------------------------------------------- in-process
@needs_torch
def test_a_registered_operator_works_in_every_pass(coordconv, tmp_path):
    import torch
    net = cnndsl.compile(SOURCE)
    rows = {r.name: r for r in net.summary().layers}
    assert rows["coordconv1"].params == 8 * 3 * 9 + 8 and rows["coordconv1"].macs == 512 * 27
    assert str(net.receptive_fields["coordconv2"]) == "5"
    assert "3x3 coordconv, 8" in net.to_dot()
    text = net.to_python()
    assert "from cnndsl_coordconv.modules import CoordConv" in text
    codecheck.check(text)
    model = net.to_torch()
    assert model(torch.randn(3, 1, 8, 8)).shape == (3, 10)
    assert sum(p.numel() for p in model.parameters()) == net.params_count == 638


def test_the_command_line_sees_a_registered_operator(coordconv, tmp_path, capsys):
    src = tmp_path / "net.cnn"
    src.write_text(SOURCE)
    assert main(["summary", str(src), "--format", "json"]) == 0
    assert '"coordconv2"' in capsys.readouterr().out
    assert main(["compile", str(src), "-o", str(tmp_path / "net.py")]) == 0
    assert "CoordConv(8, 4" in (tmp_path / "net.py").read_text()
    assert main(["draw", str(src), "-o", str(tmp_path / "net.dot")]) == 0
    assert "coordconv" in (tmp_path / "net.dot").read_text()


def test_the_allow_list_admits_only_declared_imports(coordconv):
    codecheck.check("from cnndsl_coordconv.modules import CoordConv\n")
    for bad in ("from cnndsl_coordconv.modules import add_coords\n",
                "from cnndsl_coordconv.modules import CoordConv as C\n",
                "import cnndsl_coordconv.modules\n"):
        with pytest.raises(codecheck.UnsafeCode):
            codecheck.check(bad)
    registry.unregister("coordconv")
    try:
        with pytest.raises(codecheck.UnsafeCode):  # no plugin declares it any more
            codecheck.check("from cnndsl_coordconv.modules import CoordConv\n")
    finally:
        registry.register(coordconv, origin="test")


def _op(name: str, **fields) -> OpDef:
    base = dict(name=name, family="act", doc="test", infer=lambda a, ins: ins[0],
                torch_module=lambda a, ins, out: None,
                torch_call=lambda a, xs, m, ins, out: f"{xs[0]} * 2")
    return OpDef(**{**base, **fields})


@pytest.mark.parametrize("op, why", [
    (_op("conv"), "already taken by 'conv' (a built-in operator)"),
    (_op("twice", aliases=("relu",)), "already taken by 'relu'"),
    (_op("residual"), "a word of the language or a built-in block"),
    (_op("se"), "a word of the language or a built-in block"),  # a prelude block
    (_op("input"), "a word of the language"),
    (_op("bad-name"), "must be an ASCII identifier"),
    (_op("nocode", torch_call=None, torch_module=None), "has no PyTorch emission"),
    (_op("merger", family="merge"), "family 'merge'"),
    (_op("sneaky", torch_helper="import os\n"), "outside the generated-code allow-list"),
    (_op("sneaky", torch_imports=(("cnndsl.api", "compile"),)), "cannot import compile"),
    (_op("sneaky", torch_imports=(("os", "F"),)), "cannot import F"),
])
def test_registration_refuses_with_a_clear_error(op, why):
    with pytest.raises(plugins.PluginError, match=why.replace("(", r"\(").replace(")", r"\)")):
        plugins.register_op(op)
    assert ops.lookup(op.name) is None or registry.origin(ops.lookup(op.name).name) == "cnndsl"


def test_the_keyword_form_and_unregistering():
    op = plugins.register_op(name="double", family="act", doc="x * 2",
                             infer=lambda a, ins: ins[0],
                             torch_call=lambda a, xs, m, ins, out: f"{xs[0]} * 2")
    try:
        assert ops.lookup("DOUBLE") is op and plugins.plugin_ops() == {"double": "<python>"}
        assert plugins.register_op(op) is op  # again: nothing happens
        assert cnndsl.compile("input 4\ndouble").graph.nodes[-1].op == "double"
    finally:
        assert plugins.unregister_op("double") is op
    assert ops.lookup("double") is None and plugins.unregister_op("conv") is None


# ---------------------------------------------------------------- entry points
def test_entry_points_load_once_on_the_first_lookup(fresh_registry, monkeypatch):
    monkeypatch.syspath_prepend(str(PLUGIN))
    calls = []
    real = _entry_points(("coordconv", "cnndsl_coordconv.op:operators"))
    monkeypatch.setattr(importlib.metadata, "entry_points",
                        lambda **kw: calls.append(kw) or real(**kw))
    assert registry._PLUGINS["state"] == "unloaded"
    assert ops.lookup("coordconv").name == "coordconv"
    assert ops.lookup("coord_conv") is not None and len(calls) == 1
    assert plugins.loaded_plugins() == {
        "coordconv (cnndsl_coordconv.op:operators)": ["coordconv"]}
    assert registry.origin("coordconv") == "coordconv (cnndsl_coordconv.op:operators)"
    assert cnndsl.compile(SOURCE).params_count == 638


def test_a_broken_plugin_is_a_warning_and_is_skipped(fresh_registry, monkeypatch, tmp_path):
    (tmp_path / "half_plugin.py").write_text(
        "from cnndsl import ops, plugins\n"
        "plugins.register_op(name='halfway', family='act', doc='', "
        "infer=lambda a, ins: ins[0], torch_call=lambda a, xs, m, i, o: xs[0])\n"
        "raise RuntimeError('oops')\n")
    (tmp_path / "clash_plugin.py").write_text(
        "from cnndsl.ops import OpDef\n"
        "def ops():\n"
        "    return [OpDef(name='relu', family='act', doc='', infer=lambda a, ins: ins[0],\n"
        "                  torch_call=lambda a, xs, m, i, o: xs[0])]\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(importlib.metadata, "entry_points", _entry_points(
        ("missing", "no_such_module_here"), ("half", "half_plugin"),
        ("clash", "clash_plugin:ops")))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert ops.lookup("conv") is not None
    messages = sorted(str(w.message) for w in caught if w.category is plugins.PluginWarning)
    assert len(messages) == 3, messages
    assert "plugin clash (clash_plugin:ops) failed to load and is skipped" in messages[0]
    assert "'relu' is already taken by 'relu' (a built-in operator)" in messages[0]
    assert "plugin half (half_plugin) failed" in messages[1] and "oops" in messages[1]
    assert "plugin missing (no_such_module_here) failed" in messages[2]
    assert "ModuleNotFoundError" in messages[2]
    assert ops.lookup("halfway") is None  # what the failed plugin registered is gone
    assert ops.get("relu").doc != ""


def test_plugins_can_be_switched_off(fresh_registry, monkeypatch):
    monkeypatch.setenv(plugins.DISABLE, "1")
    monkeypatch.setattr(importlib.metadata, "entry_points", _entry_points(
        ("missing", "no_such_module_here")))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ops.lookup("conv") is not None


# ---------------------------------------------------------------- installed for real
@pytest.mark.slow
def test_the_plugin_installs_and_trains_in_a_fresh_venv(tmp_path):
    """pip installs cnndsl and the plugin (copies of the checkout, not on sys.path) into a
    new venv; its `cnndsl` finds the operator through the entry point (about a minute:
    torch comes from the machine's local wheel, as the README's set-up assumes)."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build")
    src = tmp_path / "src"
    shutil.copytree(ROOT / "cnndsl", src / "cnndsl", ignore=ignore)
    for f in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / f, src / f)
    plugin = shutil.copytree(PLUGIN, tmp_path / "plugin", ignore=ignore)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    bin_dir = venv / ("Scripts" if os.name == "nt" else "bin")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    pip = subprocess.run([str(bin_dir / "python"), "-m", "pip", "install", "-q",
                          f"torch=={_torch_version()}", f"{src}[train]", str(plugin)],
                         env=env, capture_output=True, text=True, timeout=900)
    assert pip.returncode == 0, pip.stderr[-3000:]
    net = tmp_path / "work" / "coord.cnn"
    net.parent.mkdir()
    net.write_text(SOURCE)

    def cnndsl_(*args: str) -> str:
        r = subprocess.run([str(bin_dir / "cnndsl"), *args], cwd=net.parent, env=env,
                           capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, (args, r.stdout[-2000:], r.stderr[-3000:])
        return r.stdout + r.stderr

    assert "3x3 coordconv, 4, /2" in cnndsl_("summary", "coord.cnn")
    assert "638 parameters" in cnndsl_("check", "coord.cnn")
    cnndsl_("compile", "coord.cnn", "-o", "coord.py")
    assert "from cnndsl_coordconv.modules import CoordConv" in (net.parent / "coord.py").read_text()
    cnndsl_("draw", "coord.cnn", "-o", "coord.dot")
    assert "coordconv" in (net.parent / "coord.dot").read_text()
    # the generated file runs standalone: torch and the plugin, not cnndsl
    run = subprocess.run([str(bin_dir / "python"), "-I", "coord.py"], cwd=net.parent,
                         env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and "(1, 10) 638 parameters" in run.stdout, run.stderr
    out = cnndsl_("train", "coord.cnn", "--data", "digits", "--epochs", "1", "--device",
                  "cpu", "--out", "run")
    assert (net.parent / "run").is_dir(), out


def _torch_version() -> str:
    torch = pytest.importorskip("torch")
    return torch.__version__.split("+")[0]
