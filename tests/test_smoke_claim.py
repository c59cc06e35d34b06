from tests.builders import Visit


def codes(response):
    return sorted(c["source"]["topic"]["code"] for c in response.get_json()["cards"])


def test_units_card_corrects_quantity(client):
    visit = Visit()
    visit.procedure("97124", minutes=22)
    visit.procedure("97110", minutes=18)
    visit.claim_line("97124", units=1)
    visit.claim_line("97110", units=1)
    resp = client.post("/cds-services/massage-97124-claim-check", json=visit.request("claim-prepare"))
    assert resp.status_code == 200, resp.get_json()
    cards = {c["source"]["topic"]["code"]: c for c in resp.get_json()["cards"]}
    assert "units" in cards
    action = cards["units"]["suggestions"][0]["actions"][0]
    assert action["type"] == "update"
    assert action["resource"]["item"][0]["quantity"]["value"] == 2
