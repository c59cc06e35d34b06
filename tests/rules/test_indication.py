from tests.builders import ref
from tests.rules.clinical_visit import (
    card,
    claim_without_service,
    documented_visit,
    findings,
    quiet,
)

CODE = "indication"


def test_fires_when_the_service_has_no_reason(policy):
    visit, parts = documented_visit(spasm=False)
    [finding] = findings(CODE, visit.record("claim-prepare"), policy)
    assert finding.evidence == (ref(parts["procedure"]),)
    assert "No reason is recorded on the 2 Mar 2026 massage (97124)" in finding.detail


def test_reason_code_is_enough(policy):
    visit, _ = documented_visit(spasm=False, procedure={"reasonCode": [{"text": "Lumbar spasm"}]})
    assert findings(CODE, visit.record("claim-prepare"), policy) == []


def test_quiet_without_a_service_record(policy):
    assert quiet(CODE, policy, claim_without_service())


def test_quiet_for_documented_visit(policy):
    assert quiet(CODE, policy, documented_visit()[0])


def test_card_over_http_names_the_service(client):
    visit, parts = documented_visit(spasm=False)
    found = card(client, visit, "claim-prepare", CODE)
    assert found is not None and f"`{ref(parts['procedure'])}`" in found["detail"]
