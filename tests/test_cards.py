"""Card JSON: the shape CDS Hooks 2.0 asks for, and the catalog's conventions."""
import uuid

from tests.builders import Visit

URL = "/cds-services/massage-97124-claim-check"


def post(client, visit):
    resp = client.post(URL, json=visit.request("claim-prepare"))
    assert resp.status_code == 200
    return {c["source"]["topic"]["code"]: c for c in resp.get_json()["cards"]}


def test_card_shape(client, config):
    visit = Visit()
    proc = visit.procedure("97124", minutes=40)
    visit.claim_line("97124", units=1)
    card = post(client, visit)["units"]
    uuid.UUID(card["uuid"])
    assert len(card["summary"]) < 140 and card["indicator"] == "warning"
    assert card["source"]["label"] == config.product_label
    assert card["source"]["url"].startswith("https://www.cms.gov/")
    assert card["source"]["topic"] == {"system": config.rule_system, "code": "units",
                                       "display": "97124 units match the documented time"}
    assert f"`Procedure/{proc['id']}`" in card["detail"]       # evidence
    assert "40 min" in card["detail"] and "§20.2" in card["detail"]  # arithmetic and citation
    assert card["selectionBehavior"] == "at-most-one"
    suggestion = card["suggestions"][0]
    uuid.UUID(suggestion["uuid"])
    assert suggestion["actions"][0]["resource"]["resourceType"] == "Claim"
    # Reasons that fit a billing card: no "patient agreed to pay" on a units card.
    assert [r["code"] for r in card["overrideReasons"]] == ["payer-exception", "documentation-attached"]
    assert "Source:" not in card["detail"] and "`units`" not in card["detail"]
    assert card["detail"].splitlines()[-1].startswith("Evidence: ")


def test_info_cards_carry_no_override_reasons(client):
    visit = Visit()
    visit.procedure("97124", minutes=15)
    visit.claim_line("97124")
    body = visit.request("claim-prepare")
    body["prefetch"]["goals"] = {"resourceType": "OperationOutcome", "issue": []}
    cards = client.post(URL, json=body).get_json()["cards"]
    info = next(c for c in cards if c["source"]["topic"]["code"] == "data-unavailable")
    assert "overrideReasons" not in info and "suggestions" not in info


def test_accepting_the_units_suggestion_clears_the_card(client):
    visit = Visit()
    visit.procedure("97124", minutes=22)
    visit.procedure("97110", minutes=18)
    visit.claim_line("97124", units=1)
    visit.claim_line("97110", units=1)
    body = visit.request("claim-prepare")
    cards = {c["source"]["topic"]["code"]: c for c in client.post(URL, json=body).get_json()["cards"]}
    body["context"]["claim"] = cards["units"]["suggestions"][0]["actions"][0]["resource"]
    after = {c["source"]["topic"]["code"] for c in client.post(URL, json=body).get_json()["cards"]}
    assert "units" not in after
