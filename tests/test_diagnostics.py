"""Bad input: a coded diagnostic at the right line:column, exit 1, never a traceback."""

import subprocess
import sys

import pytest

from cnndsl.cli import main

BAD = [
    # (source, code, line, col)
    ("input 3x32x32\nconv(16, 3) relu", "E0004", 2, 13),
    ("input 3x32x32\nconv(16, 3) - rleu", "E0101", 2, 15),
    ("input 3x32x32\nconv(16, 3) - fc(classes_count)", "E0201", 2, 18),
    ("input 3x32x32\nconv(16, 3, stride=0)", "E0105", 2, 20),
    ("input 3x32x32\nconv(16, 3, stride=-2)", "E0105", 2, 20),
    ("input 3x32x32\nconv(0, 3)", "E0105", 2, 6),
    ("input 3x8x8\nconv(16, 11, pad=0)", "E0301", 2, 1),
    ("input 3x8x8\nconv(16, 3) - fc(2.5)", "E0104", 2, 18),
    ("input 3x8x8\nconv(16, 3) - fc(16/3)", "E0104", 2, 18),
    ("input 3x8x8\nconv(16, 3, groups=5)", "E0303", 2, 1),
    ("input 3x8x8\nfc(10) - conv(4)", "E0304", 2, 10),
    ("input 3x8x8\nconv(4, 3, strde=2)", "E0102", 2, 12),
    ("input 3x8x8\nconv(4, 3, 1, 1, 1, 1, true, 9)", "E0103", 2, 30),
    ("network n(depth):\n  input 3x8x8\n  conv * depth", "E0201", 1, 11),
    ("input 3x8x8\nconv(4) | relu", "E0108", 2, 1),
]


@pytest.mark.parametrize("src, code, line, col", BAD)
def test_bad_input_is_a_diagnostic(tmp_path, capsys, src, code, line, col):
    f = tmp_path / "net.cnn"
    f.write_text(src)
    rc = main(["check", str(f)])
    err = capsys.readouterr().err
    assert rc == 1
    assert f"[{code}]" in err
    assert f"net.cnn:{line}:{col}" in err
    assert "Traceback" not in err
    assert "^" in err  # a caret under the span


def test_unknown_layer_suggests_a_name(capsys):
    assert main(["check", "input 3x8x8\nconv - maxpol"]) == 1
    assert "did you mean `maxpool`?" in capsys.readouterr().err


def test_unbound_parameter_says_how_to_bind(capsys):
    assert main(["check", "[(CONV-RELU)*N-POOL?]*M"]) == 1
    err = capsys.readouterr().err
    assert "`N` has no value" in err and "--set N=" in err and "bindings={'N'" in err


def test_independent_errors_reported_together(capsys):
    assert main(["check", "input 3x8x8\nconv(0) - relu\nconvv - fc(2.5)"]) == 1
    err = capsys.readouterr().err
    assert "[E0105]" in err and "[E0101]" in err and "[E0104]" in err
    assert "3 errors" in err


def test_strict_turns_warnings_into_errors(capsys):
    src = "input 3x7x7\nconv(10, 3, stride=3, pad=0)"
    assert main(["check", src]) == 0
    assert main(["check", src, "--strict"]) == 1
    assert "error[W0301]" in capsys.readouterr().err


def test_usage_errors_exit_2(capsys):
    assert main(["check", "no_such_file.cnn"]) == 2
    assert main(["check", "input 3x8x8\nconv", "--input", "3xfoo"]) == 2
    assert main(["check", "input 3x8x8\nconv", "--set", "novalue"]) == 2
    with pytest.raises(SystemExit) as e:
        main(["check"])
    assert e.value.code == 2


def test_unused_binding_warns(capsys):
    assert main(["check", "input 3x8x8\nconv", "--set", "dpeth=3"]) == 0
    assert "[W0201]" in capsys.readouterr().err


def test_no_traceback_in_a_real_process(tmp_path):
    f = tmp_path / "bad.cnn"
    f.write_text("network n:\n  input 3x8x8\n  conv(8, 3) - bn - relu -\n")
    r = subprocess.run([sys.executable, "-m", "cnndsl", "check", str(f)], capture_output=True,
                       text=True)
    assert r.returncode == 1
    assert "Traceback" not in r.stderr and "[E0005]" in r.stderr


@pytest.mark.parametrize("src, code", [
    ("", "E0010"),
    ("block b = conv\n", "E0010"),
    ("(" * 3000 + "conv" + ")" * 3000, "E0011"),
    ("input 3x8x8\nconv * 100000000", "E0111"),
    ("conv\x00relu", "E0002"),
])
def test_hostile_input_is_a_diagnostic(capsys, src, code):
    assert main(["check", src if src else "\n"]) == 1
    err = capsys.readouterr().err
    assert f"[{code}]" in err and "Traceback" not in err


def test_bad_utf8_is_a_diagnostic_at_its_line_and_column(tmp_path, capsys):
    f = tmp_path / "bin.cnn"
    f.write_bytes(b"input 3x8x8\nconv(8) - \xff\xfe\x00garbage")
    assert main(["check", str(f)]) == 1
    err = capsys.readouterr().err
    assert "error[E0012]: the file is not valid UTF-8: byte 0xff" in err
    assert "bin.cnn:2:11" in err and "\\x00" in err and "\x00" not in err


def test_a_directory_or_fifo_is_a_usage_error(tmp_path, capsys):
    import os
    os.mkfifo(tmp_path / "pipe.cnn")  # reading it would block forever
    assert main(["check", str(tmp_path / "pipe.cnn")]) == 2
    assert "not a regular file" in capsys.readouterr().err


def test_a_bad_default_is_reported_once(capsys):
    assert main(["check", "cs231n", "--set", "channels=abc"]) == 1
    assert capsys.readouterr().err.count("[E0104]") == 1


def test_errors_before_a_residual_are_reported_without_a_crash(capsys):
    src = "input 3x8x8\nfc(1) as t - avgpool(in_c) - residual(t)"
    assert main(["check", src]) == 1
    err = capsys.readouterr().err
    assert "[E0203]" in err and "internal error" not in err


def test_a_missing_optional_package_is_a_usage_error(monkeypatch, capsys):
    import cnndsl.commands.summary as summary

    def needs_torch(args):
        raise ModuleNotFoundError("No module named 'torch'", name="torch")
    monkeypatch.setattr(summary, "run", needs_torch)
    assert main(["summary", "lenet5"]) == 2
    err = capsys.readouterr().err
    assert "needs torch" in err and "pip install torch" in err
