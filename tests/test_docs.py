"""The docs tell the truth: every diagnostic code is catalogued, every op is documented."""

import re
from pathlib import Path

import cnndsl.ops as ops

ROOT = Path(__file__).resolve().parent.parent


def test_every_diagnostic_code_is_in_the_catalogue():
    emitted = set()
    for f in (ROOT / "cnndsl").rglob("*.py"):
        emitted |= set(re.findall(r'"([EWN]\d{4})"', f.read_text()))
    catalogue = set(re.findall(r"\b([EWN]\d{4})\b", (ROOT / "docs/errors.md").read_text()))
    assert emitted and emitted <= catalogue, sorted(emitted - catalogue)


def test_every_operator_is_in_the_language_reference():
    text = (ROOT / "docs/language.md").read_text()
    missing = [op.name for op in ops.all_ops() if op.family != "io" and f"`{op.name}" not in text]
    assert not missing
