from tests.builders import Visit, ref
from tests.rules.clinical_visit import (
    PAIN_SCORE,
    PREVIOUS_VISIT,
    card,
    claim_without_service,
    documented_visit,
    findings,
    quiet,
)

CODE = "progress"
SILENT_NOTE = {"note": [{"text": "Effleurage to lumbar paraspinals."}]}


def no_progress() -> tuple[Visit, dict]:
    """A visit whose measure is taken once, whose goals carry no status and whose note is silent."""
    visit, parts = documented_visit(procedure=SILENT_NOTE, goals=False, measures=False)
    visit.observation(PAIN_SCORE, 4, "{score}")
    parts["goal"] = visit.goal("Able to sit at work for 2 hours within 4 weeks", due="2026-03-30")
    return visit, parts


def test_fires_when_nothing_shows_progress(policy):
    visit, parts = no_progress()
    [finding] = findings(CODE, visit.record("claim-prepare"), policy)
    assert ref(parts["procedure"]) in finding.evidence and ref(parts["goal"]) in finding.evidence
    assert "1 measurement(s) and 1 goal(s)" in finding.detail


def test_a_measure_repeated_on_a_later_date_shows_progress(policy):
    visit, _ = no_progress()
    visit.observation(PAIN_SCORE, 6, "{score}", day=PREVIOUS_VISIT)
    assert findings(CODE, visit.record("claim-prepare"), policy) == []


def test_two_measures_of_different_codes_do_not(policy):
    visit, _ = no_progress()
    visit.observation("41950-7", 40, day=PREVIOUS_VISIT)
    assert len(findings(CODE, visit.record("claim-prepare"), policy)) == 1


def test_goal_achievement_status_shows_progress(policy):
    visit, parts = no_progress()
    parts["goal"]["achievementStatus"] = {"text": "improving"}
    assert findings(CODE, visit.record("claim-prepare"), policy) == []


def test_progress_words_in_the_note_show_progress(policy):
    visit, _ = documented_visit(procedure={"note": [{"text": "Spasm reduced since last visit."}]},
                                goals=False, measures=False)
    assert findings(CODE, visit.record("claim-prepare"), policy) == []


def test_quiet_without_a_service_record(policy):
    assert quiet(CODE, policy, claim_without_service())


def test_quiet_for_documented_visit(policy):
    assert quiet(CODE, policy, documented_visit()[0])


def test_card_over_http_names_the_service_and_goal(client):
    visit, parts = no_progress()
    found = card(client, visit, "claim-prepare", CODE)
    assert found is not None
    assert f"`{ref(parts['procedure'])}`" in found["detail"] and f"`{ref(parts['goal'])}`" in found["detail"]
