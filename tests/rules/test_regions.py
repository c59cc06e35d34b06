from tests.builders import Visit, ref
from tests.rules.clinical_visit import (
    card,
    claim_without_service,
    documented_visit,
    findings,
    quiet,
)

CODE = "regions"


def undocumented_region() -> tuple[Visit, dict]:
    visit = Visit()
    proc = visit.procedure("97124", minutes=23, body_site=None)
    visit.claim_line("97124", units=2)
    return visit, proc


def test_fires_when_no_region_is_named(policy):
    visit, proc = undocumented_region()
    [finding] = findings(CODE, visit.record("claim-prepare"), policy)
    assert finding.evidence == (ref(proc),) and "names a body region" in finding.detail


def test_region_on_the_claim_line_is_enough(policy):
    visit, _ = undocumented_region()
    visit.claim["item"][0]["bodySite"] = {"text": "Upper back"}
    assert findings(CODE, visit.record("claim-prepare"), policy) == []


def test_quiet_without_a_service_record(policy):
    assert quiet(CODE, policy, claim_without_service())


def test_quiet_for_documented_visit(policy):
    assert quiet(CODE, policy, documented_visit()[0])


def test_card_over_http_names_the_service(client):
    visit, proc = undocumented_region()
    found = card(client, visit, "claim-prepare", CODE)
    assert found is not None and f"`{ref(proc)}`" in found["detail"]
