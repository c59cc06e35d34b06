"""Properties of the 8-minute rule (plugin.units) and the worked examples of 97124-rules.md §2."""
import pytest
from hypothesis import given, strategies as st

from plugin.units import cms_units, explain, per_code_units, units_by_method, units_for

CODES = ["97110", "97112", "97124", "97140", "97530", "97035"]
minutes = st.integers(min_value=0, max_value=240)
visits = st.dictionaries(st.sampled_from(CODES), minutes, min_size=1, max_size=len(CODES))


@pytest.mark.parametrize("total, units", [(0, 0), (7, 0), (8, 1), (22, 1), (23, 2), (37, 2), (38, 3),
                                          (52, 3), (53, 4), (67, 4), (68, 5), (82, 5)])
def test_units_table(total, units):
    assert units_for(total) == units


@pytest.mark.parametrize("visit, cms, per_code", [
    ({"97110": 33, "97140": 7}, {"97110": 2, "97140": 1}, {"97110": 2, "97140": 0}),
    ({"97124": 22, "97110": 18}, {"97124": 2, "97110": 1}, {"97124": 1, "97110": 1}),
])
def test_worked_examples(visit, cms, per_code):
    assert cms_units(visit) == cms
    assert per_code_units(visit) == per_code


@given(st.integers(min_value=0, max_value=10_000))
def test_units_for_matches_the_formula_and_grows_every_15_minutes(total):
    assert units_for(total) == total // 15 + (1 if total % 15 >= 8 else 0)
    assert units_for(total + 15) == units_for(total) + 1


@given(visits)
def test_cms_total_is_the_units_of_all_timed_minutes(visit):
    assert sum(cms_units(visit).values()) == units_for(sum(visit.values()))


@given(visits)
def test_cms_gives_no_code_a_unit_it_cannot_earn(visit):
    result = cms_units(visit)
    assert set(result) == set(visit)
    for code, m in visit.items():
        assert m // 15 <= result[code] <= m // 15 + (1 if m % 15 else 0)
        if m == 0:
            assert result[code] == 0
        if m >= 15:
            assert result[code] >= 1


@given(visits)
def test_per_code_units_are_independent_per_code(visit):
    result = per_code_units(visit)
    for code, m in visit.items():
        assert result[code] == units_for(m) == per_code_units({code: m})[code]


@given(visits, st.sampled_from(CODES), minutes)
def test_per_code_other_codes_do_not_move_a_codes_units(visit, code, extra):
    changed = {**visit, code: extra}
    for other in visit:
        if other != code:
            assert per_code_units(changed)[other] == per_code_units(visit)[other]


@given(visits, st.sampled_from(["cms", "per-code"]))
def test_explain_shows_each_codes_minutes_and_units(visit, method):
    text = explain(method, visit)
    result = units_by_method(method, visit)
    for code, m in visit.items():
        assert f"{code}: {m} min → {result[code]} unit(s)" in text


def test_unknown_method_is_refused():
    with pytest.raises(ValueError):
        units_by_method("midpoint", {"97124": 15})
