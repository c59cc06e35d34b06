"""Every way a hook request can be malformed gets a 400 naming the field (never a 500)."""
import copy

import pytest

from tests.builders import Visit

CLAIM = "/cds-services/massage-97124-claim-check"
ORDER = "/cds-services/massage-97124-order-check"


def claim_request():
    visit = Visit()
    visit.procedure("97124", minutes=15)
    visit.claim_line("97124", units=1)
    return visit.request("claim-prepare")


def order_request():
    visit = Visit()
    visit.order("97124")
    return visit.request("order-sign")


def without(body, *path):
    body = copy.deepcopy(body)
    target = body
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return body


def with_value(body, value, *path):
    body = copy.deepcopy(body)
    target = body
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return body


AUTH = {"access_token": "t", "token_type": "Bearer", "expires_in": 300, "scope": "user/*.read",
        "subject": "cds-service"}

CASES = [
    ("hook missing", CLAIM, lambda b: without(b, "hook"), "hook"),
    ("hook of another service", CLAIM, lambda b: with_value(b, "order-sign", "hook"), "hook"),
    ("hook not a string", CLAIM, lambda b: with_value(b, 5, "hook"), "hook"),
    ("hookInstance missing", CLAIM, lambda b: without(b, "hookInstance"), "hookInstance"),
    ("hookInstance not a uuid", CLAIM, lambda b: with_value(b, "abc", "hookInstance"), "hookInstance"),
    ("context missing", CLAIM, lambda b: without(b, "context"), "context"),
    ("context not an object", CLAIM, lambda b: with_value(b, [], "context"), "context"),
    ("patientId missing", CLAIM, lambda b: without(b, "context", "patientId"), "context.patientId"),
    ("patientId empty", CLAIM, lambda b: with_value(b, " ", "context", "patientId"), "context.patientId"),
    ("userId not a string", CLAIM, lambda b: with_value(b, 7, "context", "userId"), "context.userId"),
    ("encounterId missing", CLAIM, lambda b: without(b, "context", "encounterId"), "context.encounterId"),
    ("claim missing", CLAIM, lambda b: without(b, "context", "claim"), "context.claim"),
    ("claim not a Claim", CLAIM, lambda b: with_value(b, "Patient", "context", "claim", "resourceType"),
     "context.claim.resourceType"),
    ("claim items not a list", CLAIM, lambda b: with_value(b, {}, "context", "claim", "item"), "context.claim.item"),
    ("prefetch not an object", CLAIM, lambda b: with_value(b, [], "prefetch"), "prefetch"),
    ("fhirServer not a URL", CLAIM, lambda b: with_value(b, "ftp://x", "fhirServer"), "fhirServer"),
    ("fhirServer not a string", CLAIM, lambda b: with_value(b, 1, "fhirServer"), "fhirServer"),
    ("fhirAuthorization without fhirServer", CLAIM, lambda b: with_value(b, AUTH, "fhirAuthorization"),
     "fhirServer"),
    ("fhirAuthorization not an object", CLAIM,
     lambda b: with_value(with_value(b, "http://127.0.0.1:1/fhir", "fhirServer"), "x", "fhirAuthorization"),
     "fhirAuthorization"),
    ("fhirAuthorization token missing", CLAIM,
     lambda b: with_value(with_value(b, "http://127.0.0.1:1/fhir", "fhirServer"),
                          {k: v for k, v in AUTH.items() if k != "access_token"}, "fhirAuthorization"),
     "fhirAuthorization.access_token"),
    ("fhirAuthorization not bearer", CLAIM,
     lambda b: with_value(with_value(b, "http://127.0.0.1:1/fhir", "fhirServer"),
                          {**AUTH, "token_type": "MAC"}, "fhirAuthorization"), "fhirAuthorization.token_type"),
    ("expires_in a bool", CLAIM,
     lambda b: with_value(with_value(b, "http://127.0.0.1:1/fhir", "fhirServer"),
                          {**AUTH, "expires_in": True}, "fhirAuthorization"), "fhirAuthorization.expires_in"),
    ("draftOrders missing", ORDER, lambda b: without(b, "context", "draftOrders"), "context.draftOrders"),
    ("draftOrders not a Bundle", ORDER,
     lambda b: with_value(b, "Claim", "context", "draftOrders", "resourceType"), "context.draftOrders.resourceType"),
    ("draftOrders entries not a list", ORDER,
     lambda b: with_value(b, {}, "context", "draftOrders", "entry"), "context.draftOrders.entry"),
]


@pytest.mark.parametrize("name,url,mutate,field", CASES, ids=[c[0] for c in CASES])
def test_malformed_request_is_a_400_naming_the_field(client, name, url, mutate, field):
    body = mutate(claim_request() if url == CLAIM else order_request())
    resp = client.post(url, json=body)
    assert resp.status_code == 400, resp.get_json()
    outcome = resp.get_json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["expression"] == [field]
    assert outcome["issue"][0]["diagnostics"]


@pytest.mark.parametrize("body", [b"{not json", b"", b"[1,2", "\ufffe".encode("utf-16"), b"null", b"[]", b"42"])
def test_body_that_is_not_a_json_object_is_a_400(client, body):
    resp = client.post(CLAIM, data=body, content_type="application/json")
    assert resp.status_code == 400
    assert resp.get_json()["resourceType"] == "OperationOutcome"


def test_deeply_nested_json_is_a_400_not_a_crash(client):
    body = b"[" * 100_000 + b"]" * 100_000
    resp = client.post(CLAIM, data=body, content_type="application/json")
    assert resp.status_code == 400


def test_valid_requests_pass(client):
    assert client.post(CLAIM, json=claim_request()).status_code == 200
    assert client.post(ORDER, json=order_request()).status_code == 200


def test_urn_uuid_hook_instance_is_accepted(client):
    body = claim_request()
    body["hookInstance"] = "urn:uuid:" + body["hookInstance"]
    assert client.post(CLAIM, json=body).status_code == 200


def test_invalid_fhir_in_the_context_claim_is_a_400_naming_it(client):
    body = claim_request()
    body["context"]["claim"]["item"][0]["servicedDate"] = "03/02/2026"
    resp = client.post(CLAIM, json=body)
    assert resp.status_code == 400
    issue = resp.get_json()["issue"][0]
    assert issue["expression"] == ["context.claim"]
    assert "item.0.servicedDate" in issue["diagnostics"] and "03/02/2026" not in issue["diagnostics"]


def test_invalid_draft_order_is_a_400_naming_its_entry(client):
    body = order_request()
    body["context"]["draftOrders"]["entry"][0]["resource"]["authoredOn"] = "yesterday"
    resp = client.post(ORDER, json=body)
    assert resp.status_code == 400
    assert resp.get_json()["issue"][0]["expression"] == ["context.draftOrders[0]"]
