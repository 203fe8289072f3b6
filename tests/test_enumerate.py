"""cnndsl enumerate and cnndsl.enumerate: a family's members, their figures, filters,
the Pareto front, sampling and the formats."""

from __future__ import annotations

import csv
import io
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cnndsl
from cnndsl.api import parse_bindings
from cnndsl.cli import main
from cnndsl.family import Family
from cnndsl.family.table import Row, dominates, measure, pareto
from cnndsl.outputs import generated_by_cnndsl

# The slides' general form, with the ranges they give ("N is usually up to ~5, M is
# large, 0 <= K <= 2"), cut to three values each.
SLIDES = """\
network slides(N in 1..3, M in 1..3, K in 0..2):
    input 3x32x32
    [(CONV-RELU)*N-POOL?]*M-(FC-RELU)*K,SOFTMAX
"""


@pytest.fixture
def slides(tmp_path):
    p = tmp_path / "slides.cnn"
    p.write_text(SLIDES, encoding="utf-8")
    return p


def _json(capsys, *argv) -> dict:
    assert main(["enumerate", *map(str, argv), "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_the_slides_template_has_54_bindings_and_45_members(capsys, slides):
    out = _json(capsys, slides)
    # 3*3*3*2 = 54 bindings. Without its pools the template is (CONV-RELU)*(N*M): the
    # pairs (N, M) with equal products, (1,2)/(2,1), (1,3)/(3,1) and (2,3)/(3,2), build
    # one graph, for each of the 3 values of K: 9 duplicates, 45 members.
    assert out["counts"] == {"bindings": 54, "space": 54, "valid": 45, "invalid": 0,
                             "duplicates": 9, "shown": 45}
    assert out["dimensions"] == ["N", "M", "K", "pool?"]
    dups = {(m["bindings"]["N"], m["bindings"]["M"], m["bindings"]["K"]):
            [(d["N"], d["M"]) for d in m["duplicates"]]
            for m in out["members"] if m["duplicates"]}
    assert dups == {(n, m, k): [(m, n)] for k in range(3) for n, m in
                    ((1, 2), (1, 3), (2, 3))}
    assert all(not d["pool?"] for m in out["members"] for d in m["duplicates"])


def test_each_member_has_the_params_of_compiling_it_alone_with_set(capsys, slides):
    out = _json(capsys, slides)
    for m in out["members"]:
        items = [f"{k}={'on' if v is True else 'off' if v is False else v}"
                 for k, v in m["bindings"].items()]
        alone = cnndsl.compile(slides, bindings=parse_bindings(items))
        assert (m["params"], m["macs"], m["output"]) == (
            alone.params_count, alone.cost.macs, "10"), items
    # one through the command line too: N=2 M=3 K=1 with the pools
    assert main(["summary", str(slides), "--set", "N=2", "--set", "M=3", "--set", "K=1",
                 "--format", "json"]) == 0
    alone = json.loads(capsys.readouterr().out)["totals"]["params"]
    row = next(m for m in out["members"]
               if m["bindings"] == {"N": 2, "M": 3, "K": 1, "pool?": True})
    assert row["params"] == alone == 114_090  # the zoo's cs231n at its defaults


def test_members_whose_pools_shrink_the_map_away_are_invalid_with_their_code(capsys, slides):
    out = _json(capsys, slides, "--set", "M=4..6", "--set", "POOL?=on", "--set", "K=1")
    invalid = [(m["bindings"]["N"], m["bindings"]["M"], m["codes"])
               for m in out["members"] if not m["valid"]]
    # 32 / 2**5 = 1: six pools halve a 1x1 map
    assert invalid == [(n, 6, ["E0301"]) for n in (1, 2, 3)]
    assert out["counts"]["invalid"] == 3 and out["counts"]["valid"] == 6
    assert main(["enumerate", str(slides), "--set", "M=4..6", "--valid-only"]) == 0
    assert "E0301" not in capsys.readouterr().out


def _rows(slides, **bindings) -> list[Row]:
    return [measure(m) for m in Family(slides, bindings).members(invalid=True)]


def test_max_params_keeps_exactly_the_members_under_the_bound(capsys, slides):
    rows = _rows(slides)
    expected = sorted(r.index for r in rows if r.valid and r.params <= 100_000)
    out = _json(capsys, slides, "--max-params", "100k")
    assert sorted(m["index"] for m in out["members"]) == expected
    assert 0 < len(expected) < 45
    out = _json(capsys, slides, "--max-params", "1M", "--max-macs", "20M", "--min-rf", "16")
    assert sorted(m["index"] for m in out["members"]) == sorted(
        r.index for r in rows if r.valid and r.params <= 10**6 and r.macs <= 20 * 10**6
        and r.rf >= 16)


@pytest.mark.parametrize("metrics", [["params", "macs"], ["params", "macs", "rf"],
                                     ["memory", "activations"]])
def test_pareto_is_the_brute_force_front(capsys, slides, metrics):
    rows = [r for r in _rows(slides) if r.valid]

    def key(r, m):
        return -r.get(m) if m == "rf" else r.get(m)

    brute = {r.index for r in rows if not any(
        all(key(o, m) <= key(r, m) for m in metrics) and
        any(key(o, m) < key(r, m) for m in metrics) for o in rows)}
    out = _json(capsys, slides, "--pareto", ",".join(metrics))
    assert {m["index"] for m in out["members"]} == brute
    assert {r.index for r in pareto(rows, metrics)} == brute
    assert all(not dominates(a, b, metrics) for a in pareto(rows, metrics)
               for b in pareto(rows, metrics))


def test_sampling_draws_from_an_unmaterialized_space():
    src = ("network f(a in 1..1000000, b in 1..1000000, w in {4, 8}):\n"
           "  input 1x8x8\n  conv(w) - gap - fc(2)")
    fam = Family(src)
    assert len(fam.space) == 2 * 10**12
    first = [m.bindings for m in fam.members(sample=5, seed=3, unique=False)]
    again = [m.bindings for m in Family(src).members(sample=5, seed=3, unique=False)]
    assert first == again and len(first) == 5
    assert all(1 <= b["a"] <= 10**6 and b["w"] in (4, 8) for b in first)
    assert [m.bindings for m in fam.members(sample=5, seed=4, unique=False)] != first


def test_sampled_members_are_members_of_the_whole(capsys, slides):
    whole = {json.dumps(m["bindings"]) for m in _json(capsys, slides)["members"]}
    out = _json(capsys, slides, "--sample", "10", "--seed", "7")
    assert out["counts"]["bindings"] == 10 and out["counts"]["space"] == 54
    assert {json.dumps(m["bindings"]) for m in out["members"]} <= whole | {
        json.dumps(d) for m in _json(capsys, slides)["members"] for d in m["duplicates"]}


def test_sort_limit_and_the_text_formats(capsys, slides):
    assert main(["enumerate", str(slides), "--sort=-params", "--limit", "3",
                 "--format", "csv"]) == 0
    table = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [int(r["params"]) for r in table] == sorted(
        (r.params for r in _rows(slides) if r.valid), reverse=True)[:3]
    assert table[0]["N"] == "3" and table[0]["pool?"] == "off"
    assert main(["enumerate", str(slides), "--set", "K=0", "--set", "N=1",
                 "--format", "markdown"]) == 0
    md = capsys.readouterr().out.splitlines()
    assert md[0] == "| M | pool? | params | MACs | activations | peak | RF | output | also |"
    assert md[2] == "| 1 | on | 82,826 | 966.7 k | 44.0 k | 163.8 kB | 4 | 10 |  |"
    assert md[-1] == "6 bindings: 6 valid members, 0 invalid; 6 shown"
    assert main(["enumerate", str(slides), "--set", "K=0", "--set", "M=1"]) == 0
    text = capsys.readouterr().out.splitlines()
    assert text[0].split() == ["N", "pool?", "params", "MACs", "activations", "peak", "RF",
                               "output", "also"]
    assert text[-1] == "6 bindings: 6 valid members, 0 invalid; 6 shown"


def test_the_plot_is_a_marked_png(capsys, slides, tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "fam.png"
    assert main(["enumerate", str(slides), "--pareto", "params,macs", "--plot",
                 str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and generated_by_cnndsl(out)
    other = tmp_path / "mine.png"
    other.write_bytes(b"not ours")
    assert main(["enumerate", str(slides), "--plot", str(other)]) == 2
    assert other.read_bytes() == b"not ours"


@pytest.mark.parametrize("argv, message", [
    (["--pareto", "params,speed"], "--pareto takes two or more figures"),
    (["--sort", "speed"], "cannot sort by `speed`"),
    (["--set", "N=5..1"], "the range 5..1 is empty"),
    (["--max-params", "lots"], "not an amount"),
    (["--limit", "x"], "--limit takes a number of members or NAME=N"),
])
def test_usage_errors_exit_2(capsys, slides, argv, message):
    assert main(["enumerate", str(slides), *argv]) == 2
    assert message in capsys.readouterr().err


def test_a_range_on_the_command_line_makes_a_dimension_of_any_parameter(capsys):
    out = _json(capsys, "zoo/cs231n.cnn", "--set", "channels=16,32", "--set", "N=1",
                "--set", "M=2", "--set", "K=0", "--set", "POOL?=on")
    assert out["dimensions"] == ["channels"]
    assert [m["params"] for m in out["members"]] == [
        cnndsl.compile("cs231n", bindings={"N": 1, "M": 2, "K": 0, "channels": c}).params_count
        for c in (16, 32)]


def test_the_python_api_yields_bindings_and_networks():
    pairs = list(cnndsl.enumerate(SLIDES, {"K": 0, "N": 1}))
    assert [(b, net.params_count) for b, net in pairs][:2] == [
        ({"M": 1, "pool?": True}, 82_826), ({"M": 1, "pool?": False}, 328_586)]
    assert all(isinstance(net, cnndsl.Network) for _, net in pairs)
    every = list(cnndsl.enumerate(SLIDES, unique=False))
    assert len(every) == 54
    bad = [m for m in cnndsl.enumerate(SLIDES, {"M": (6,), "N": 1, "K": 0, "POOL?": True},
                                       invalid=True) if not m.valid]
    assert [(m.bindings, m.codes) for m in bad] == [({"M": 6}, ["E0301"])]
    errors = [d for d in bad[0].error.diagnostics if d.is_error]
    assert bad[0].network is None and [d.code for d in errors] == ["E0301"]
    # M=6 lies outside the file's 1..3, but the bindings range M over (6,): no W0202
    assert "W0202" not in [d.code for d in bad[0].error.diagnostics]


@settings(max_examples=25, deadline=None)
@given(depths=st.lists(st.integers(0, 3), min_size=1, max_size=3, unique=True),
       widths=st.lists(st.sampled_from([1, 2, 4, 8]), min_size=1, max_size=3, unique=True),
       pool=st.booleans())
def test_every_binding_is_a_member_a_duplicate_or_invalid(depths, widths, pool):
    """Over random families: the counts add up to the product, and every member's
    figures are those of compiling it alone."""
    ds = ", ".join(map(str, depths))
    ws = ", ".join(map(str, widths))
    src = (f"network f(d in {{{ds}}}, w in {{{ws}}}):\n  input 2x6x6\n"
           f"  conv(w) * d - {'POOL?' if pool else 'id'} - conv(w, 5) - gap - fc(3)")
    fam = Family(src)
    members = list(fam.members(invalid=True))
    dups = sum(len(m.duplicates) for m in members)
    assert len(members) + dups == len(fam.space) == len(depths) * len(widths) * (2 if pool
                                                                                 else 1)
    for m in members:
        values = fam.space.compile_bindings(m.bindings)
        if m.valid:
            assert m.network.params_count == cnndsl.compile(src, values).params_count
            for d in m.duplicates:
                assert cnndsl.compile(src, fam.space.compile_bindings(d)).dump_ir().split(
                    "\n")[1:] == m.network.dump_ir().split("\n")[1:]
        else:
            with pytest.raises(cnndsl.CnnError):
                cnndsl.compile(src, values)


def test_a_space_too_large_to_walk_asks_for_a_sample(capsys):
    src = "network f(a in 1..2000, b in 1..2000):\n  input 1x8x8\n  conv(4) - gap - fc(2)"
    assert main(["enumerate", src]) == 2
    err = capsys.readouterr().err
    assert "the family has 4,000,000 members (a (2,000) x b (2,000))" in err
    assert "--sample N" in err
    assert main(["enumerate", src, "--sample", "3", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["counts"]["bindings"] == 3


def test_a_preset_fixes_the_dimensions_it_binds():
    src = SLIDES + "preset deep(N=3, M=3)\n"
    fam = Family(src, preset="deep")
    assert [d.name for d in fam.space.dims] == ["K", "pool?"]
    assert {m.network.params_count for m in fam.members()} >= {
        cnndsl.compile(src, {"K": 1}, preset="deep").params_count}
    assert [d.name for d in Family(src, {"N": (1, 2)}, preset="deep").space.dims] == [
        "N", "K", "pool?"]


def test_a_space_beyond_2_to_the_63_is_counted_and_sampled(capsys):
    src = ("network f(a in 1..9223372036854775807, b in 1..9):\n  input 1x8x8\n"
           "  conv(4) - gap - fc(2)")
    assert Family(src).space.size == 9 * (2**63 - 1)
    assert main(["enumerate", src]) == 2
    assert "83,010,348,331,692,982,263 members" in capsys.readouterr().err
    assert main(["enumerate", src, "--sample", "2", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["counts"]["bindings"] == 2


def test_a_later_set_replaces_an_earlier_one(capsys, slides):
    out = _json(capsys, slides, "--set", "N=1..3", "--set", "N=2", "--set", "K=0")
    assert "N" not in out["dimensions"] and {m["bindings"].get("N") for m in out["members"]} == {None}
    out = _json(capsys, slides, "--set", "N=2", "--set", "N=1..2", "--set", "K=0")
    assert out["dimensions"][0] == "N"


def test_a_family_no_member_of_which_compiles_says_why(capsys, tmp_path):
    p = tmp_path / "k.cnn"
    p.write_text("network f(K, N in 1..2):\n  conv(8) * N * K\n", encoding="utf-8")
    assert main(["enumerate", str(p)]) == 1
    assert "error[E0201]: parameter `K` has no value" in capsys.readouterr().err
    assert main(["enumerate", "resnet", "--preset", "nope"]) == 1
    assert "no preset named `nope`" in capsys.readouterr().err


# ---------------------------------------------------------------- bindings checked
@pytest.mark.parametrize("value", ["maybe", "2", "1..2", "{on,maybe}", "0.5"])
def test_an_optional_part_is_switched_on_or_off_only(capsys, slides, value):
    assert main(["enumerate", str(slides), "--set", f"POOL?={value}"]) == 2
    err = capsys.readouterr().err
    assert "`POOL?` switches an optional part on or off" in err and "--set POOL?=off" in err


def test_the_python_api_refuses_a_switch_that_is_not_a_boolean():
    with pytest.raises(cnndsl.UserError, match="switches an optional part on or off, got 1"):
        cnndsl.compile(SLIDES, bindings={"POOL?": 1})
    with pytest.raises(cnndsl.UserError, match="got 'yes please'"):
        list(cnndsl.enumerate(SLIDES, {"POOL?": (True, "yes please")}))
    on_off = list(cnndsl.enumerate(SLIDES, {"POOL?": (True, False), "K": 0, "M": 1}))
    assert [b["pool?"] for b, _ in on_off] == [True, False] * 3  # pool? varies fastest


def test_a_binding_no_member_uses_is_warned_once(capsys, slides):
    assert main(["enumerate", str(slides), "--set", "K=0", "--set", "dpeth=3",
                 "--set", "PUOL?=off"]) == 0
    out, err = capsys.readouterr()
    assert "15 valid members" in out  # the members are listed all the same
    assert err.count("warning[W0201]") == 2
    assert "parameter `dpeth` was bound but the network does not use it" in err
    assert "`puol?` switches an optional part, but the network has no such part" in err


def test_a_name_some_member_uses_is_not_warned(capsys, tmp_path):
    # `hidden` (the built-in width of FC) is read only by the members with K > 0
    p = tmp_path / "fam.cnn"
    p.write_text("network f(K in 0..1):\n    input 1x8x8\n    conv(4) - (FC-RELU)*K - fc(2)\n",
                 encoding="utf-8")
    assert main(["enumerate", str(p), "--set", "hidden=16"]) == 0
    assert "W0201" not in capsys.readouterr().err
    fam = Family(p, {"hidden": 16, "widht": 3})
    list(fam.members())
    assert [d.message for d in fam.unused_bindings] == [
        "parameter `widht` was bound but the network does not use it"]


# ---------------------------------------------------------------- figures and options
def test_the_rf_is_the_main_paths_not_an_auxiliary_heads(capsys, tmp_path):
    p = tmp_path / "ax.cnn"
    p.write_text("network ax(n in 1..2):\n    input 3x32x32\n"
                 "    conv(8) - aux(conv(8) * 10 - gap - fc(10)) - conv(8) * n - gap - fc(10)\n",
                 encoding="utf-8")
    rows = _json(capsys, p)["members"]
    assert [(m["bindings"]["n"], m["receptive_field"]) for m in rows] == [(1, 5), (2, 7)]  # aux sees 23


def test_strict_makes_a_member_with_a_warning_invalid(capsys, tmp_path):
    p = tmp_path / "ws.cnn"  # k=3 at stride 2 leaves the 8x8 input's last row unseen: W0301
    p.write_text("network ws(k in {2, 3}):\n    input 1x8x8\n"
                 "    conv(4, k, stride=2, pad=0) - gap - fc(2)\n", encoding="utf-8")
    assert _json(capsys, p)["counts"]["valid"] == 2
    members = _json(capsys, p, "--strict")["members"]
    assert [(m["bindings"]["k"], m.get("codes")) for m in members] == [
        (2, None), (3, ["W0301"])]


def test_a_sample_larger_than_a_walk_is_refused(capsys, tmp_path):
    p = tmp_path / "huge.cnn"
    p.write_text("network h(a in 1..1000000000):\n    input 1x8x8\n    conv(4) - gap - fc(2)\n",
                 encoding="utf-8")
    assert main(["enumerate", str(p), "--sample", "100000000"]) == 2
    assert "--sample 100,000,000 is more members than a walk takes" in capsys.readouterr().err


@pytest.mark.parametrize("bindings, message", [
    ([("w", 8)], "bindings must be a mapping"),
    ({1: 8}, "parameter names are strings"),
    ({"w": ()}, "no choices for `w`"),
    ({"w": cnndsl.syntax.ast.Domain(None, 9, 8)}, "the range 9..8 of `w` is empty"),
    ({"w": (8, [1])}, "list [1] is not a value"),
])
def test_the_python_api_refuses_bindings_it_cannot_use(bindings, message):
    src = "network f(w in {4, 8}):\n  input 1x8x8\n  conv(w) - gap - fc(2)"
    with pytest.raises(cnndsl.UserError) as e:
        list(cnndsl.enumerate(src, bindings))
    assert message in str(e.value)


def test_a_member_index_outside_the_space_is_an_index_error():
    space = Family("network f(w in {4, 8}):\n  input 1x8x8\n  conv(w) - gap - fc(2)").space
    assert space.bindings(1) == {"w": 8}
    for index in (-1, 2):
        with pytest.raises(IndexError):
            space.bindings(index)


def test_the_optional_parts_of_imported_blocks_the_network_calls_are_dimensions(tmp_path):
    (tmp_path / "lib.cnn").write_text(
        "block unit(c) = conv(c, 3, bias=false) - BN? - relu\n"
        "block unused(c) = conv(c, 3) - DROPOUT?\n", encoding="utf-8")
    (tmp_path / "own.cnn").write_text(
        'import "lib.cnn"\nblock spare(c) = conv(c, 1) - POOL?\n'
        "network im(N in 1..2):\n    input 1x8x8\n    unit(4) * N - gap - fc(2)\n",
        encoding="utf-8")
    fam = Family(tmp_path / "own.cnn")
    assert [d.name for d in fam.space.dims] == ["N", "bn?"]  # spare and unused: not called
    params = {(b["N"], b["bn?"]): net.params_count for b, net in fam.members()}
    alone = cnndsl.compile(tmp_path / "own.cnn", bindings={"N": 1, "bn?": False})
    assert params[(1, False)] == alone.params_count == params[(1, True)] - 8


def test_sorting_by_a_figure_no_member_has_says_why(capsys, tmp_path):
    p = tmp_path / "mlp.cnn"
    p.write_text("network m(h in {8, 16}):\n    input 64\n    fc(h) - relu - fc(2)\n",
                 encoding="utf-8")
    assert main(["enumerate", str(p), "--sort", "rf"]) == 2
    err = capsys.readouterr().err
    assert "no member has a figure `rf`" in err and "sort by params, macs" in err
    assert main(["enumerate", str(p), "--sort="]) == 2
    assert "--sort needs a figure or a parameter" in capsys.readouterr().err


def test_a_markdown_row_stays_one_line_whatever_a_value_holds(capsys, tmp_path):
    p = tmp_path / "m.cnn"
    p.write_text("network f(act in {relu, gelu}):\n  input 1x8x8\n  conv(4) - act - gap - fc(2)\n",
                 encoding="utf-8")
    assert main(["enumerate", str(p), "--set", "act=relu,x\ny|z", "--format", "markdown"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert rows[3] == "| x y\\|z |  |  |  |  |  |  | invalid: E0107 |"


# ---------------------------------------------------------------- the space as --set gives it
def test_a_part_ranged_by_name_is_built_when_on_though_every_part_is_off(capsys, slides):
    members = _json(capsys, slides, "--set", "N=1", "--set", "M=1", "--set", "K=0",
                    "--set", "?=off", "--set", "POOL?=on,off")["members"]
    alone = cnndsl.compile(slides, bindings={"N": 1, "M": 1, "K": 0, "?": False,
                                              "POOL?": True})
    assert [(m["bindings"]["pool?"], m["params"]) for m in members] == [
        (True, alone.params_count), (False, alone.params_count + 245_760)]


def test_every_part_at_once_does_not_range(capsys, slides):
    assert main(["enumerate", str(slides), "--set", "?=on,off"]) == 2
    assert "`?` switches every optional part at once" in capsys.readouterr().err


def test_a_range_set_wider_than_the_headers_is_the_familys_under_strict(capsys, tmp_path):
    p = tmp_path / "s.cnn"
    p.write_text("network s(N=2 in 1..3):\n    input 3x16x16\n    conv(8) * N - relu - gap - "
                 "fc(10)\n", encoding="utf-8")
    data = _json(capsys, p, "--set", "N=3..5", "--strict")  # outside 1..3, default 2 too
    assert data["counts"]["valid"] == 3 and "W0202" not in capsys.readouterr().err
    assert [m["bindings"]["N"] for m in data["members"]] == [3, 4, 5]


def test_a_misspelt_part_given_a_range_is_warned(capsys, slides):
    assert main(["enumerate", str(slides), "--set", "K=0", "--set", "PO0L?=on,off"]) == 0
    assert "`po0l?` switches an optional part, but the network has no such part" in \
        capsys.readouterr().err


@pytest.mark.parametrize("item, message", [
    ("N=1..3,5", "mixes a range and choices"),
    ("=3", "names no parameter"),
])
def test_set_values_that_cannot_be_read_are_refused(capsys, slides, item, message):
    assert main(["enumerate", str(slides), "--set", item]) == 2
    assert message in capsys.readouterr().err


def test_a_braced_range_and_a_full_width_name_read_as_written(capsys, slides):
    data = _json(capsys, slides, "--set", "N={1..2}", "--set", "Ｋ=0", "--set", "M=1")
    assert [m["bindings"]["N"] for m in data["members"]] == [1, 1, 2, 2]
    assert "W0201" not in capsys.readouterr().err


@pytest.mark.parametrize("options, message", [
    ({"sample": "3"}, "sample must be a whole number"),
    ({"sample": 0}, "sample must be a whole number"),
    ({"sample": 1.5}, "sample must be a whole number"),
    ({"preset": "nope"}, "no preset named `nope`"),
    ({"limits": "nodes=5"}, "limits must be a mapping"),
])
def test_the_python_api_refuses_options_it_cannot_use(options, message):
    with pytest.raises((cnndsl.UserError, cnndsl.CnnError)) as e:
        list(cnndsl.enumerate(SLIDES, **options))
    assert message in str(e.value)


def test_a_front_on_a_figure_no_member_has_says_why(capsys, tmp_path):
    p = tmp_path / "mlp.cnn"
    p.write_text("network m(h in {8, 16}):\n    input 64\n    fc(h) - relu - fc(2)\n",
                 encoding="utf-8")
    assert main(["enumerate", str(p), "--pareto", "params,rf"]) == 2
    assert "no member has a figure `rf`" in capsys.readouterr().err
    assert main(["enumerate", str(p), "--plot", str(tmp_path / "f.png"), "--pareto",
                 "macs,rf"]) == 2
    assert not (tmp_path / "f.png").exists()


def test_the_parts_of_a_block_a_preset_or_a_binding_calls_are_dimensions(capsys, tmp_path):
    p = tmp_path / "pre.cnn"
    p.write_text("block fancy = conv(4) - POOL?\nnetwork f(stage=relu, K in 1..2):\n"
                 "    input 1x8x8\n    conv(4) - stage * K - gap - fc(2)\n"
                 "preset big(stage=fancy)\n", encoding="utf-8")
    assert [d.name for d in Family(p).space.dims] == ["K"]  # relu: fancy is not called
    for options in ({"preset": "big"}, {"bindings": {"stage": "fancy"}}):
        fam = Family(p, **options)
        assert [d.name for d in fam.space.dims] == ["K", "pool?"]
        macs = [net.cost.macs for _, net in fam.members()]
        assert len(set(macs)) == 3 and fam.unused_bindings == []  # K=1 on/off share MACs


def test_a_part_reached_through_a_ranged_choice_is_no_unknown_switch(tmp_path):
    p = tmp_path / "pre.cnn"
    p.write_text("block fancy = conv(4) - POOL?\nnetwork f(stage=relu):\n"
                 "    input 1x8x8\n    conv(4) - stage - gap - fc(2)\n", encoding="utf-8")
    fam = Family(p, {"stage": ("fancy", "relu")})
    assert [d.name for d in fam.space.dims] == ["stage", "pool?"]
    assert len(list(fam.members(unique=False))) == 4 and fam.unused_bindings == []
