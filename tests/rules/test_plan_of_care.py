from tests.builders import ref
from tests.rules.clinical_visit import HOOKS, card, documented_visit, findings, quiet

CODE = "plan-of-care"


def test_fires_without_an_active_care_plan(policy):
    visit, parts = documented_visit(care_plan=False)
    [finding] = findings(CODE, visit.record("order-sign"), policy)
    assert "no active plan of care" in finding.detail and ref(parts["order"]) in finding.evidence


def test_draft_or_proposed_plan_does_not_count(policy):
    visit, _ = documented_visit(care_plan=False)
    visit.care_plan(status="draft")
    visit.care_plan(intent="proposal")
    assert len(findings(CODE, visit.record("claim-prepare"), policy)) == 1


def test_names_each_missing_part(policy):
    visit, _ = documented_visit(care_plan=False)
    plan = visit.care_plan(activity="97110")
    [finding] = findings(CODE, visit.record("claim-prepare"), policy)
    assert ref(plan) in finding.evidence
    for part in ("conditions (deficits)", "goals", "activity naming the massage"):
        assert part in finding.detail


def test_plan_that_refers_to_a_massage_order_is_complete(policy):
    visit, parts = documented_visit(care_plan=False)
    planned = visit.add({"resourceType": "ServiceRequest", "status": "active", "intent": "order",
                         "code": {"text": "Therapeutic massage"},
                         "subject": {"reference": f"Patient/{visit.patient}"}})
    plan = visit.care_plan(goals=(parts["functional"],), addresses=(parts["condition"],), activity=None)
    plan["activity"] = [{"reference": {"reference": ref(planned)}}]
    assert findings(CODE, visit.record("claim-prepare"), policy) == []


def test_quiet_for_documented_visit_on_both_hooks(policy):
    assert quiet(CODE, policy, documented_visit()[0], HOOKS)


def test_card_over_http_names_the_plan(client):
    visit, _ = documented_visit(care_plan=False)
    plan = visit.care_plan()
    found = card(client, visit, "order-sign", CODE)
    assert found is not None and f"`{ref(plan)}`" in found["detail"] and "goals" in found["detail"]
