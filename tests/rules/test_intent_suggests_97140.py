from cds_hooks.record_from_hook import record_from_hook
from plugin import evaluate
from plugin.fixes import apply
from tests.builders import Visit, ref
from tests.rules.clinical_visit import HOOKS, card, documented_visit, findings, quiet

CODE = "intent-suggests-97140"
MANUAL_GOAL = "Restore pain-free range of motion and myofascial extensibility; return to function"


def manual_claim() -> tuple[Visit, dict]:
    visit = Visit()
    visit.procedure("97124", minutes=23, note="Soft tissue mobilization of the shoulder girdle.")
    goal = visit.goal(MANUAL_GOAL)
    visit.claim_line("97124", units=2)
    return visit, goal


def test_fires_on_manual_therapy_goals_and_names_the_words(policy):
    visit, goal = manual_claim()
    record = visit.record("claim-prepare")
    [finding] = findings(CODE, record, policy)
    for word in ("pain-free range of motion", "extensibility", "return to function", "soft tissue mobilization"):
        assert word in finding.detail
    assert ref(goal) in finding.evidence and "Claim.item[1]" in finding.evidence
    [fix] = finding.fixes
    updated = apply(fix, record.raw(record.claim))
    assert updated["item"][0]["productOrService"]["coding"][0]["code"] == "97140"
    again = record_from_hook("claim-prepare", {**visit.context("claim-prepare"), "claim": updated}, visit.prefetch())
    assert CODE not in {f.code for f in evaluate(again, policy).findings}


def test_fires_on_order_and_recodes_it(policy):
    visit = Visit()
    visit.order("97124", reasonCode=[{"text": "Myofascial release for active range of motion"}])
    record = visit.record("order-sign")
    [finding] = findings(CODE, record, policy)
    updated = apply(finding.fixes[0], record.raw(record.draft_orders[0]))
    assert updated["code"]["coding"][0]["code"] == "97140"
    context = {**visit.context("order-sign"), "draftOrders": {"resourceType": "Bundle", "type": "collection",
                                                 "entry": [{"resource": updated}]}}
    again = record_from_hook("order-sign", context, visit.prefetch())
    assert CODE not in {f.code for f in evaluate(again, policy).findings}


def test_mixed_intent_stays_with_97124(policy):
    visit = Visit()
    visit.order("97124", reasonCode=[{"text": "Improve circulation; myofascial tightness"}])
    assert findings(CODE, visit.record("order-sign"), policy) == []


def test_manual_intent_that_clearly_dominates_still_fires(policy):
    visit = Visit()
    visit.order("97124", reasonCode=[{"text": "Improve circulation"}])
    visit.goal(MANUAL_GOAL)
    [finding] = findings(CODE, visit.record("order-sign"), policy)
    assert "circulation" in finding.detail


def test_quiet_for_documented_visit_on_both_hooks(policy):
    assert quiet(CODE, policy, documented_visit()[0], HOOKS)


def test_card_over_http_names_the_words_and_offers_97140(client):
    visit, goal = manual_claim()
    found = card(client, visit, "claim-prepare", CODE)
    assert found is not None and "extensibility" in found["detail"] and f"`{ref(goal)}`" in found["detail"]
    item = found["suggestions"][0]["actions"][0]["resource"]["item"][0]
    assert item["productOrService"]["coding"][0]["code"] == "97140"


def test_a_planned_97140_activity_is_not_the_massage_intent(policy):
    # A plan may hold manual therapy to another region beside the massage: its words are its own.
    visit, parts = documented_visit()
    plan = next(r for r in visit.resources if r["resourceType"] == "CarePlan")
    plan["activity"].append({"detail": {"status": "in-progress", "code": {"coding": [
        {"system": "http://www.ama-assn.org/go/cpt", "code": "97140"}]},
        "description": "Myofascial release and joint mobilization for pain-free range of motion"}})
    assert quiet("intent-suggests-97140", policy, visit, HOOKS)


def test_no_recode_offered_when_97140_is_already_billed_that_day(policy):
    visit, _ = manual_claim()
    visit.claim_line("97140", units=1)
    [finding] = findings("intent-suggests-97140", visit.record("claim-prepare"), policy)
    assert finding.fixes == ()
