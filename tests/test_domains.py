"""Parameter domains: `N=2 in 1..5`, `width in {32, 64}` (a family's design space)."""

from __future__ import annotations

import pytest

import cnndsl
from cnndsl import CnnError
from cnndsl.fmt import format_source
from cnndsl.syntax.parser import parse

FAMILY = """\
network fam(N=2 in 1..3, M in 1..3, K=1 in {0, 1, 2}, width in {16, 32}, act in {relu, gelu}):
    input 3x32x32
    [(conv(width) - act) * N - POOL?] * M - (FC - RELU) * K, SOFTMAX
"""


def _domains(src: str) -> dict:
    return {p.name: p.domain for p in parse(src).network.params}


def test_ranges_and_choices_parse_to_domains():
    d = _domains(FAMILY)
    assert (d["N"].low, d["N"].high, len(d["N"])) == (1, 3, 3)
    assert d["K"].choices == (0, 1, 2) and str(d["width"]) == "{16, 32}"
    assert d["act"].choices == ("relu", "gelu")
    odd = _domains('network f(a in {0.5, -1, true, "x", 0.5}, b in -3..-1):\n  conv(8)')
    assert odd["a"].choices == (0.5, -1, True, "x")  # repeats dropped
    assert list(odd["b"]) == [-3, -2, -1]
    huge = _domains("network f(a in 1..1000000000000):\n  conv(8)")["a"]
    assert len(huge) == 10**12 and huge[10**12 - 1] == 10**12 and 7 in huge and 0 not in huge


def test_a_float_is_not_the_start_of_a_range():
    assert parse("x = 1.5\nconv(8)").network.body[0].value.value == 1.5
    assert list(_domains("network f(a in 1 .. 3):\n  conv(8)")["a"]) == [1, 2, 3]


def test_the_default_is_the_first_value_without_one():
    net = cnndsl.compile(FAMILY)
    assert net.params_count == cnndsl.compile(FAMILY, bindings={"M": 1, "width": 16}).params_count
    assert net.params_count != cnndsl.compile(FAMILY, bindings={"M": 2}).params_count
    assert not net.warnings


def test_a_binding_outside_the_family_is_a_warning_that_points_at_the_values():
    net = cnndsl.compile(FAMILY, bindings={"N": 7, "width": 33})
    w = [d for d in net.warnings if d.code == "W0202"]
    assert [d.message for d in w] == [
        "the binding N=7 lies outside the family's values 1..3",
        "the binding width=33 lies outside the family's values {16, 32}"]
    assert (w[0].span.line, w[0].span.col) == (1, 20)
    assert not cnndsl.compile(FAMILY, bindings={"act": "GELU", "N": 3}).warnings


def test_a_preset_outside_the_family_is_a_warning_at_the_preset():
    src = FAMILY + "preset big(N=9)\n"
    w = cnndsl.compile(src, preset="big").warnings
    assert [(d.code, d.span.line) for d in w] == [("W0202", 4)]


@pytest.mark.parametrize("src, message", [
    ("network f(N=7 in 1..5):\n  conv(8)*N", "the default 7 of `N` lies outside its values 1..5"),
    ("network f(N in 5..1):\n  conv(8)", "the range 5..1 of `N` is empty"),
    ("network f(w=24 in {16, 32}):\n  conv(w)", "the default 24 of `w` lies outside its values "
     "{16, 32}"),
    ("block b(c in 1..3) = conv(c)\nnetwork f:\n  b(2)", "block parameter `c` has a range; only "
     "the network's parameters range over values"),
])
def test_wrong_domains_are_E0205(src, message):
    with pytest.raises(CnnError) as e:
        cnndsl.compile(src)
    assert message in [d.message for d in e.value.diagnostics if d.code == "E0205"]


@pytest.mark.parametrize("src, where", [
    ("network f(N in 5..1):\n  conv(8)*N - gap - fc(2)", (1, 16)),  # and no E0201 for N
    ("network f(N in 1.5..3):\n  conv(8)*N - gap - fc(2)", (1, 16)),
    ("network f(N in -2.5..3):\n  conv(8)*N - gap - fc(2)", (1, 16)),
])
def test_a_wrong_range_is_its_one_error(src, where):
    with pytest.raises(CnnError) as e:
        cnndsl.compile(src)
    [d] = [d for d in e.value.diagnostics if d.is_error]
    assert (d.code, d.span.line, d.span.col) == ("E0205", *where)
    assert d.message in ("the range 5..1 of `N` is empty", "a range's ends are whole "
                         "numbers, got 1.5", "a range's ends are whole numbers, got -2.5")


def test_in_is_a_keyword_only_where_a_domain_may_start():
    with pytest.raises(CnnError) as e:
        cnndsl.compile("in = 3\nconv(8)")
    assert e.value.diagnostics[0].code == "E0001"
    assert cnndsl.compile("inner = 3\nconv(8) * inner").params_count == 224 + 2 * 584


def test_fmt_writes_domains_canonically():
    text = "network f(N=2   in 1 .. 3,M IN -2..-1,K in {0,1 ,2}):\n  conv(8)*N\n"
    assert format_source(text).splitlines()[0] == \
        "network f(N=2 in 1..3, M in -2..-1, K in {0, 1, 2}):"
