"""Any file given as a checkpoint is refused with a message, never a traceback."""

import pytest

from cnndsl.cli import main

pytest.importorskip("torch")


@pytest.mark.parametrize("content", [
    b"root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1::/usr/sbin:/usr/sbin/nologin\n",
    b"\x80\x02}q\x00.",  # a pickle of an empty dict, not a checkpoint
    b"",
    bytes(range(256)) * 4,
])
def test_eval_refuses_a_file_that_is_not_a_checkpoint(tmp_path, capsys, content):
    f = tmp_path / "last.pt"
    f.write_bytes(content)
    assert main(["eval", str(f)]) in (1, 2)
    err = capsys.readouterr().err
    assert "error:" in err and "Traceback" not in err and "internal error" not in err
