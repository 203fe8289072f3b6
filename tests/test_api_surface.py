"""The public API is stable, typed, documented and importable without torch.

A public name that disappears or a signature that changes fails here until the snapshot
is regenerated on purpose:

    python -m cnndsl.apidoc --snapshot tests/data/api_snapshot.json
    python -m cnndsl.apidoc docs/api.md
"""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import cnndsl
from cnndsl import apidoc

from .conftest import HAS_TORCH, needs_torch

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOT = json.loads((ROOT / "tests/data/api_snapshot.json").read_text())
UPDATE = ("if the change is deliberate, update the snapshot and the docs: "
          "python -m cnndsl.apidoc --snapshot tests/data/api_snapshot.json && "
          "python -m cnndsl.apidoc docs/api.md")
NEEDS_TORCH = {"export", "load_run"}  # reading them imports torch


def test_no_public_name_disappears_and_every_new_one_is_recorded():
    now, then = set(cnndsl.__all__), set(SNAPSHOT["names"])
    assert not then - now, f"public names removed: {sorted(then - now)}; {UPDATE}"
    assert not now - then, f"public names not in the snapshot: {sorted(now - then)}; {UPDATE}"


@pytest.mark.parametrize("name", sorted(SNAPSHOT["names"]))
def test_a_public_signature_does_not_change(name):
    if name in NEEDS_TORCH and not HAS_TORCH:
        pytest.skip("needs torch")
    obj = apidoc.target(name)
    assert apidoc.signature(obj) == SNAPSHOT["names"][name], \
        f"the signature of cnndsl.{name} changed; {UPDATE}"


def test_the_network_class_keeps_its_members():
    now, then = apidoc.network_members(), SNAPSHOT["Network"]
    changed = sorted(k for k in then.keys() & now.keys() if then[k] != now[k])
    assert not then.keys() - now.keys(), f"Network lost {sorted(then.keys() - now.keys())}; {UPDATE}"
    assert not changed, f"Network members changed: {changed}; {UPDATE}"
    assert not now.keys() - then.keys(), f"new Network members: {sorted(now.keys() - then.keys())}; {UPDATE}"


@pytest.mark.parametrize("name", sorted(cnndsl.__all__))
def test_every_public_name_has_a_docstring_with_an_example(name):
    if name in NEEDS_TORCH and not HAS_TORCH:
        pytest.skip("needs torch")
    obj = getattr(cnndsl, name)
    docs = inspect.getdoc(obj) or ""
    if inspect.ismodule(obj):  # cnndsl.train: the module, callable as its function
        docs += inspect.getdoc(getattr(obj, name)) or ""
    assert ">>> " in docs, f"cnndsl.{name} needs a docstring with an example"


def test_every_public_network_method_has_a_docstring():
    missing = [k for k, kind in apidoc.network_members().items()
               if kind not in ("attribute", "property")
               and not inspect.getdoc(getattr(cnndsl.Network, k))]
    assert not missing


@needs_torch
def test_the_api_page_is_generated_from_the_docstrings():
    text = (ROOT / "docs/api.md").read_text()
    assert text == apidoc.render(), "run: python -m cnndsl.apidoc docs/api.md"
    for name in cnndsl.__all__:
        assert f"## `cnndsl.{name}`" in text


def test_the_package_is_typed_and_ships_the_marker():
    assert (ROOT / "cnndsl/py.typed").is_file()
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "py.typed" in config["tool"]["setuptools"]["package-data"]["cnndsl"]


# ------------------------------------------------------------ one word per meaning
FAMILY = "network f(w=4, classes=10):\n  input 1x8x8\n  conv(w) - relu - gap - fc(classes)"


def test_bindings_are_the_bound_values_and_params_the_weight_counts():
    net = cnndsl.compile(FAMILY, bindings={"w": 6})
    assert net.bindings == net.graph.bindings == {"w": 6}
    assert net.params_count == 1 * 9 * 6 + 6 + 6 * 10 + 10 == net.summary().params
    assert cnndsl.parse_bindings(["w=6", "act=relu", "pool?=off"]) == \
        {"w": 6, "act": "relu", "pool?": False}
    assert "parse_bindings" in cnndsl.__all__ and "parse_params" not in cnndsl.__all__
    for name in ("compile", "loads", "enumerate"):
        assert "bindings:" in SNAPSHOT["names"][name] and "params" not in \
            SNAPSHOT["names"][name], name
    assert SNAPSHOT["Network"]["bindings"] == "attribute"
    assert SNAPSHOT["Network"]["params"] == "property"  # the deprecated alias


@pytest.mark.parametrize("call", [
    lambda **kw: cnndsl.compile(FAMILY, **kw),
    lambda **kw: cnndsl.loads(FAMILY, **kw),
    lambda **kw: next(iter(cnndsl.enumerate(FAMILY, **kw))).network,
], ids=["compile", "loads", "enumerate"])
def test_the_old_keyword_params_still_binds_and_warns(call):
    new = call(bindings={"w": 6})
    with pytest.warns(DeprecationWarning, match="`params=` is deprecated: use `bindings=`"):
        old = call(params={"w": 6})
    assert old.dump_ir() == new.dump_ir() and old.bindings == {"w": 6}
    with pytest.raises(TypeError, match="both `bindings=` and its old spelling `params=`"):
        call(bindings={"w": 6}, params={"w": 6})


def test_load_and_the_network_constructor_take_the_old_keyword_too(tmp_path):
    path = tmp_path / "f.cnn"
    path.write_text(FAMILY)
    with pytest.warns(DeprecationWarning):
        assert cnndsl.load(path, params={"w": 6}).bindings == {"w": 6}
    net = cnndsl.compile(FAMILY)
    with pytest.warns(DeprecationWarning):
        again = cnndsl.Network(net.graph, net.program, net.source_name, params={"w": 4},
                               diagnostics=[], path=None)
    assert again.bindings == {"w": 4}


def test_the_old_attribute_and_function_names_still_work_and_warn():
    net = cnndsl.compile(FAMILY, bindings={"w": 6})
    with pytest.warns(DeprecationWarning, match="`Network.params` is deprecated: use "
                      "`Network.bindings`"):
        assert net.params == {"w": 6}
    with pytest.warns(DeprecationWarning, match="`parse_params` is deprecated: use "
                      "`parse_bindings`"):
        assert cnndsl.parse_params(["w=6"]) == {"w": 6}
    with pytest.warns(DeprecationWarning, match="`Node.a` is deprecated"):
        assert net.graph["conv1"].a == net.graph["conv1"].attr_map == dict(
            net.graph["conv1"].attrs)


def test_no_public_class_has_a_one_letter_attribute():
    """Names that say what they hold (``attr_map``, ``bindings``), not ``a``; the old
    one-letter names are deprecated aliases (properties) until the next release."""
    net = cnndsl.compile(FAMILY)
    seen = {"Network": vars(net), "Graph": vars(net.graph), "Node": vars(net.graph.input),
            "Frame": {}, "Diagnostic": {}}
    classes = [type(net), type(net.graph), type(net.graph.input),
               type(net.summary()), type(net.summary().layers[0]), type(net.cost),
               cnndsl.Diagnostic, type(next(iter(cnndsl.enumerate(FAMILY))))]
    from cnndsl.ir.graph import Argument, Frame, TensorType
    classes += [Frame, Argument, TensorType]
    for cls in classes:
        fields = getattr(cls, "__dataclass_fields__", {})
        short = [k for k in [*fields, *seen.get(cls.__name__, {})] if len(k) == 1]
        assert not short, f"{cls.__name__}: {short}"
        aliases = [k for k, v in vars(cls).items() if len(k) == 1]
        assert all(isinstance(vars(cls)[k], property) and "Deprecated" in vars(cls)[k].__doc__
                   for k in aliases), f"{cls.__name__}: {aliases}"


NO_TORCH = textwrap.dedent('''
    import importlib.abc, sys

    class NoTorch(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "torch" or name.startswith("torch."):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, NoTorch())
    import cnndsl
    net = cnndsl.compile("input 3x32x32\\n[(CONV-RELU)*2-POOL]*2 - FC - RELU - FC")
    assert net.summary().to_json()
    assert net.to_dot().count("->") > 5
    assert "class " in net.to_python()
    again = cnndsl.from_json(net.to_json())
    assert again.to_python() == net.to_python()
    family = "network f(N in 1..2):\\n  input 1x28x28\\n  conv(8)*N - gap - fc(10)"
    assert len(list(cnndsl.enumerate(family))) == 2
    try:
        net.to_torch()
    except ModuleNotFoundError as e:
        assert e.name == "torch" and "torch" in str(e) and "install" in str(e), str(e)
        print("refused:", e)
    else:
        raise AssertionError("to_torch worked without torch")
    assert not [m for m in sys.modules if m == "torch" or m.startswith("torch.")]
''')


def test_cnndsl_works_without_torch_until_torch_is_needed():
    done = subprocess.run([sys.executable, "-c", NO_TORCH], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Network.to_torch needs torch" in done.stdout
