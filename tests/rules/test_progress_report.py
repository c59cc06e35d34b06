import pytest

from plugin import evaluate, load_policy
from tests.rules.billing_support import run
from tests.rules.medicare_support import PHYSICIAN, PLAN_START, PTA, MedicareVisit

CODE = "progress-report"


def eleventh_day(**kwargs) -> tuple[MedicareVisit, list[str]]:
    """Ten earlier treatment days since the plan began; today is the eleventh."""
    visit = MedicareVisit(**kwargs)
    return visit, visit.treatment_days(10)


def test_fires_on_the_eleventh_treatment_day_without_a_report(policy):
    visit, days = eleventh_day()
    [finding] = run(visit, policy)[CODE]
    assert "11 treatment days" in finding.summary and PLAN_START.isoformat() in finding.detail


def test_quiet_on_the_tenth(policy):
    visit = MedicareVisit()
    visit.treatment_days(9)
    assert CODE not in run(visit, policy)


def test_several_services_on_one_date_are_one_treatment_day(policy):
    visit, days = eleventh_day()
    visit.resources = [r for r in visit.resources
                       if not (r["resourceType"] == "Procedure" and r.get("performedPeriod", {}).get(
                           "start", "").startswith(days[-1]))]
    visit.procedure("97112", minutes=15, day=days[-2])
    assert CODE not in run(visit, policy)


@pytest.mark.parametrize("author", ["therapist", "physician", "unreadable"])
def test_a_report_by_a_clinician_restarts_the_count(policy, author):
    visit, days = eleventh_day()
    who = {"therapist": visit.performer, "physician": visit.practitioner(PHYSICIAN),
           "unreadable": {"resourceType": "Practitioner", "id": "not-fetched"}}[author]
    visit.report(days[4], who)
    assert CODE not in run(visit, policy)


def test_what_does_not_count_as_a_report(policy):
    by_assistant, days = eleventh_day()
    by_assistant.report(days[4], by_assistant.practitioner(PTA))
    unsigned, _ = eleventh_day()
    unsigned.report(days[4], None)
    treatment_note, _ = eleventh_day()
    treatment_note.report(days[4], treatment_note.performer, loinc="11506-3")
    before_plan, _ = eleventh_day()
    before_plan.report("2026-01-02", before_plan.performer)
    for visit in (by_assistant, unsigned, treatment_note, before_plan):
        assert CODE in run(visit, policy)


def test_a_re_evaluation_counts_and_authenticator_suffices(policy):
    visit, days = eleventh_day()
    visit.procedure("97164", day=days[3])
    assert CODE not in run(visit, policy)
    signed, days = eleventh_day()
    signed.report(days[3], None, authenticator=signed.performer)
    assert CODE not in run(signed, policy)


def test_count_since_the_latest_report(policy):
    visit, days = eleventh_day()
    visit.report(days[0], visit.performer)  # ten treatment days after it: day 1 .. today
    assert CODE not in run(visit, policy)
    visit.procedure("97110", minutes=20, day="2026-03-01")  # one more day without a report
    [finding] = run(visit, policy)[CODE]
    assert f"latest progress report on {days[0]}" in finding.detail


def test_quiet_for_commercial_payers_without_a_plan_or_when_reports_could_not_be_fetched(policy):
    assert CODE not in run(eleventh_day(payer="Blue Cross NC")[0], policy)
    no_plan, _ = eleventh_day(plan=False)
    assert CODE not in run(no_plan, policy)
    record = eleventh_day()[0].record()
    record.add_prefetch({}, unavailable=["reports"])
    result = evaluate(record, policy)
    assert CODE not in {f.code for f in result.findings}
    assert CODE in result.unchecked


def test_the_interval_is_a_profile_setting(tmp_path):
    extra = tmp_path / "clinic.toml"
    extra.write_text('[profiles.medicare]\nprogress_report_days = 12\n')
    assert CODE not in run(eleventh_day()[0], load_policy(extra))
    extra.write_text('[profiles.acme]\nname = "Acme Health"\nprogress_report_days = 5\n')
    visit = MedicareVisit(payer="Acme Health", modifiers=())
    visit.treatment_days(5)
    assert CODE in run(visit, load_policy(extra))
