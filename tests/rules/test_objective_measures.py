from tests.builders import ref
from tests.rules.clinical_visit import HOOKS, PAIN_SCORE, card, documented_visit, findings, quiet

CODE = "objective-measures"


def test_fires_without_observations(policy):
    visit, parts = documented_visit(measures=False)
    [finding] = findings(CODE, visit.record("order-sign"), policy)
    assert ref(parts["order"]) in finding.evidence
    assert PAIN_SCORE in finding.detail  # the goal's measure that has no result


def test_observation_without_value_is_not_a_measure(policy):
    visit, _ = documented_visit(measures=False)
    empty = visit.observation(PAIN_SCORE)
    [finding] = findings(CODE, visit.record("claim-prepare"), policy)
    assert ref(empty) in finding.evidence and "1 observation(s) carry no value" in finding.detail


def test_entered_in_error_measure_does_not_count(policy):
    visit, _ = documented_visit(measures=False)
    visit.observation(PAIN_SCORE, 5, "{score}", status="entered-in-error")
    assert len(findings(CODE, visit.record("claim-prepare"), policy)) == 1


def test_component_value_of_the_goals_measure_is_a_measure(policy):
    visit, _ = documented_visit(measures=False)
    visit.add({"resourceType": "Observation", "status": "final", "code": {"text": "Pain assessment"},
               "subject": {"reference": f"Patient/{visit.patient}"},
               "component": [{"code": {"coding": [{"system": "http://loinc.org", "code": PAIN_SCORE}]},
                              "valueInteger": 3}]})
    assert findings(CODE, visit.record("claim-prepare"), policy) == []


def test_quiet_for_documented_visit_on_both_hooks(policy):
    assert quiet(CODE, policy, documented_visit()[0], HOOKS)


def test_card_over_http_lists_the_empty_observation(client):
    visit, _ = documented_visit(measures=False)
    empty = visit.observation(PAIN_SCORE)
    found = card(client, visit, "order-sign", CODE)
    assert found is not None and f"`{ref(empty)}`" in found["detail"]


def test_measures_that_do_not_track_the_goals_measure_fire(policy):
    visit, parts = documented_visit(measures=False)
    pressure = visit.observation("85354-9", 128, "mm[Hg]", text="Blood pressure")
    [finding] = findings(CODE, visit.record("claim-prepare"), policy)
    assert ref(pressure) in finding.evidence and ref(parts["functional"]) in finding.evidence
    assert f"measured by {PAIN_SCORE}" in finding.detail and "track something else" in finding.detail


def test_without_goal_measures_any_value_is_a_measure(policy):
    visit, _ = documented_visit(measures=False)
    visit.observation("85354-9", 128, "mm[Hg]")
    for resource in visit.resources:
        if resource["resourceType"] == "Goal":
            resource.pop("target", None)
    assert findings(CODE, visit.record("claim-prepare"), policy) == []
