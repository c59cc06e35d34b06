from tests.builders import SNOMED, Visit, concept, ref
from tests.rules.clinical_visit import HOOKS, card, documented_visit, findings, quiet

CODE = "exam-findings"


def test_fires_when_no_exam_finding_is_recorded(policy):
    visit = Visit()
    stress = visit.condition("Z73.3", text="Stress")
    visit.order("97124")
    [finding] = findings(CODE, visit.record("order-sign"), policy)
    assert ref(stress) in finding.evidence and ref(stress) not in finding.detail
    assert "1 current diagnosis" in finding.detail


def test_fires_on_claim_without_conditions_or_observations(policy):
    visit = Visit()
    visit.procedure("97124", minutes=23)
    visit.claim_line("97124", units=2)
    [finding] = findings(CODE, visit.record("claim-prepare"), policy)
    assert "read 0 current diagnosis(es) and 0 observation(s)" in finding.detail
    assert "Claim.item[1]" in finding.evidence


def test_coded_pain_condition_is_an_exam_finding(policy):
    visit = Visit()
    visit.condition("M54.50")
    visit.order("97124")
    assert findings(CODE, visit.record("order-sign"), policy) == []


def test_exam_observation_in_text_is_an_exam_finding(policy):
    visit = Visit()
    visit.add({"resourceType": "Observation", "status": "final",
               "category": [concept("exam", "http://terminology.hl7.org/CodeSystem/observation-category")],
               "code": {"text": "Palpation"}, "valueString": "Marked tenderness over left trapezius",
               "subject": {"reference": f"Patient/{visit.patient}"}})
    visit.order("97124")
    assert findings(CODE, visit.record("order-sign"), policy) == []


def test_snomed_swelling_counts(policy):
    visit = Visit()
    visit.condition("65124004", SNOMED)
    visit.order("97124")
    assert findings(CODE, visit.record("order-sign"), policy) == []


def test_quiet_for_documented_visit_on_both_hooks(policy):
    assert quiet(CODE, policy, documented_visit()[0], HOOKS)


def test_card_over_http_lists_what_was_read(client):
    visit = Visit()
    stress = visit.condition("Z73.3")
    visit.order("97124")
    found = card(client, visit, "order-sign", CODE)
    assert found is not None and found["indicator"] == "warning" and f"`{ref(stress)}`" in found["detail"]


def test_pain_in_the_days_note_is_not_an_exam_finding(policy):
    visit = Visit()
    visit.procedure("97124", minutes=23, note="Effleurage; patient reports less pain.")
    visit.claim_line("97124", units=2)
    assert len(findings(CODE, visit.record("claim-prepare"), policy)) == 1


def test_coded_reason_on_the_service_is_an_exam_finding(policy):
    visit = Visit()
    visit.procedure("97124", minutes=23, reasonCode=[{"coding": [
        {"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "M54.2"}]}])
    visit.claim_line("97124", units=2)
    assert findings(CODE, visit.record("claim-prepare"), policy) == []
