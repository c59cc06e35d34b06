from tests.builders import ref
from tests.rules.clinical_visit import (
    card,
    claim_without_service,
    documented_visit,
    findings,
    quiet,
)

CODE = "techniques"


def test_fires_when_the_note_names_no_technique(policy):
    visit, parts = documented_visit(procedure={"note": [{"text": "Massage to lower back, tolerated well."}]})
    [finding] = findings(CODE, visit.record("claim-prepare"), policy)
    assert finding.evidence == (ref(parts["procedure"]),)


def test_coded_technique_is_enough(policy):
    visit, _ = documented_visit(procedure={"note": [{"text": "Massage to lower back."}],
                                           "usedCode": [{"text": "Petrissage"}]})
    assert findings(CODE, visit.record("claim-prepare"), policy) == []


def test_any_listed_technique_word_is_enough(policy):
    visit, _ = documented_visit(procedure={"note": [{"text": "Tapotement over the thoracic region."}]})
    assert findings(CODE, visit.record("claim-prepare"), policy) == []


def test_quiet_without_a_service_record(policy):
    assert quiet(CODE, policy, claim_without_service())


def test_quiet_for_documented_visit(policy):
    assert quiet(CODE, policy, documented_visit()[0])


def test_card_over_http_names_the_service(client):
    visit, parts = documented_visit(procedure={"note": [{"text": "Massage to lower back."}]})
    found = card(client, visit, "claim-prepare", CODE)
    assert found is not None and f"`{ref(parts['procedure'])}`" in found["detail"]
