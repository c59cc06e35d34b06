from cds_hooks.record_from_hook import record_from_hook
from plugin import Record, evaluate
from plugin.fixes import apply
from tests.builders import Visit
from tests.rules.clinical_visit import HOOKS, card, documented_visit, findings, quiet

CODE = "not-medically-necessary"


def wellness_claim() -> Visit:
    visit = Visit()
    visit.procedure("97124", minutes=23, reasonCode=[{"text": "Relaxation and stress relief"}],
                    note="Effleurage to back.")
    visit.claim_line("97124", units=2)
    visit.claim_diagnosis("Z73.3")
    return visit


def wellness_order() -> tuple[Visit, dict]:
    visit = Visit()
    order = visit.order("97124", reasonCode=[{"text": "General wellness and comfort"}])
    return visit, order


def test_fires_on_claim_with_only_relaxation_purpose(policy):
    record = wellness_claim().record("claim-prepare")
    [finding] = findings(CODE, record, policy)
    assert finding.severity.value == "critical"
    for decided_by in ("relaxation", "stress relief", "Z73.3"):
        assert decided_by in finding.detail
    assert "Claim.diagnosis[1]" in finding.evidence
    assert Record.ref_of(record.all("Procedure")[0]) in finding.evidence


def test_claim_fix_removes_the_line_and_the_finding(policy):
    visit = wellness_claim()
    record = visit.record("claim-prepare")
    [finding] = findings(CODE, record, policy)
    [fix] = finding.fixes
    updated = apply(fix, record.raw(record.claim))
    assert [i["productOrService"]["coding"][0]["code"] for i in updated["item"]] == []
    again = record_from_hook("claim-prepare", {**visit.context("claim-prepare"), "claim": updated}, visit.prefetch())
    assert CODE not in {f.code for f in evaluate(again, policy).findings}


def test_fires_on_order_and_patient_pay_fix_silences_it(policy):
    visit, order = wellness_order()
    record = visit.record("order-sign")
    [finding] = findings(CODE, record, policy)
    assert "wellness" in finding.detail and "comfort" in finding.detail
    assert f"ServiceRequest/{order['id']}" in finding.evidence
    [fix] = finding.fixes
    assert fix.patient_pay
    updated = apply(fix, record.raw(record.draft_orders[0]))
    context = {**visit.context("order-sign"), "draftOrders": {"resourceType": "Bundle", "type": "collection",
                                                 "entry": [{"resource": updated}]}}
    assert findings(CODE, record_from_hook("order-sign", context, visit.prefetch()), policy) == []


def test_quiet_for_documented_visit_on_both_hooks(policy):
    assert quiet(CODE, policy, documented_visit()[0], HOOKS)


def test_muscle_relaxation_is_a_massage_goal_not_wellness(policy):
    visit = Visit()
    visit.order("97124", reasonCode=[{"text": "Muscle relaxation; relax tight muscles"}])
    visit.goal("Tissue relaxation to relax muscles of the neck")
    assert findings(CODE, visit.record("order-sign"), policy) == []


def test_relaxation_with_a_qualifying_condition_is_necessary(policy):
    visit, _ = documented_visit()
    visit.goal("General well-being and stress relief")
    assert findings(CODE, visit.record("claim-prepare"), policy) == []


def test_relaxation_before_exercise_the_same_visit_is_necessary(policy):
    visit = wellness_claim()
    visit.procedure("97110", minutes=15)
    assert findings(CODE, visit.record("claim-prepare"), policy) == []


def test_active_qualifying_condition_of_the_patient_counts(policy):
    visit, _ = wellness_order()
    visit.condition("R60.0", text="Localized edema")
    assert findings(CODE, visit.record("order-sign"), policy) == []


def test_card_over_http_names_the_codes_and_removes_the_line(client):
    visit = wellness_claim()
    found = card(client, visit, "claim-prepare", CODE)
    assert found is not None and found["indicator"] == "critical"
    assert "Z73.3" in found["detail"] and "claim diagnosis 1" in found["detail"]
    assert "Policy: Coding Ahead" in found["detail"] and "codingahead.com" in found["source"]["url"]
    resource = found["suggestions"][0]["actions"][0]["resource"]
    assert resource["resourceType"] == "Claim" and resource["item"] == []
