"""Compile work grows linearly with the program: counted in Python function calls (what
cProfile counts), never in seconds. A quadratic step (a source line looked up by
splitting the whole text, a list searched per node) makes the ratio ~10 times larger."""

from __future__ import annotations

import cProfile
import pstats

import pytest

import cnndsl

LIMITS = {"nodes": 100_000, "steps": 1_000_000}


def written_out(lines: int) -> str:
    return "input 8x16x16\n" + "conv(8, 3) - bn - relu\n" * lines


def calls(text: str) -> int:
    profile = cProfile.Profile()
    profile.enable()
    net = cnndsl.loads(text, limits=LIMITS)
    net.summary()
    profile.disable()
    return pstats.Stats(profile).total_calls  # type: ignore[attr-defined]


@pytest.mark.parametrize("lines", [400, pytest.param(2_000, marks=pytest.mark.slow)])
def test_compile_and_summary_work_grow_linearly(lines):
    """Ten times the lines (3 layers each): at most 10.2 times the calls (9.9 measured)."""
    cnndsl.loads(written_out(10))  # parser tables, caches
    small, large = calls(written_out(lines)), calls(written_out(10 * lines))
    assert large <= 10.2 * small, (small, large, large / small)
