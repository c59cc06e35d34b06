"""HTTP-level behaviour: discovery, unknown ids, wrong methods, size limit, health."""
from cds_hooks.app import create_app
from cds_hooks.config import Config
from tests.builders import Visit


def test_discovery_lists_both_hooks_with_prefetch(client):
    services = client.get("/cds-services").get_json()["services"]
    by_hook = {s["hook"]: s for s in services}
    assert set(by_hook) == {"order-sign", "claim-prepare"}
    for service in services:
        assert service["title"] and service["description"] and service["id"]
        assert all("{{context.patientId}}" in q or "{{context.encounterId}}" in q
                   for q in service["prefetch"].values())


def test_unknown_service_is_a_404(client):
    resp = client.post("/cds-services/nope", json={})
    assert resp.status_code == 404
    assert resp.get_json()["resourceType"] == "OperationOutcome"


def test_wrong_method_is_a_405(client):
    resp = client.get("/cds-services/massage-97124-claim-check")
    assert resp.status_code == 405
    assert "POST" in resp.headers["Allow"]
    assert client.delete("/cds-services").status_code == 405


def test_too_large_body_is_a_413(tmp_path, policy):
    app = create_app(Config(dev=True, database_url=f"sqlite:///{tmp_path}/f.db", max_request_bytes=1000), policy)
    resp = app.test_client().post("/cds-services/massage-97124-claim-check",
                                  data=b"{" + b" " * 5000 + b"}", content_type="application/json")
    assert resp.status_code == 413
    assert resp.get_json()["resourceType"] == "OperationOutcome"


def test_healthz(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_no_97124_means_no_cards(client):
    visit = Visit()
    visit.procedure("97110", minutes=30)
    visit.claim_line("97110", units=2)
    resp = client.post("/cds-services/massage-97124-claim-check", json=visit.request("claim-prepare"))
    assert resp.get_json() == {"cards": []}


def test_missing_required_prefetch_without_fhir_server_is_a_412(client):
    visit = Visit()
    visit.procedure("97124", minutes=15)
    visit.claim_line("97124", units=1)
    body = visit.request("claim-prepare")
    del body["prefetch"]["procedures"]
    resp = client.post("/cds-services/massage-97124-claim-check", json=body)
    assert resp.status_code == 412
    diagnostics = resp.get_json()["issue"][0]["diagnostics"]
    assert "procedures" in diagnostics
    assert "give fhirServer and fhirAuthorization" in diagnostics  # none was given: say how to


def test_missing_optional_prefetch_gives_a_data_unavailable_card(client):
    visit = Visit()
    visit.procedure("97124", minutes=15)
    visit.claim_line("97124", units=1)
    body = visit.request("claim-prepare")
    del body["prefetch"]["observations"]  # absent, and no fhirServer to fetch it from (null would mean "none")
    cards = client.post("/cds-services/massage-97124-claim-check", json=body).get_json()["cards"]
    card = next(c for c in cards if c["source"]["topic"]["code"] == "data-unavailable")
    assert card["indicator"] == "info"
    assert "observations" in card["detail"]


def test_request_id_is_echoed(client):
    resp = client.get("/cds-services", headers={"X-Request-Id": "abc123"})
    assert resp.headers["X-Request-Id"] == "abc123"


def test_claim_hook_can_be_registered_under_a_reverse_domain_name(tmp_path, policy):
    name = "org.example.claim-prepare"
    app = create_app(Config(dev=True, database_url=f"sqlite:///{tmp_path}/f.db", claim_hook_name=name), policy)
    client = app.test_client()
    hooks = {s["hook"] for s in client.get("/cds-services").get_json()["services"]}
    assert hooks == {"order-sign", name}
    visit = Visit()
    visit.procedure("97124", minutes=30)
    visit.claim_line("97124", units=1)
    body = visit.request("claim-prepare")
    url = "/cds-services/massage-97124-claim-check"
    assert client.post(url, json=body).status_code == 400  # the plain name is no longer ours
    body["hook"] = name
    resp = client.post(url, json=body)
    assert resp.status_code == 200
    assert "units" in {c["source"]["topic"]["code"] for c in resp.get_json()["cards"]}
