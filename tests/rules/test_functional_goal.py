from tests.builders import ref
from tests.rules.clinical_visit import HOOKS, card, documented_visit, findings, quiet

CODE = "functional-goal"


def test_fires_without_goals(policy):
    visit, parts = documented_visit(goals=False)
    [finding] = findings(CODE, visit.record("order-sign"), policy)
    assert "no active goal" in finding.detail and ref(parts["order"]) in finding.evidence


def test_activity_without_time_frame_is_named(policy):
    visit, _ = documented_visit(goals=False)
    goal = visit.goal("Able to walk one mile independently")
    [finding] = findings(CODE, visit.record("claim-prepare"), policy)
    assert ref(goal) in finding.evidence
    assert "walk" in finding.detail and "no due date or duration" in finding.detail


def test_time_frame_without_activity_is_named(policy):
    visit, _ = documented_visit(goals=False)
    visit.goal("Reduce spasm of lumbar muscles", due="2026-04-01")
    [finding] = findings(CODE, visit.record("claim-prepare"), policy)
    assert "“Reduce spasm of lumbar muscles” has a time frame but names no daily activity" in finding.detail


def test_due_duration_is_a_time_frame(policy):
    visit, _ = documented_visit(goals=False)
    visit.goal("Able to climb stairs without rails",
               target=[{"dueDuration": {"value": 6, "unit": "wk", "system": "http://unitsofmeasure.org",
                                        "code": "wk"}}])
    assert findings(CODE, visit.record("order-sign"), policy) == []


def test_cancelled_goal_does_not_count(policy):
    visit, _ = documented_visit(goals=False)
    visit.goal("Able to drive 30 minutes", due="2026-04-01", status="cancelled")
    assert len(findings(CODE, visit.record("order-sign"), policy)) == 1


def test_quiet_for_documented_visit_on_both_hooks(policy):
    assert quiet(CODE, policy, documented_visit()[0], HOOKS)


def test_card_over_http_names_the_goal(client):
    visit, _ = documented_visit(goals=False)
    goal = visit.goal("Able to lift a grocery bag")
    found = card(client, visit, "claim-prepare", CODE)
    assert found is not None and f"`{ref(goal)}`" in found["detail"] and "lift" in found["detail"]
