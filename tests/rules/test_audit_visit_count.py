from datetime import date

from plugin.wording import day_label
from tests.builders import Visit
from tests.rules.billing_support import run

EARLIER = ["2026-02-09", "2026-02-16", "2026-02-23"]


def visit_with(earlier_days, plan_start: str | None = None) -> Visit:
    visit = Visit()
    visit.procedure("97124", minutes=15)
    for day in earlier_days:
        visit.procedure("97124", minutes=15, day=day)
    visit.claim_line("97124")
    if plan_start:
        visit.add({"resourceType": "CarePlan", "status": "active", "intent": "plan",
                   "subject": {"reference": f"Patient/{visit.patient}"}, "period": {"start": plan_start}})
    return visit


def test_fires_on_the_fourth_visit_with_dates_as_evidence(policy):
    visit = visit_with(EARLIER)
    [finding] = run(visit, policy)["audit-visit-count"]
    assert "visit 4" in finding.summary and finding.severity.value == "info"
    assert len(finding.evidence) == 4
    assert all(day_label(date.fromisoformat(day)) in finding.detail for day in EARLIER + ["2026-03-02"])
    assert "12 months" in finding.detail


def test_silent_on_the_third_visit(policy):
    assert "audit-visit-count" not in run(visit_with(EARLIER[1:]), policy)


def test_counts_only_inside_the_plan_of_care(policy):
    assert "audit-visit-count" not in run(visit_with(EARLIER, plan_start="2026-02-15"), policy)
    [finding] = run(visit_with(EARLIER, plan_start="2026-02-01"), policy)["audit-visit-count"]
    assert "plan of care" in finding.detail


def test_ignores_visits_older_than_a_year_and_other_services(policy):
    visit = visit_with(["2025-01-05", "2025-02-05"] + EARLIER[2:])
    visit.procedure("97110", minutes=15, day="2026-02-20")
    assert "audit-visit-count" not in run(visit, policy)
