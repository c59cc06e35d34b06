"""Property: a bill that is one of the allocations the 8-minute rule permits never gets a `units`
or `under-8-minutes` card, and a bill outside the set gets a fix that lands inside it."""
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from cds_hooks.record_from_hook import record_from_hook
from plugin import evaluate, rule
from plugin.fixes import apply
from plugin.units import cms_allocations, units_for
from tests.builders import Visit

OTHERS = ["97110", "97112", "97140", "97530"]
TIME_RULES = [rule("units"), rule("under-8-minutes"), rule("time-in-out")]
visits = st.fixed_dictionaries({"97124": st.integers(1, 50)}).flatmap(
    lambda massage: st.dictionaries(st.sampled_from(OTHERS), st.integers(1, 50), max_size=3).map(
        lambda others: {**massage, **others}))


def build(minutes: dict[str, int], bill: dict[str, int]) -> Visit:
    visit = Visit()
    for code, m in minutes.items():
        visit.procedure(code, minutes=m)
    for code, units in bill.items():
        if units:
            visit.claim_line(code, units=units)
    return visit


def fired(visit: Visit, policy, claim: dict | None = None) -> set[str]:
    context = visit.context("claim-prepare")
    if claim is not None:
        context["claim"] = claim
    record = record_from_hook("claim-prepare", context, visit.prefetch())
    return {f.code for f in evaluate(record, policy, TIME_RULES).findings}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(visits, st.data())
def test_a_permitted_bill_gets_no_units_card(policy, minutes, data):
    allocation = data.draw(st.sampled_from(cms_allocations(minutes)))
    assume(allocation["97124"] > 0)  # no 97124 line, nothing for these rules to check
    assert fired(build(minutes, allocation), policy) == set()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(visits, st.data(), st.integers(1, 6))
def test_a_fix_lands_inside_the_permitted_set(policy, minutes, data, billed):
    allocation = data.draw(st.sampled_from(cms_allocations(minutes)))
    visit = build(minutes, {**allocation, "97124": billed})
    findings = [f for f in evaluate(visit.record(), policy, TIME_RULES).findings if f.fixes]
    for finding in findings:
        claim = apply(finding.fixes[0], visit.claim)
        assert not fired(visit, policy, claim) & {"units", "under-8-minutes"}
        if units_for(sum(minutes.values())):
            assert claim["item"], "a fix never deletes the only line of a visit whose minutes earn units"
