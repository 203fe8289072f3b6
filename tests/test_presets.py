"""Families: a network with parameters and named `preset` lines, each a member that
compiles by its name (from the zoo) or with ``preset=`` / ``--preset``."""

from __future__ import annotations

import pytest

import cnndsl
from cnndsl.diagnostics import CnnError

from .conftest import needs_torch

FAMILY = """\
# A toy family.
network toy(c=8, n=1, size=32, classes=10):
    input(3, size, size)
    (conv(c, 3) - relu) * n - gap - fc(classes)

preset toy_s(c=4)
preset toy_l(c=16, n=2, size=64)
"""


def params(c: int, n: int, classes: int = 10) -> int:
    convs = 3 * 9 * c + c + (n - 1) * (c * 9 * c + c)
    return convs + c * classes + classes


def test_a_preset_binds_the_network_parameters_and_names_the_network():
    net = cnndsl.loads(FAMILY, preset="toy_l")
    assert (net.name, net.preset, net.input_shape) == ("toy_l", "toy_l", (3, 64, 64))
    assert net.params_count == params(16, 2)
    plain = cnndsl.loads(FAMILY)
    assert (plain.name, plain.preset, plain.params_count) == ("toy", None, params(8, 1))


def test_user_bindings_win_over_the_preset_and_names_match_in_any_case():
    net = cnndsl.loads(FAMILY, preset="TOY_L", bindings={"c": 2})
    assert net.preset == "toy_l" and net.params_count == params(2, 2)


def test_an_unknown_preset_lists_the_files_presets():
    with pytest.raises(CnnError) as e:
        cnndsl.loads(FAMILY, preset="toy_m")
    d = e.value.diagnostics[0]
    assert d.code == "E0204" and "toy_s, toy_l" in d.help


def test_a_preset_that_binds_no_parameter_is_an_error_even_unchosen():
    with pytest.raises(CnnError) as e:
        cnndsl.loads(FAMILY + "preset bad(width=2)\n")
    d = e.value.diagnostics[0]
    assert d.code == "E0204" and (d.span.line, d.span.col) == (8, 12)
    assert "parameters: c, channels, classes, hidden, n, size" in d.help


@pytest.mark.parametrize("extra, message", [
    ("preset toy_s(c=2)\n", "preset `toy_s` is defined twice"),
    ("preset p(4)\n", "a preset binds parameters by name"),
])
def test_malformed_presets(extra, message):
    with pytest.raises(CnnError) as e:
        cnndsl.loads(FAMILY + extra)
    assert message in e.value.diagnostics[0].message


def test_a_preset_without_a_network_is_an_error():
    with pytest.raises(CnnError) as e:
        cnndsl.loads("block b = conv(2)\npreset p(c=3)\n")
    assert e.value.diagnostics[0].code == "E0008"


def test_the_cli_takes_a_preset(tmp_path, capsys):
    from cnndsl.cli import main
    path = tmp_path / "toy.cnn"
    path.write_text(FAMILY)
    assert main(["summary", str(path), "--preset", "toy_s", "--format", "json"]) == 0
    import json
    report = json.loads(capsys.readouterr().out)
    assert report["totals"]["params"] == params(4, 1)


def test_a_checkpoint_rebuilds_the_preset_it_was_trained_as():
    """The trainer stores the preset beside the source and parameters (a family file's
    defaults are another member)."""
    from cnndsl.train.protocol import rebuild
    net = cnndsl.loads(FAMILY, preset="toy_l")
    again = rebuild(net.source, net.bindings, list(net.input_shape), None, "run", net.preset)
    assert (again.name, again.params_count) == ("toy_l", net.params_count)
    assert rebuild(net.source, net.bindings, [3, 64, 64], None, "run").name == "toy"


def test_zoo_members_resolve_to_their_family_file():
    from cnndsl.api import zoo_entry
    path, preset = zoo_entry("efficientnet_b3")
    assert (path.name, preset) == ("efficientnet.cnn", "efficientnet_b3")
    assert zoo_entry("vgg16")[1] is None and zoo_entry("nope") is None
    net = cnndsl.compile("EfficientNet_B3")
    assert (net.name, net.input_shape) == ("efficientnet_b3", (3, 300, 300))


def test_a_preset_binds_a_name_once_and_may_bind_the_built_in_defaults():
    with pytest.raises(CnnError) as e:
        cnndsl.loads(FAMILY + "preset twice(c=4, c=8)\n")
    assert e.value.diagnostics[0].code == "E0106"
    net = cnndsl.loads("network t(c=1):\n input 3x8x8\n conv(c) - gap - fc(classes)\n"
                       "preset three(classes=3)\n", preset="three")
    assert net.output_shape == (3,)


def test_a_preset_that_is_not_a_name_is_a_usage_error():
    from cnndsl.diagnostics import UserError
    with pytest.raises(UserError):
        cnndsl.loads(FAMILY, preset=5)


@needs_torch
def test_train_compiles_the_family_member_it_is_given():
    """`cnndsl train FILE --member NAME` (--preset names a training recipe there)."""
    from cnndsl.cli import build_parser
    from cnndsl.diagnostics import UserError
    from cnndsl.train.cli import run_train
    seen = {}

    def compile_fn(source, **kwargs):
        seen.update(kwargs)
        raise UserError("stop here")
    args = build_parser("train").parse_args(["train", "toy.cnn", "--member", "toy_s"])
    with pytest.raises(UserError, match="stop here"):
        run_train(args, compile_fn)
    assert seen["preset"] == "toy_s"
    args = build_parser("lr-find").parse_args(["lr-find", "toy.cnn", "--member", "toy_s"])
    assert args.member == "toy_s"
    args = build_parser("summary").parse_args(["summary", "toy.cnn", "--member", "toy_s"])
    assert args.preset == "toy_s"


def test_a_preset_name_is_read_as_python_reads_names():
    net = cnndsl.loads(FAMILY.replace("toy_s", "eff_ü"), preset="ｅｆｆ_ü")
    assert net.preset == "eff_ü" and net.params_count == params(4, 1)
