"""The docs tell the truth: every diagnostic code is catalogued, every op is documented."""

import re
from pathlib import Path

import cnndsl.ops as ops

ROOT = Path(__file__).resolve().parent.parent


def test_every_diagnostic_code_is_in_the_catalogue():
    from cnndsl import catalogue
    emitted = set()
    for f in (ROOT / "cnndsl").rglob("*.py"):
        if f.name != "catalogue.py":
            emitted |= set(re.findall(r'"([EWN]\d{4})"', f.read_text()))
    assert emitted and emitted <= catalogue.codes(), sorted(emitted - catalogue.codes())


def test_the_error_pages_tables_are_generated_from_the_catalogue():
    from cnndsl import catalogue
    doc = (ROOT / "docs/errors.md").read_text()
    assert catalogue.render(doc) == doc  # else: python -m cnndsl.catalogue docs/errors.md
    listed = set(re.findall(r"^\| ([EWN]\d{4}) \|", doc, re.M))
    assert listed == catalogue.codes()
    assert catalogue.meaning("E0301") == "a window (kernel) larger than its (padded) input"


def test_every_operator_is_in_the_language_reference():
    text = (ROOT / "docs/language.md").read_text()
    missing = [op.name for op in ops.all_ops() if op.family != "io" and f"`{op.name}" not in text]
    assert not missing
