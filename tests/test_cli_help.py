"""The command line explains itself: help on every option, every operator and block in
`cnndsl ops`, mistyped names answered with the closest, shell completion, and
diagnostics as JSON and SARIF for tools."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys

import pytest

from cnndsl.cli import COMMANDS, build_parser, main


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_option_of_every_command_has_help(command):
    parser = build_parser(command)
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    missing = [a.option_strings or a.dest for a in sub.choices[command]._actions
               if a.dest != "help" and not a.help]
    assert missing == []


def test_ops_shows_prelude_blocks_and_whole_descriptions(capsys):
    assert main(["ops"]) == 0
    out = capsys.readouterr().out
    assert "Anywhere else (attention weights) the module computes it." in out  # softmax, whole
    assert "PReLU with one learned slope per channel (He et al. 2015)." in out
    assert "se(r=16)" in out and "chunk(i, n)" in out and "dense(n, k, bn_size=4)" in out
    assert main(["ops", "se"]) == 0
    assert "Squeeze-and-excitation" in capsys.readouterr().out
    assert main(["ops", "residual"]) == 0
    assert "shortcut_first" in capsys.readouterr().out
    assert main(["ops", "sepconvv"]) == 2
    assert "did you mean 'sepconv'?" in capsys.readouterr().err


def test_a_mistyped_name_is_no_program(capsys):
    assert main(["check", "resnet5"]) == 2
    err = capsys.readouterr().err
    assert "no such file or zoo network: resnet5" in err and "`resnet50`" in err
    assert main(["check", "conv"]) == 0  # a one-layer program is still a program
    assert main(["check", "se"]) == 1  # ... and a prelude block is read as one
    capsys.readouterr()


def _complete(script: str, words: list[str]) -> list[str]:
    cmd = (f"{script}\nCOMP_WORDS=({' '.join(words)}); COMP_CWORD={len(words) - 1}; "
           "_cnndsl; printf '%s\\n' \"${COMPREPLY[@]}\"")
    out = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, check=True)
    return out.stdout.split()


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_bash_completion_completes_commands_options_zoo_names_and_operators(tmp_path):
    script = subprocess.run([sys.executable, "-m", "cnndsl", "completion", "bash"],
                            capture_output=True, text=True, check=True, cwd=tmp_path).stdout
    assert _complete(script, ["cnndsl", "summ"]) == ["summary"]
    assert _complete(script, ["cnndsl", "summary", "--pre"]) == ["--preset"]
    assert "efficientnet_b3" in _complete(script, ["cnndsl", "summary", "efficientnet_b"])
    assert _complete(script, ["cnndsl", "ops", "layerno"]) == ["layernorm"]
    assert _complete(script, ["cnndsl", "train", "--mem"]) == ["--member"]


def test_fish_and_zsh_scripts(capsys):
    assert main(["completion", "fish"]) == 0
    fish = capsys.readouterr().out
    assert "__fish_seen_subcommand_from check' -l strict" in fish and "efficientnet_b3" in fish
    assert main(["completion", "zsh"]) == 0
    assert capsys.readouterr().out.startswith("autoload -U +X bashcompinit")


def test_check_reports_diagnostics_as_json_and_sarif(tmp_path, capsys):
    bad = tmp_path / "bad.cnn"
    bad.write_text("input 3x8x8\nconv(8) - nope\n")
    assert main(["check", str(bad), "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False and report["network"] is None
    (d,) = report["diagnostics"]
    assert (d["code"], d["severity"], d["span"]["line"], d["span"]["column"]) == \
        ("E0101", "error", 2, 11)
    assert set(d) == {"code", "severity", "message", "span", "help", "label", "notes"}
    assert main(["check", str(bad), "--format", "sarif"]) == 1
    sarif = json.loads(capsys.readouterr().out)
    assert sarif["version"] == "2.1.0"
    (result,) = sarif["runs"][0]["results"]
    assert result["ruleId"] == "E0101" and result["level"] == "error"
    region = result["locations"][0]["physicalLocation"]["region"]
    assert (region["startLine"], region["startColumn"]) == (2, 11)
    good = tmp_path / "good.cnn"
    good.write_text("input 3x7x7\nconv(10, 3, stride=3, pad=0)\n")
    assert main(["check", str(good), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] and report["network"]["params"] == 280
    assert [d["code"] for d in report["diagnostics"]] == ["W0301"]


def test_an_error_in_a_block_call_names_the_call_and_the_repetition(capsys):
    src = "block stage(c) = conv(c, 3) - maxpool(2)\nnetwork n:\n    input 3x16x16\n" \
          "    stage(8) * 6\n"
    assert main(["check", src]) == 1
    err = capsys.readouterr().err
    assert "note: in `stage(8)`, called at line 4:5" in err
    assert "note: in repetition 5 of 6 (line 4:5)" in err
