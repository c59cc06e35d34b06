from datetime import timedelta

import pytest

from plugin import evaluate, load_policy
from tests.builders import concept, ref
from tests.rules.billing_support import run
from tests.rules.medicare_support import (
    LOINC,
    NURSE_PRACTITIONER,
    PHYSICIAN,
    PLAN_START,
    PT,
    MedicareVisit,
    days_before,
)
from tests.rules.signing_support import AGENT_TYPES

CODE = "plan-certification"


def uncertified(**kwargs) -> MedicareVisit:
    return MedicareVisit(certified=False, **kwargs)


def test_quiet_when_certified_on_the_first_day(policy):
    assert CODE not in run(MedicareVisit(), policy)


def test_fires_without_any_certification(policy):
    visit = uncertified()
    [finding] = run(visit, policy)[CODE]
    assert finding.evidence == (ref(visit.plan),)
    assert "dated by 2026-04-01" in finding.detail  # 30 days after today's treatment, the first under the plan


def test_first_treatment_under_the_plan_starts_the_30_days(policy):
    visit = uncertified()
    visit.treatment_days(1)  # treated on the plan's first day: certification due 30 days later
    visit.certify(visit.physician, (PLAN_START + timedelta(days=31)).isoformat())
    [finding] = run(visit, policy)[CODE]
    assert "the earliest is dated" in finding.detail
    visit.certify(visit.physician, (PLAN_START + timedelta(days=30)).isoformat())
    assert CODE not in run(visit, policy)


@pytest.mark.parametrize("who,counts", [(PHYSICIAN, True), (NURSE_PRACTITIONER, True), ("363A00000X", True),
                                        (PT, False), ("111N00000X", False)])
def test_only_a_physician_or_npp_certifies(policy, who, counts):
    visit = uncertified()
    visit.certify(visit.practitioner(who), PLAN_START.isoformat())
    assert (CODE not in run(visit, policy)) is counts


def test_signature_date_and_agent_role(policy):
    visit = uncertified()
    visit.certify(visit.physician, PLAN_START.isoformat(), by_signature=True)  # recorded much later, signed in time
    assert CODE not in run(visit, policy)
    entered = uncertified()
    entered.certify(entered.physician, PLAN_START.isoformat(), agent_type="enterer")
    assert CODE in run(entered, policy)


def test_recertification_every_90_days(policy):
    visit = MedicareVisit()
    visit.certification["recorded"] = f"{days_before(91)}T12:00:00-05:00"
    visit.plan["period"]["start"] = days_before(100)
    [finding] = run(visit, policy)[CODE]
    assert "91 days before this visit" in finding.detail
    document = visit.add({"resourceType": "DocumentReference", "status": "current",
                          "type": concept("18776-5", LOINC, "Plan of care note"),
                          "subject": {"reference": f"Patient/{visit.patient}"}, "date": f"{days_before(5)}T10:00:00Z",
                          "authenticator": {"reference": ref(visit.physician)},
                          "content": [{"attachment": {"contentType": "text/plain"}}]})
    assert CODE not in run(visit, policy)
    document["authenticator"] = {"reference": ref(visit.performer)}  # the therapist's own signature
    assert CODE in run(visit, policy)


def test_unreadable_signer_or_missing_data_proves_nothing(policy):
    visit = uncertified()
    visit.add({"resourceType": "Provenance", "target": [{"reference": ref(visit.plan)}],
               "recorded": f"{PLAN_START.isoformat()}T12:00:00Z",
               "agent": [{"type": concept("verifier", AGENT_TYPES), "who": {"reference": "Practitioner/elsewhere"}}]})
    assert CODE not in run(visit, policy)
    fetch_failed = uncertified().record()
    fetch_failed.add_prefetch({}, unavailable=["provenance"])
    result = evaluate(fetch_failed, policy)
    assert CODE not in {f.code for f in result.findings}
    assert CODE in result.unchecked


def test_quiet_without_an_active_plan_or_for_commercial_payers(policy):
    assert CODE not in run(MedicareVisit(plan=False), policy)
    assert CODE not in run(uncertified(payer="Blue Cross NC"), policy)


def test_numbers_are_profile_settings(tmp_path):
    extra = tmp_path / "clinic.toml"
    extra.write_text('[profiles.medicare]\ncertification_days = 0\nrecertification_days = 0\n')
    assert CODE not in run(uncertified(), load_policy(extra))
    extra.write_text('[profiles.medicare]\nrecertification_days = 10\n')
    assert CODE in run(MedicareVisit(), load_policy(extra))  # certified 14 days ago
    extra.write_text('[profiles.acme]\nname = "Acme Health"\ncertification_days = 30\n')
    assert CODE in run(uncertified(payer="Acme Health"), load_policy(extra))
