"""A FHIR server that is down, slow, refusing, broken, endless or pointing elsewhere never
breaks the EHR workflow: the service answers within its FHIR deadline, with 412 when data it
must have is missing, else 200 and a data-unavailable card naming what it could not fetch.
"""
from __future__ import annotations

import time

import pytest
import requests

from cds_hooks.integrator import as_ehr_without_prefetch
from tests.builders import Visit
from tests.integration.conftest import DEADLINE_MARGIN, STRICT_LIMITS
from tests.integration.support import card_codes

pytestmark = pytest.mark.integration

CLAIM = "massage-97124-claim-check"
BROKEN_MODES = ["slow", "error500", "unauthorized", "garbage", "outcome", "forever", "foreign", "redirect"]
OPTIONAL_LEFT_OUT = ("goals", "observations")


def claim_visit(name: str) -> Visit:
    visit = Visit(patient=f"pat-broken-{name}", encounter=f"enc-broken-{name}")
    visit.procedure("97124", minutes=23)
    visit.claim_line("97124", units=1)
    return visit


def timed_post(service: str, body: dict) -> tuple[requests.Response, float]:
    started = time.monotonic()
    resp = requests.post(f"{service}/cds-services/{CLAIM}", json=body, timeout=30)
    return resp, time.monotonic() - started


def server_for(mode: str, broken_fhir: str, closed_port_base: str) -> str:
    return closed_port_base if mode == "down" else f"{broken_fhir}/{mode}/fhir"


@pytest.mark.parametrize("mode", ["down", *BROKEN_MODES])
def test_required_data_unobtainable_answers_412_in_time(mode, strict_service, broken_fhir, closed_port_base):
    body = as_ehr_without_prefetch(claim_visit(mode).request("claim-prepare"),
                                   server_for(mode, broken_fhir, closed_port_base))
    resp, took = timed_post(strict_service, body)

    assert resp.status_code == 412, resp.text
    outcome = resp.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert "procedures" in outcome["issue"][0]["diagnostics"]
    # fhirServer was given and asked: the answer blames it, not a missing fhirServer
    assert "fhirServer did not return it" in outcome["issue"][0]["diagnostics"]
    assert took < STRICT_LIMITS["fhir_deadline"] + DEADLINE_MARGIN


@pytest.mark.parametrize("mode", ["down", *BROKEN_MODES])
def test_optional_data_unobtainable_gives_data_unavailable_card(mode, strict_service, broken_fhir, closed_port_base):
    request = claim_visit(f"opt-{mode}").request("claim-prepare")
    body = as_ehr_without_prefetch(request, server_for(mode, broken_fhir, closed_port_base))
    body["prefetch"] = {k: v for k, v in request["prefetch"].items() if k not in OPTIONAL_LEFT_OUT}
    resp, took = timed_post(strict_service, body)

    assert resp.status_code == 200, resp.text
    assert took < STRICT_LIMITS["fhir_deadline"] + DEADLINE_MARGIN
    cards = {c["source"]["topic"]["code"]: c for c in resp.json()["cards"]}
    assert "data-unavailable" in cards
    for key in OPTIONAL_LEFT_OUT:
        assert f"**{key}**" in cards["data-unavailable"]["detail"]
    assert "units" in cards  # the data that was there is still checked


@pytest.mark.parametrize("mode", ["foreign", "redirect"])
def test_token_never_travels_to_another_origin(mode, strict_service, broken_fhir, recorder):
    before = len(recorder.hits)
    body = as_ehr_without_prefetch(claim_visit(f"leak-{mode}").request("claim-prepare"),
                                   f"{broken_fhir}/{mode}/fhir", token="secret-ehr-token")
    resp, _ = timed_post(strict_service, body)

    assert resp.status_code == 412
    assert recorder.hits[before:] == []


def test_server_off_the_allowlist_is_refused_without_contact(strict_service):
    # 10.255.255.1 is not loopback, so dev mode does not allow it; a connection attempt would
    # hang until the connect timeout instead of answering at once.
    body = as_ehr_without_prefetch(claim_visit("not-allowed").request("claim-prepare"),
                                   "http://10.255.255.1:9/fhir")
    resp, took = timed_post(strict_service, body)

    assert resp.status_code == 400
    issue = resp.json()["issue"][0]
    assert issue["expression"] == ["fhirServer"]
    assert "not an allowed FHIR server" in issue["diagnostics"]
    assert took < STRICT_LIMITS["fhir_connect_timeout"]


def test_complete_prefetch_with_server_down_loses_only_follow_ups(strict_service, closed_port_base):
    """Complete prefetch + an unreachable fhirServer: answered from prefetch; only the signature search is missed."""
    visit = claim_visit("complete")
    body = as_ehr_without_prefetch(visit.request("claim-prepare"), closed_port_base)
    body["prefetch"] = visit.request("claim-prepare")["prefetch"]
    for key in ("goals", "observations", "carePlans", "coverage", "serviceRequests", "documents",
                "conditions"):
        body["prefetch"].setdefault(key, {"resourceType": "Bundle", "type": "searchset", "entry": []})
    resp, _ = timed_post(strict_service, body)

    assert resp.status_code == 200
    codes = card_codes(resp)
    assert "units" in codes
    # Provenance of the visit's Procedure is a follow-up search; the server is down, so say so.
    assert "data-unavailable" in codes
    detail = next(c["detail"] for c in resp.json()["cards"] if c["source"]["topic"]["code"] == "data-unavailable")
    assert "**provenance**" in detail and "**goals**" not in detail
