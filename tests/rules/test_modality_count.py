from plugin import load_policy
from tests.builders import Visit
from tests.rules.billing_support import run


def claim_visit(codes, plan_start=None, earlier_day=None) -> Visit:
    visit = Visit()
    for code in codes:
        visit.procedure(code, minutes=15)
        visit.claim_line(code)
    if plan_start:
        visit.add({"resourceType": "CarePlan", "status": "active", "intent": "plan",
                   "subject": {"reference": f"Patient/{visit.patient}"}, "period": {"start": plan_start}})
    if earlier_day:
        visit.procedure("97110", minutes=15, day=earlier_day)
    return visit


def test_fires_on_first_visit_with_three_therapies(policy):
    visit = claim_visit(["97124", "97110", "97012"])
    [finding] = run(visit, policy)["modality-count"]
    assert "3 therapies" in finding.summary
    assert "97012, 97110, 97124" in finding.detail and "first therapy visit" in finding.detail
    assert len(finding.evidence) == 3


def test_fires_within_initial_phase_of_plan(policy):
    visit = claim_visit(["97124", "97110", "97140"], plan_start="2026-02-20", earlier_day="2026-02-23")
    [finding] = run(visit, policy)["modality-count"]
    assert "day 10 of the plan of care from 20 Feb 2026" in finding.detail


def test_silent_with_two_therapies_after_initial_phase_or_on_later_visits(policy):
    assert "modality-count" not in run(claim_visit(["97124", "97110"]), policy)
    assert "modality-count" not in run(claim_visit(["97124", "97110", "97012"], plan_start="2026-01-05"), policy)
    assert "modality-count" not in run(claim_visit(["97124", "97110", "97012"], earlier_day="2026-02-23"), policy)


def test_evaluation_and_cmt_are_not_therapies(policy):
    assert "modality-count" not in run(claim_visit(["97124", "97110", "97161", "98940"]), policy)


def test_order_sign_counts_draft_orders_and_procedures_done(policy):
    visit = Visit()
    visit.procedure("97110", minutes=15)
    visit.order("97124")
    visit.order("97035")
    [finding] = run(visit, policy, hook="order-sign")["modality-count"]
    assert "97035, 97110, 97124" in finding.detail
    quiet = Visit()
    quiet.order("97124")
    quiet.order("97035")
    assert "modality-count" not in run(quiet, policy, hook="order-sign")


def test_limit_comes_from_payer_profile(tmp_path):
    extra = tmp_path / "payers.toml"
    extra.write_text('[profiles.default]\nmax_modalities_initial = 3\n')
    assert "modality-count" not in run(claim_visit(["97124", "97110", "97012"]), load_policy(extra_profiles=extra))
