"""Rendering with the Graphviz ``dot`` program, and writing diagram files."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from ..diagnostics import UserError
from ..outputs import check_target, mark, write_output

# Extension -> Graphviz output format (None: the text itself is written).
FORMATS: dict[str, str | None] = {".svg": "svg", ".png": "png", ".pdf": "pdf",
                                  ".dot": None, ".gv": None, ".mmd": None}
INSTALL_HELP = ("install Graphviz: `apt-get install graphviz` (Debian, Ubuntu), "
                "`brew install graphviz` (macOS), `conda install -c conda-forge graphviz`, "
                "or see https://graphviz.org/download/; then run the command again")


def which_dot() -> str | None:
    return shutil.which("dot")


def render(dot_text: str, fmt: str) -> bytes:
    """Run ``dot -T<fmt>`` on the text; UserError when dot is missing or fails."""
    exe = which_dot()
    if exe is None:
        raise UserError("the Graphviz `dot` program is not installed", help=INSTALL_HELP)
    proc = subprocess.run([exe, f"-T{fmt}"], input=dot_text.encode("utf-8"),
                          capture_output=True, check=False)
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip()
        raise UserError(f"Graphviz `dot -T{fmt}` failed: {err}")
    return proc.stdout


def draw_file(text: str, path: Path, force: bool = False) -> Path:
    """Write ``text`` (DOT or Mermaid) to ``path``, rendering it where the suffix asks.

    ``path`` follows cnndsl's output rule (:mod:`cnndsl.outputs`): new, or a file cnndsl
    wrote, or any regular file with ``force``; rendered files carry cnndsl's mark.
    """
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise UserError(f"cannot tell the diagram format of {path.name!r}",
                        help="end the file name with " + ", ".join(FORMATS), exit_code=2)
    fmt = FORMATS[suffix]
    if fmt is None:  # DOT and Mermaid text start with their "drawn by cnndsl" line
        return write_output(path, text, force)
    check_target(path, force)
    if which_dot() is None:
        dot_path = write_output(path.with_suffix(".dot"), text, force)
        raise UserError(f"cannot render {path.name}: the Graphviz `dot` program is not "
                        f"installed; wrote the diagram source to {dot_path}",
                        help=INSTALL_HELP)
    return write_output(path, mark(render(text, fmt), suffix), force)
