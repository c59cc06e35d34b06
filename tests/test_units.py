"""Properties of the 8-minute rule (plugin.units) and the worked examples of 97124-rules.md §2."""
import pytest
from hypothesis import given
from hypothesis import strategies as st

from plugin import nearest_allocation
from plugin.units import cms_allocations, explain, per_code_units, permitted_allocations, units_for

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
    assert cms_allocations(visit) == [cms]
    assert per_code_units(visit) == per_code


@given(st.integers(min_value=0, max_value=10_000))
def test_units_for_matches_the_formula_and_grows_every_15_minutes(total):
    assert units_for(total) == total // 15 + (1 if total % 15 >= 8 else 0)
    assert units_for(total + 15) == units_for(total) + 1


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


@given(visits, st.sampled_from(["cms", "per-code"]), st.sampled_from(CODES))
def test_explain_shows_each_codes_minutes_and_the_units_permitted(visit, method, code):
    text = explain(method, visit, code)
    for c, m in visit.items():
        assert f"{c} {m} min" in text
    allowed = sorted({a.get(code, 0) for a in permitted_allocations(method, visit)})
    assert " or ".join(map(str, allowed)) in text


# -- the set of allocations CMS permits (ties are the clinician's choice, ch. 5 §20.2) -------------
@given(visits)
def test_every_permitted_allocation_has_the_cms_total_and_whole_units(visit):
    allocations = cms_allocations(visit)
    assert allocations
    for allocation in allocations:
        assert set(allocation) == set(visit)
        assert sum(allocation.values()) == units_for(sum(visit.values()))
        for code, m in visit.items():
            assert m // 15 <= allocation[code] <= m // 15 + (1 if m % 15 else 0)
            if m >= 15:
                assert allocation[code] >= 1


@given(visits)
def test_permitted_allocations_differ_only_among_tied_leftovers(visit):
    allocations = cms_allocations(visit)
    assert len({tuple(sorted(a.items())) for a in allocations}) == len(allocations)
    for allocation in allocations:
        extra = {c for c in visit if allocation[c] > visit[c] // 15}
        left_out = {c for c in visit if allocation[c] == visit[c] // 15 and visit[c] % 15}
        # nobody left out has more leftover minutes than someone who got the extra unit
        assert all(visit[o] % 15 <= visit[e] % 15 for o in left_out for e in extra)


@pytest.mark.parametrize("visit, massage_units", [
    ({"97112": 7, "97110": 7, "97124": 7}, {0, 1}),     # 21 min = 1 unit: any of the three may take it
    ({"97110": 20, "97124": 20}, {1, 2}),               # 40 min = 3 units: the third to either
    ({"97110": 10, "97124": 7}, {0}),                   # 17 min = 1 unit: 97110's 10 beat 7
    ({"97124": 22, "97110": 18}, {2}),
])
def test_ties_from_the_policy_examples(visit, massage_units):
    assert {a["97124"] for a in cms_allocations(visit)} == massage_units


def test_per_code_permits_exactly_one_allocation():
    assert permitted_allocations("per-code", {"97110": 20, "97124": 20}) == [{"97110": 1, "97124": 1}]


def test_the_nearest_allocation_changes_fewest_units():
    allocations = cms_allocations({"97110": 20, "97124": 20})
    assert nearest_allocation(allocations, {"97124": 3, "97110": 1}, "97124") == {"97110": 1, "97124": 2}
    assert nearest_allocation(allocations, {"97124": 1}, "97124") == {"97110": 2, "97124": 1}
    three = cms_allocations({"97112": 7, "97110": 7, "97124": 7})
    assert nearest_allocation(three, {"97124": 2}, "97124") == {"97112": 0, "97110": 0, "97124": 1}


def test_unknown_method_is_refused():
    with pytest.raises(ValueError):
        permitted_allocations("midpoint", {"97124": 15})
