"""time-in-out, under-8-minutes and units: the 8-minute rule applied to the 97124 line."""
import pytest

from cds_hooks.record_from_hook import record_from_hook
from plugin import Evaluation, evaluate, load_policy, rule
from plugin.fixes import apply
from tests.builders import Visit


def timed_visit(services, billed=()):
    """A visit with these timed services [(code, minutes)] (minutes None: dated, no clock times)
    and claim lines [(code, units)]."""
    visit = Visit()
    for code, minutes in services:
        visit.procedure(code, minutes=minutes)
    for code, units in billed:
        visit.claim_line(code, units=units)
    return visit


def per_code_policy(tmp_path):
    """The shipped policy plus a clinic payer "Acme Health" counting units per code."""
    extra = tmp_path / "p.toml"
    extra.write_text('[profiles.acme]\nname = "Acme Health"\nunits_method = "per-code"\n')
    return load_policy(extra)


def codes(visit, policy):
    return {f.code: f for f in evaluate(visit.record(), policy).findings}


def check(code, visit, policy):
    return list(rule(code).check(visit.record(), policy))


def reevaluate(visit, finding, policy):
    """Apply the finding's first fix to the claim and evaluate again."""
    updated = apply(finding.fixes[0], visit.claim)
    context = visit.context("claim-prepare")
    context["claim"] = updated
    return {f.code for f in evaluate(record_from_hook("claim-prepare", context, visit.prefetch()), policy).findings}


# -- time-in-out -------------------------------------------------------------------
def test_time_in_out_fires_when_the_time_out_is_missing(policy):
    visit = Visit()
    proc = visit.procedure("97124", start="2026-03-02T09:00:00-05:00")
    visit.claim_line("97124")
    [finding] = check("time-in-out", visit, policy)
    assert finding.evidence == (f"Procedure/{proc['id']}",)
    found = codes(visit, policy)
    assert "time-in-out" in found and "units" not in found and "under-8-minutes" not in found


def test_time_in_out_fires_for_a_date_without_clock_time(policy):
    visit = Visit()
    visit.procedure("97124", start="2026-03-02", end="2026-03-02")
    visit.claim_line("97124")
    assert check("time-in-out", visit, policy)


def test_time_in_out_fires_when_no_massage_service_is_recorded(policy):
    visit = timed_visit([("97110", 20)], [("97124", 1)])
    [finding] = check("time-in-out", visit, policy)
    assert "no completed massage service record" in finding.detail


def test_time_in_out_quiet_with_clock_times(policy):
    visit = timed_visit([("97124", 15)], [("97124", 1)])
    assert check("time-in-out", visit, policy) == []


# -- under-8-minutes ---------------------------------------------------------------
def test_under_8_fires_for_7_minutes_alone_and_offers_removal(policy):
    visit = timed_visit([("97124", 7)], [("97124", 1)])
    [finding] = check("under-8-minutes", visit, policy)
    assert "7 min" in finding.detail and finding.fixes[0].remove
    assert "under-8-minutes" not in reevaluate(visit, finding, policy)


def test_under_8_fires_when_combined_minutes_go_to_another_code(policy):
    # 97124 7 + 97110 30 = 37 min → 2 units, both to 97110 (two whole units).
    visit = timed_visit([("97124", 7), ("97110", 30)], [("97124", 1), ("97110", 2)])
    assert check("under-8-minutes", visit, policy)


def test_under_8_quiet_when_leftover_minutes_earn_97124_a_unit(policy):
    # 97110 33 + 97124 7 = 40 min → 3 units; 97124's 7 leftover minutes beat 97110's 3.
    visit = timed_visit([("97110", 33), ("97124", 7)], [("97110", 2), ("97124", 1)])
    assert check("under-8-minutes", visit, policy) == []
    assert "units" not in codes(visit, policy)


def test_under_8_quiet_at_8_minutes(policy):
    visit = timed_visit([("97124", 8)], [("97124", 1)])
    assert check("under-8-minutes", visit, policy) == []


# -- units -------------------------------------------------------------------------
@pytest.mark.parametrize("minutes,billed,expected", [(22, 1, None), (23, 1, 2), (38, 2, 3), (52, 4, 3)])
def test_units_alone(policy, minutes, billed, expected):
    visit = Visit()
    visit.procedure("97124", minutes=minutes)
    visit.claim_line("97124", units=billed)
    found = check("units", visit, policy)
    if expected is None:
        assert found == []
    else:
        [finding] = found
        assert finding.fixes[0].quantity == expected
        assert f"{minutes} min" in finding.detail
        assert "units" not in reevaluate(visit, finding, policy)


def test_units_cms_mixed_remainder_gives_97124_two(policy):
    visit = timed_visit([("97124", 22), ("97110", 18)], [("97124", 1), ("97110", 1)])
    [finding] = check("units", visit, policy)
    assert finding.fixes[0].quantity == 2
    assert "= 40 min, 3 unit(s) in all" in finding.detail


def test_units_per_code_payer_counts_each_code_alone(tmp_path):
    policy = per_code_policy(tmp_path)
    visit = timed_visit([("97124", 22), ("97110", 18)], [("97124", 1), ("97110", 1)])
    visit.payer("Acme Health")
    assert check("units", visit, policy) == []
    visit.claim["item"][0]["quantity"]["value"] = 2
    [finding] = check("units", visit, policy)
    assert finding.fixes[0].quantity == 1 and "Per-code count" in finding.detail


def test_units_is_superseded_by_under_8(policy):
    visit = timed_visit([("97124", 5)], [("97124", 1)])
    found = codes(visit, policy)
    assert "under-8-minutes" in found and "units" not in found


# -- data-unavailable --------------------------------------------------------------
def test_data_unavailable_lists_skipped_resources_and_missing_keys(policy):
    visit = timed_visit([("97124", 15)])
    bad = visit.add({"resourceType": "Observation", "id": "obs-bad", "status": 12})
    visit.claim_line("97124")
    record = visit.record()
    record.add_prefetch({}, unavailable=["goals", "serviceRequests"])
    [finding] = [f for f in evaluate(record, policy).findings if f.code == "data-unavailable"]
    assert "**goals**" in finding.detail and "Observation/obs-bad" not in finding.detail
    assert "**serviceRequests**" not in finding.detail  # no rule needs every order: no loss to report
    assert finding.evidence == (f"Observation/{bad['id']}",)


def test_data_unavailable_quiet_when_everything_was_read(policy):
    visit = timed_visit([("97124", 15)], [("97124", 1)])
    assert list(rule("data-unavailable").report(visit.record(), policy, Evaluation())) == []


def test_cms_units_wait_for_every_timed_service_to_have_clock_times(policy):
    # 97110 dated but untimed: under the CMS method 97124's 7 minutes may or may not earn a unit.
    visit = timed_visit([("97124", 7)])
    other = visit.procedure("97110")
    visit.claim_line("97124")
    visit.claim_line("97110")
    found = codes(visit, policy)
    assert "under-8-minutes" not in found and "units" not in found
    finding = found["time-in-out"]
    assert "97110" in finding.summary and finding.evidence == (f"Procedure/{other['id']}",)


def test_per_code_units_do_not_need_the_other_services_times(tmp_path):
    policy = per_code_policy(tmp_path)
    visit = timed_visit([("97124", 7), ("97110", None)], [("97124", 1)])
    visit.payer("Acme Health")
    found = codes(visit, policy)
    assert "under-8-minutes" in found and "time-in-out" not in found


def test_only_the_visit_days_97124_lines_are_counted_and_fixed(policy):
    visit = timed_visit([("97124", 7)])
    earlier = visit.claim_line("97124", units=1, day="2026-02-27")
    today = visit.claim_line("97124", units=1)
    visit.claim["item"] = [earlier, today]  # the earlier date comes first
    [finding] = check("under-8-minutes", visit, policy)
    assert finding.fixes[0].sequence == today["sequence"]
    visit2 = Visit()
    visit2.procedure("97124", minutes=23)
    visit2.claim_line("97124", units=2)
    visit2.claim_line("97124", units=2, day="2026-03-04")
    assert check("units", visit2, policy) == []


# -- ties: the clinician picks which tied code takes the unit (CMS ch. 5 §20.2) ------------------
def test_a_three_way_tie_billed_as_massage_is_right(policy):
    visit = Visit()
    for code in ("97112", "97110", "97124"):
        visit.procedure(code, minutes=7)
    visit.claim_line("97124", units=1)
    found = codes(visit, policy)
    assert "under-8-minutes" not in found and "units" not in found


def test_a_tie_lets_massage_take_the_extra_unit(policy):
    visit = timed_visit([("97110", 20), ("97124", 20)], [("97124", 2), ("97110", 1)])
    assert "units" not in codes(visit, policy)


def test_a_bill_outside_the_set_moves_to_the_nearest_permitted_allocation(policy):
    visit = timed_visit([("97110", 20), ("97124", 20)], [("97124", 3), ("97110", 1)])
    [finding] = check("units", visit, policy)
    assert finding.fixes[0].quantity == 2 and "1 or 2" in finding.detail
    assert "units" not in reevaluate(visit, finding, policy)


def test_the_only_billed_line_is_recoded_not_removed_when_the_unit_is_another_codes(policy):
    # 97110 10 + 97124 7 = 17 min, 1 unit, 97110's; only 97124 was billed: removing it would
    # leave the visit's earned unit unbilled, so the line is billed as 97110 instead.
    visit = timed_visit([("97110", 10), ("97124", 7)])
    visit.claim_line("97124", units=1, modifiers=("GP",))
    [finding] = check("under-8-minutes", visit, policy)
    [fix] = finding.fixes
    assert not fix.remove and fix.product_code == "97110" and fix.quantity == 1
    assert finding.summary.startswith("Bill 97110")
    updated = apply(fix, visit.claim)
    assert [i["productOrService"]["coding"][0]["code"] for i in updated["item"]] == ["97110"]


def test_the_massage_line_is_removed_when_the_other_code_is_billed(policy):
    visit = timed_visit([("97110", 10), ("97124", 7)], [("97124", 1), ("97110", 1)])
    [finding] = check("under-8-minutes", visit, policy)
    assert finding.fixes[0].remove
