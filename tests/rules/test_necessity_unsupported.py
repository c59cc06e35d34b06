import pytest

from cds_hooks.record_from_hook import record_from_hook
from plugin import evaluate
from plugin.fixes import apply
from tests.builders import Visit, ref
from tests.rules.clinical_visit import HOOKS, card, documented_visit, findings, quiet

CODE = "necessity-unsupported"


def order_context(visit: Visit, order: dict) -> dict:
    return {**visit.context("order-sign"), "draftOrders": {"resourceType": "Bundle", "type": "collection",
                                              "entry": [{"resource": order}]}}


def test_order_without_qualifying_reason_gets_the_patients_condition_added(policy):
    visit = Visit()
    spasm = visit.condition("M62.830", text="Muscle spasm of back")
    order = visit.order("97124", reasonCode=[{"text": "Low back pain"}])
    record = visit.record("order-sign")
    [finding] = findings(CODE, record, policy)
    assert ref(spasm) in finding.evidence and ref(order) in finding.evidence
    assert "M62.830" in finding.detail and "tightness" in finding.detail
    [fix] = finding.fixes
    assert fix.add_reason_references == (ref(spasm),)
    updated = apply(fix, record.raw(record.draft_orders[0]))
    assert {"reference": ref(spasm)} in updated["reasonReference"]
    again = record_from_hook("order-sign", order_context(visit, updated), visit.prefetch())
    assert findings(CODE, again, policy) == []


def test_order_without_any_qualifying_condition_has_no_fix(policy):
    visit = Visit()
    visit.condition("M54.50", text="Low back pain")
    visit.order("97124")
    [finding] = findings(CODE, visit.record("order-sign"), policy)
    assert finding.fixes == ()


def test_order_citing_a_qualifying_reason_as_text_is_enough(policy):
    visit = Visit()
    visit.order("97124", reasonCode=[{"text": "Lymphedema of left arm"}])
    assert findings(CODE, visit.record("order-sign"), policy) == []


def test_order_with_exercise_ordered_alongside_is_supported(policy):
    visit = Visit()
    visit.order("97124")
    visit.order("97112")
    assert findings(CODE, visit.record("order-sign"), policy) == []


def test_claim_without_qualifying_diagnosis_fires(policy):
    visit = Visit()
    visit.procedure("97124", minutes=23)
    visit.claim_line("97124", units=2)
    visit.claim_diagnosis("M54.50")
    [finding] = findings(CODE, visit.record("claim-prepare"), policy)
    assert "Claim.diagnosis[1]" in finding.evidence and "Claim.item[1]" in finding.evidence


def test_claim_with_qualifying_procedure_reason_is_supported(policy):
    visit = Visit()
    visit.procedure("97124", minutes=23, reasonCode=[{"coding": [
        {"system": "http://snomed.info/sct", "code": "45352006"}]}])
    visit.claim_line("97124", units=2)
    assert findings(CODE, visit.record("claim-prepare"), policy) == []


def test_quiet_for_documented_visit_on_both_hooks(policy):
    assert quiet(CODE, policy, documented_visit()[0], HOOKS)


def test_superseded_when_the_purpose_is_wellness_only(policy):
    visit = Visit()
    visit.order("97124", reasonCode=[{"text": "Stress relief"}])
    codes = {f.code for f in evaluate(visit.record("order-sign"), policy).findings}
    assert "not-medically-necessary" in codes and CODE not in codes


def test_card_over_http_carries_evidence_and_update(client):
    visit = Visit()
    spasm = visit.condition("M62.830")
    visit.order("97124")
    found = card(client, visit, "order-sign", CODE)
    assert found is not None and f"`{ref(spasm)}`" in found["detail"]
    resource = found["suggestions"][0]["actions"][0]["resource"]
    assert resource["reasonReference"] == [{"reference": ref(spasm)}]


def test_a_reference_to_another_type_with_the_same_id_does_not_count_as_citing(policy):
    visit = Visit()
    spasm = visit.condition("M62.830", text="Muscle spasm of back")
    visit.order("97124", reasonReference=[{"reference": f"Observation/{spasm['id']}"}])
    [finding] = findings(CODE, visit.record("order-sign"), policy)
    assert finding.fixes[0].add_reason_references == (ref(spasm),)


# -- a diagnosis counts only when it is this patient's and current (97124-rules.md §3) -------------
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"


def spasm_with(visit: Visit, clinical: str | None = "active", verification: str | None = None, **extra) -> dict:
    cond = visit.condition("M62.830", text="Muscle spasm of back", **extra)
    if clinical is None:
        del cond["clinicalStatus"]
    else:
        cond["clinicalStatus"]["coding"][0]["code"] = clinical
    if verification:
        cond["verificationStatus"] = {"coding": [{"system": VERIFICATION, "code": verification}]}
    return cond


def citing(visit: Visit, cond: dict, with_code: bool = True) -> dict:
    extra = {"reasonCode": [cond["code"]]} if with_code else {}
    return visit.order("97124", reasonReference=[{"reference": ref(cond)}], **extra)


@pytest.mark.parametrize("clinical, verification, words", [
    ("resolved", None, "is resolved, not current"),
    ("inactive", None, "is inactive, not current"),
    ("remission", None, "is remission, not current"),
    (None, "entered-in-error", "is marked entered in error"),
    ("active", "refuted", "is marked refuted"),
])
def test_a_diagnosis_that_is_not_current_is_no_support(policy, clinical, verification, words):
    visit = Visit()
    citing(visit, spasm_with(visit, clinical, verification))
    [finding] = findings(CODE, visit.record("order-sign"), policy)
    assert words in finding.detail and finding.fixes == ()


@pytest.mark.parametrize("clinical", ["active", "recurrence", "relapse", None])
def test_current_diagnoses_support_the_order(policy, clinical):
    visit = Visit()
    citing(visit, spasm_with(visit, clinical))
    assert findings(CODE, visit.record("order-sign"), policy) == []


def test_a_resolved_diagnosis_code_on_the_claim_is_no_support(policy):
    visit = Visit()
    spasm_with(visit, "resolved")
    visit.procedure("97124", minutes=15)
    visit.claim_line("97124")
    visit.claim_diagnosis("M62.830")
    [finding] = findings(CODE, visit.record("claim-prepare"), policy)
    assert "M62.830 Muscle spasm of back is resolved" in finding.detail


def test_the_same_code_current_again_counts(policy):
    visit = Visit()
    spasm_with(visit, "resolved")
    spasm_with(visit, "recurrence")
    visit.procedure("97124", minutes=15)
    visit.claim_line("97124")
    visit.claim_diagnosis("M62.830")
    assert findings(CODE, visit.record("claim-prepare"), policy) == []


def test_another_patients_diagnosis_is_never_counted_nor_copied(policy):
    visit = Visit()
    foreign = spasm_with(visit, subject={"reference": "Patient/someone-else"})
    own = spasm_with(visit)
    order = visit.order("97124", reasonReference=[{"reference": ref(foreign)}])
    record = visit.record("order-sign")
    [finding] = findings(CODE, record, policy)
    assert "another patient" in finding.detail and "points to someone else's chart" in finding.detail
    [fix] = finding.fixes
    assert fix.add_reason_references == (ref(own),) and fix.drop_reason_references == (ref(foreign),)
    updated = apply(fix, record.raw(record.draft_orders[0]))
    assert updated["reasonReference"] == [{"reference": ref(own)}]
    assert order["reasonReference"] == [{"reference": ref(foreign)}]  # the request is not touched


def test_a_reference_not_in_the_record_is_no_evidence_whatever_its_display(policy):
    visit = Visit()
    visit.order("97124", reasonReference=[{"reference": "Condition/not-sent", "display": "Muscle spasm of back"}])
    [finding] = findings(CODE, visit.record("order-sign"), policy)
    assert "“Muscle spasm of back” is not in the record" in finding.detail
    assert "Condition/not-sent" in finding.evidence and "Condition/not-sent" not in finding.detail


def test_relaxation_text_on_an_unresolvable_reference_is_not_read_either(policy):
    visit = Visit()
    visit.order("97124", reasonReference=[{"display": "Relaxation"}])
    codes = {f.code for f in evaluate(visit.record("order-sign"), policy).findings}
    assert "not-medically-necessary" not in codes and CODE in codes
