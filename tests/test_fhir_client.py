"""Unit tests for the FHIR fallback: origins and the allowlist, response checks, paging rules,
the deadline, follow-up searches, and what gets logged. HTTP is faked here (the real server
runs in tests/integration)."""
from __future__ import annotations

import io
import json
import logging
import time
from unittest import mock

import pytest
import requests

from cds_hooks.config import Config
from cds_hooks.fhir_client import (
    FetchFailed,
    FhirClient,
    _check_body,
    allowed_server,
    merge_bundles,
    origin,
)
from cds_hooks.prefetch import follow_up_queries, render
from tests.builders import Visit

BASE = "https://ehr.example.org/fhir"


def response(status: int = 200, body: object = None, raw: bytes | None = None) -> requests.Response:
    resp = requests.Response()
    resp.status_code = status
    resp.raw = io.BytesIO(raw if raw is not None else json.dumps(body).encode())
    return resp


def page(status: int = 200, body: object = None, raw: bytes | None = None) -> tuple[int, bytes]:
    return status, raw if raw is not None else json.dumps(body).encode()


def bundle(*resources: dict, next_url: str | None = None) -> dict:
    out = {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in resources]}
    if next_url:
        out["link"] = [{"relation": "next", "url": next_url}]
    return out


# -- origins and the allowlist ------------------------------------------------------------------

@pytest.mark.parametrize("url, expected", [
    ("https://EHR.example.org/fhir", ("https", "ehr.example.org", 443)),
    ("http://127.0.0.1:8090/fhir", ("http", "127.0.0.1", 8090)),
    ("http://[::1]/fhir", ("http", "::1", 80)),
    ("ftp://ehr.example.org/fhir", None),
    ("http://ehr.example.org:99999/fhir", None),
    ("/fhir", None),
    ("http://user:pw@127.0.0.1/fhir", None),
])
def test_origin(url, expected):
    assert origin(url) == expected


@pytest.mark.parametrize("url", ["http://127.0.0.1:8090/fhir", "http://127.9.8.7/fhir", "http://[::1]:81/r4",
                                 "http://localhost:8080/fhir", "https://LOCALHOST/fhir"])
def test_dev_mode_allows_loopback(url):
    assert allowed_server(url, Config(dev=True))
    assert not allowed_server(url, Config(dev=False))


@pytest.mark.parametrize("url", ["http://localhost.evil.example/fhir", "http://127.0.0.1.nip.io/fhir",
                                 "http://127.0.0.1@evil.example/fhir", "http://10.0.0.5/fhir",
                                 "http://0x7f000001.example/fhir"])
def test_dev_mode_does_not_take_lookalikes_for_loopback(url):
    assert not allowed_server(url, Config(dev=True))


@pytest.mark.parametrize("url, allowed", [
    ("https://ehr.example.org/fhir", True),
    ("https://ehr.example.org:443/other/base", True),
    ("http://ehr.example.org/fhir", False),          # scheme differs
    ("https://ehr.example.org:8443/fhir", False),    # port differs
    ("https://ehr.example.org.evil.example/fhir", False),
    ("https://sub.ehr.example.org/fhir", False),
])
def test_production_allowlist_compares_whole_origins(url, allowed):
    config = Config(dev=False, fhir_allowlist=("https://ehr.example.org",))
    assert allowed_server(url, config) is allowed


# -- response checks ----------------------------------------------------------------------------

def test_search_result_must_be_a_bundle():
    assert _check_body(*page(200, bundle()), None)["resourceType"] == "Bundle"
    with pytest.raises(FetchFailed, match="expected Bundle"):
        _check_body(*page(200, {"resourceType": "Patient", "id": "p"}), None)


def test_read_result_must_be_the_type_read():
    assert _check_body(*page(200, {"resourceType": "Patient"}), "Patient")["resourceType"] == "Patient"
    with pytest.raises(FetchFailed, match="expected Patient"):
        _check_body(*page(200, bundle()), "Patient")


@pytest.mark.parametrize("resp, reason", [
    (page(401, {}), "refused"),
    (page(403, {}), "refused"),
    (page(500, {"resourceType": "OperationOutcome"}), "status 500"),
    (page(200, raw=b"{nope"), "not JSON"),
    (page(200, ["a", "list"]), "no resource"),
    (page(200, {"resourceType": "OperationOutcome", "issue": []}), "OperationOutcome"),
    (page(302, raw=b""), "status 302"),
    (page(200, {"resourceType": "Bundle", "entry": {"not": "a list"}}), "not a list"),
])
def test_failures(resp, reason):
    with pytest.raises(FetchFailed, match=reason):
        _check_body(*resp, None)


def test_merge_bundles_keeps_every_entry_and_drops_links():
    merged = merge_bundles(bundle({"resourceType": "Procedure", "id": "a"}, next_url="x"),
                           bundle({"resourceType": "Procedure", "id": "b"}))
    assert [e["resource"]["id"] for e in merged["entry"]] == ["a", "b"]
    assert "link" not in merged and merged["total"] == 2


# -- the client with a faked session ------------------------------------------------------------

def client_with(pages: dict[str, requests.Response | float], config: Config | None = None,
                token: str | None = "secret-token") -> tuple[FhirClient, mock.Mock]:
    """A client given a session that answers each URL from `pages` (a float means: sleep that long)."""
    def get(url, **kwargs):
        answer = pages[url]
        if isinstance(answer, float):
            time.sleep(answer)
            return response(200, bundle())
        return answer

    session = requests.Session()
    session.get = mock.Mock(side_effect=get)
    return FhirClient(BASE, token, config or Config(dev=True, fhir_deadline=2.0), session), session.get


def test_follows_next_links_on_the_same_origin():
    client, get = client_with({
        f"{BASE}/Procedure?patient=p1": response(200, bundle({"resourceType": "Procedure", "id": "a"},
                                                             next_url=f"{BASE}/Procedure?page=2")),
        f"{BASE}/Procedure?page=2": response(200, bundle({"resourceType": "Procedure", "id": "b"})),
    })
    data, failed = client.search_all({"procedures": "Procedure?patient=p1"})
    assert failed == []
    assert [e["resource"]["id"] for e in data["procedures"]["entry"]] == ["a", "b"]
    assert all(call.kwargs["allow_redirects"] is False for call in get.call_args_list)


@pytest.mark.parametrize("next_url", ["https://other.example.org/fhir/Procedure?page=2",
                                      "http://ehr.example.org/fhir/Procedure?page=2",
                                      "https://ehr.example.org:8443/fhir/Procedure?page=2"])
def test_next_link_to_another_origin_is_not_followed(next_url):
    client, get = client_with({f"{BASE}/Procedure?patient=p1": response(200, bundle(next_url=next_url))})
    data, failed = client.search_all({"procedures": "Procedure?patient=p1"})
    assert failed == ["procedures"] and data == {}
    assert get.call_count == 1


def test_page_cap_stops_endless_paging():
    endless = {f"{BASE}/Procedure?page={n}": response(200, bundle(next_url=f"{BASE}/Procedure?page={n + 1}"))
               for n in range(10)}
    client, get = client_with(endless, Config(dev=True, fhir_page_cap=3))
    _, failed = client.search_all({"procedures": "Procedure?page=0"})
    assert failed == ["procedures"]
    assert get.call_count == 3


def test_deadline_spans_all_queries():
    client, _ = client_with({f"{BASE}/Goal?patient=p1": 1.5, f"{BASE}/Patient/p1": response(200, {"resourceType": "Patient"})},
                            Config(dev=True, fhir_deadline=0.3))
    started = time.monotonic()
    data, failed = client.search_all({"goals": "Goal?patient=p1", "patient": "Patient/p1"})
    assert time.monotonic() - started < 0.8
    assert failed == ["goals"] and "patient" in data
    # A later round gets nothing: the deadline is per hook request, not per round.
    assert client.search_all({"patient": "Patient/p1"}) == ({}, ["patient"])


class Drip(io.RawIOBase):
    """A body that never ends: one byte every 50 ms (each read well inside the read timeout)."""

    def readable(self):
        return True

    def read(self, size=-1):
        time.sleep(0.05)
        return b" "

    read1 = read


def test_a_body_dripping_forever_stops_at_the_deadline():
    endless = requests.Response()
    endless.status_code, endless.raw = 200, Drip()
    client, _ = client_with({f"{BASE}/Goal?patient=p1": endless}, Config(dev=True, fhir_deadline=0.4))
    started = time.monotonic()
    assert client.search_all({"goals": "Goal?patient=p1"}) == ({}, ["goals"])
    assert time.monotonic() - started < 1.0


def test_an_oversized_page_fails_its_key(monkeypatch):
    monkeypatch.setattr("cds_hooks.fhir_client.MAX_PAGE_BYTES", 1000)
    big = bundle(*({"resourceType": "Goal", "id": f"g{i}"} for i in range(100)))
    client, _ = client_with({f"{BASE}/Goal?patient=p1": response(200, big)})
    assert client.search_all({"goals": "Goal?patient=p1"}) == ({}, ["goals"])
    client, _ = client_with({f"{BASE}/Goal?patient=p1": response(200, bundle())})
    assert client.search_all({"goals": "Goal?patient=p1"})[1] == []


def test_token_only_sent_when_given():
    assert FhirClient(BASE, "t0k", Config()).session.headers["Authorization"] == "Bearer t0k"
    assert "Authorization" not in FhirClient(BASE, None, Config()).session.headers


def test_logs_carry_neither_token_nor_patient_ids(caplog):
    client, _ = client_with({f"{BASE}/Procedure?patient=pat-secret-42": response(500, {}),
                             f"{BASE}/Patient/pat-secret-42": response(200, {"resourceType": "Patient"})})
    with caplog.at_level(logging.DEBUG):
        client.search_all({"procedures": "Procedure?patient=pat-secret-42", "patient": "Patient/pat-secret-42"})
    assert "procedures" in caplog.text and "500" in caplog.text
    assert "pat-secret-42" not in caplog.text and "secret-token" not in caplog.text


# -- templates and follow-up searches -----------------------------------------------------------

def test_render_quotes_context_values_and_skips_missing_ones():
    assert render("Patient/{{context.patientId}}", {"patientId": "a&b/../c"}) == "Patient/a%26b%2F..%2Fc"
    assert render("Encounter/{{context.encounterId}}", {"patientId": "p"}) is None
    assert render("Encounter/{{context.encounterId}}", {"encounterId": ""}) is None


def visit_with_performer(**kwargs) -> tuple[Visit, dict]:
    visit = Visit()
    therapist = {"resourceType": "Practitioner", "id": "ther-1"}
    proc = visit.procedure("97124", minutes=23, performer=therapist, **kwargs)
    visit.claim_line("97124", units=2)
    return visit, proc


def test_follow_ups_ask_for_signatures_and_missing_performer():
    visit, proc = visit_with_performer()
    asked: set[str] = set()
    queries = follow_up_queries(visit.record(), BASE, asked)
    assert queries == {"provenance": f"Provenance?target=Procedure/{proc['id']}",
                       "performers": "Practitioner?_id=ther-1"}
    assert follow_up_queries(visit.record(), BASE, asked) == {}  # never the same question twice


def test_follow_ups_skip_what_is_present():
    visit, proc = visit_with_performer()
    visit.add({"resourceType": "Practitioner", "id": "ther-1"})
    visit.add({"resourceType": "Provenance", "target": [{"reference": f"Procedure/{proc['id']}"}],
               "recorded": "2026-03-02T12:00:00Z", "agent": [{"who": {"reference": "Practitioner/ther-1"}}]})
    org = {"resourceType": "Organization", "id": "payer-9"}
    visit.resources.append({"resourceType": "Coverage", "id": "cov-1", "status": "active",
                            "beneficiary": {"reference": "Patient/pat-1"},
                            "payor": [{"reference": "Organization/payer-9"}]})
    assert follow_up_queries(visit.record(), BASE, set()) == {"payors": "Organization?_id=payer-9"}
    visit.add(org)
    assert follow_up_queries(visit.record(), BASE, set()) == {}


def test_follow_ups_ignore_other_servers_and_odd_ids():
    visit = Visit()
    visit.procedure("97124", minutes=23, performer={"resourceType": "Practitioner", "id": "a,b&_id=c"})
    visit.procedure("97124", minutes=10, performer={"resourceType": "Practitioner", "id": "x"})
    visit.resources[-1]["performer"][0]["actor"]["reference"] = "https://elsewhere.example/fhir/Practitioner/x"
    visit.claim_line("97124", units=2)
    queries = follow_up_queries(visit.record(), BASE, set())
    assert "performers" not in queries
    assert queries["provenance"].startswith("Provenance?target=Procedure/")


def test_procedures_of_other_visits_need_no_signature_search():
    visit = Visit()
    visit.procedure("97124", minutes=23, day="2026-01-05")  # an earlier visit
    visit.claim_line("97124", units=2)
    assert "provenance" not in follow_up_queries(visit.record(), BASE, set())


def test_bundle_links_that_are_not_a_list_end_paging():
    from cds_hooks.fhir_client import _next_link
    assert _next_link({"resourceType": "Bundle", "link": 5}) is None
    assert _next_link({"resourceType": "Bundle", "link": [{"relation": "next", "url": "u"}]}) == "u"


def test_follow_ups_ask_for_the_note_documents_signatures_signers_and_binary():
    visit, proc = visit_with_performer()
    visit.add({"resourceType": "Practitioner", "id": "ther-1"})
    visit.add({"resourceType": "Provenance", "target": [{"reference": f"Procedure/{proc['id']}"}],
               "recorded": "2026-03-02T12:00:00Z", "agent": [{"who": {"reference": "Practitioner/ther-1"}}]})
    visit.add({"resourceType": "DocumentReference", "id": "note-1", "status": "current",
               "subject": {"reference": "Patient/pat-1"}, "authenticator": {"reference": "Practitioner/doc-7"},
               "content": [{"attachment": {"contentType": "text/html", "url": f"{BASE}/Binary/bin-1"}},
                           {"attachment": {"contentType": "text/plain", "url": "https://other.example/Binary/b"}}],
               "context": {"encounter": [{"reference": "Encounter/enc-1"}]}})
    asked: set[str] = set()
    queries = follow_up_queries(visit.record(), BASE, asked)
    assert queries == {"provenance": "Provenance?target=DocumentReference/note-1",
                       "performers": "Practitioner?_id=doc-7", "note": "Binary/bin-1"}
    assert follow_up_queries(visit.record(), BASE, asked) == {}


def test_follow_ups_fetch_the_diagnoses_an_order_cites():
    visit = Visit()
    visit.order("97124", reasonReference=[{"reference": "Condition/cited-1"}, {"display": "label only"}])
    queries = follow_up_queries(visit.record("order-sign"), BASE, set())
    assert queries == {"diagnoses": "Condition?_id=cited-1"}
def test_long_id_lists_are_split_into_short_searches():
    from cds_hooks.prefetch import MAX_URL, split_search
    ids = [f"procedure-{n:05d}" for n in range(400)]
    parts = split_search("provenance", "Provenance?target=", [f"Procedure/{i}" for i in ids], BASE)
    assert list(parts)[:2] == ["provenance", "provenance#2"]
    assert all(len(f"{BASE}/{q}") <= MAX_URL for q in parts.values())
    sent = [v for q in parts.values() for v in q.split("=", 1)[1].split(",")]
    assert sent == [f"Procedure/{i}" for i in ids]  # every id once, in order


def test_follow_ups_ask_for_the_plan_certification_orderer_and_report_author():
    visit = Visit()
    therapist = visit.practitioner("225100000X")
    proc = visit.procedure("97124", minutes=23, performer=therapist)
    plan = visit.care_plan(author={"reference": "Practitioner/plan-author"})
    visit.add({"resourceType": "ServiceRequest", "id": "old-order", "status": "active", "intent": "order",
               "code": {"text": "massage therapy"}, "subject": {"reference": "Patient/pat-1"},
               "requester": {"reference": "PractitionerRole/orderer-role"}})
    visit.add({"resourceType": "DocumentReference", "status": "current", "subject": {"reference": "Patient/pat-1"},
               "type": {"coding": [{"system": "http://loinc.org", "code": "11508-9"}]},
               "author": [{"reference": "Practitioner/report-author"}],
               "content": [{"attachment": {"contentType": "text/plain"}}]})
    visit.claim_line("97124", units=2)
    queries = follow_up_queries(visit.record(), BASE, set())
    assert queries["provenance"] == f"Provenance?target=CarePlan/{plan['id']},Procedure/{proc['id']}"
    assert queries["performers"] == "Practitioner?_id=plan-author,report-author"
    assert queries["performerRoles"] == "PractitionerRole?_id=orderer-role"


def test_claim_service_prefetches_progress_reports_and_plan_documents():
    from cds_hooks.services import SERVICES
    template = SERVICES["massage-97124-claim-check"].prefetch["reports"]
    assert template.startswith("DocumentReference?patient={{context.patientId}}&type=")
    assert {"http://loinc.org|11508-9", "http://loinc.org|18776-5"} <= set(template.split("type=")[1].split(","))


# -- the HTTP session is injected: a requests transport that answers from resources in memory ---

class InMemoryFhir(requests.adapters.BaseAdapter):
    """A transport for requests.Session: reads (`Type/id`) and searches (`Type?...`, every
    resource of the type, parameters ignored) over `resources`; remembers each request."""

    def __init__(self, resources: list[dict]):
        super().__init__()
        self.resources, self.sent, self.closed = resources, [], False

    def send(self, prepared, **kwargs):
        self.sent.append(prepared)
        path = prepared.path_url.split("/fhir/", 1)[1]
        kind, _, rest = path.partition("?")[0].partition("/")
        found = [r for r in self.resources if r["resourceType"] == kind]
        if rest:  # a read
            found = [r for r in found if r.get("id") == rest]
            answer = response(200, found[0]) if found else response(404, {"resourceType": "OperationOutcome"})
        else:
            answer = response(200, bundle(*found))
        answer.request, answer.url = prepared, prepared.url
        return answer

    def close(self):
        self.closed = True


def in_memory_session(resources: list[dict]) -> tuple[requests.Session, InMemoryFhir]:
    session = requests.Session()
    adapter = InMemoryFhir(resources)
    session.mount("https://", adapter)
    return session, adapter


def test_the_client_sends_its_headers_through_the_session_it_is_given_and_closes_it():
    session, adapter = in_memory_session([{"resourceType": "Patient", "id": "p1"}])
    with FhirClient(BASE, "t0k", Config(dev=True), session) as client:
        found, failed = client.search_all({"patient": "Patient/p1", "goals": "Goal?patient=p1"})
    assert failed == [] and found["patient"]["id"] == "p1" and found["goals"]["entry"] == []
    assert sorted(r.url for r in adapter.sent) == [f"{BASE}/Goal?patient=p1", f"{BASE}/Patient/p1"]
    for sent in adapter.sent:
        assert sent.headers["Authorization"] == "Bearer t0k"
        assert sent.headers["Accept"] == "application/fhir+json"
        assert sent.headers["Accept-Encoding"] == "identity"
    assert adapter.closed


def test_the_app_fetches_through_the_session_factory_it_is_given(tmp_path, policy):
    """No prefetch: the service reads the EHR's FHIR server through the injected session, and
    its cards are those it gives when the EHR prefetches the same record."""
    from cds_hooks.app import create_app
    from cds_hooks.integrator import as_ehr_without_prefetch

    visit = Visit()
    visit.procedure("97124", minutes=22)
    visit.claim_line("97124", units=1)
    prefetched = visit.request("claim-prepare")
    resources = [e["resource"] for value in prefetched["prefetch"].values() if value
                 for e in (value.get("entry", []) if value["resourceType"] == "Bundle" else [{"resource": value}])]
    sessions = []

    def factory() -> requests.Session:
        session, adapter = in_memory_session(resources)
        sessions.append(adapter)
        return session

    config = Config(dev=True, database_url=f"sqlite:///{tmp_path}/s.db", fhir_allowlist=(BASE,))
    client = create_app(config, policy, fhir_session=factory).test_client()
    expected = client.post("/cds-services/massage-97124-claim-check", json=prefetched)
    assert expected.status_code == 200 and not sessions  # all prefetched: no FHIR call
    fetched = client.post("/cds-services/massage-97124-claim-check",
                          json=as_ehr_without_prefetch(prefetched, BASE, token="ehr-token"))
    assert fetched.status_code == 200, fetched.get_json()
    assert len(sessions) == 1 and sessions[0].sent and sessions[0].closed
    assert {r.headers["Authorization"] for r in sessions[0].sent} == {"Bearer ehr-token"}
    codes = sorted(c["source"]["topic"]["code"] for c in fetched.get_json()["cards"])
    assert codes and codes == sorted(c["source"]["topic"]["code"] for c in expected.get_json()["cards"])
