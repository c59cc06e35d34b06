"""Fetching against a real FHIR server: paging, follow-up searches, the allowlist, and the
integrator commands (`fixtures load`, `fire`) end to end."""
from __future__ import annotations

import json
from dataclasses import replace

import pytest

from cds_hooks.cli import main
from cds_hooks.config import Config
from cds_hooks.fhir_client import FhirClient
from cds_hooks.hook_request import parse
from cds_hooks.integrator import as_ehr_without_prefetch
from cds_hooks.prefetch import ServerNotAllowed, gather
from cds_hooks.services import SERVICES
from tests.builders import Visit
from tests.integration.support import load, origin_of, transaction

pytestmark = pytest.mark.integration

CLAIM = SERVICES["massage-97124-claim-check"]


@pytest.fixture(scope="module")
def paged_patient(fhir_base) -> str:
    visit = Visit(patient="pat-pages", encounter="enc-pages")
    for _ in range(25):
        visit.procedure("97110", minutes=1)
    load(fhir_base, visit.resources)
    return visit.patient


def test_pages_are_merged_into_one_searchset(fhir_base, live_config, paged_patient):
    with FhirClient(fhir_base, "test-token", live_config) as client:
        data, failed = client.search_all({"procedures": f"Procedure?patient={paged_patient}&_count=10"})
    assert failed == []
    bundle = data["procedures"]
    assert bundle["type"] == "searchset"
    ids = [e["resource"]["id"] for e in bundle["entry"]]
    assert len(ids) == len(set(ids)) == 25


def test_more_pages_than_the_cap_fail_the_key(fhir_base, live_config, paged_patient):
    capped = replace(live_config, fhir_page_cap=2)  # 25 entries by 10 need 3 pages
    with FhirClient(fhir_base, "test-token", capped) as client:
        data, failed = client.search_all({"procedures": f"Procedure?patient={paged_patient}&_count=10",
                                          "patient": f"Patient/{paged_patient}"})
    assert failed == ["procedures"]
    assert data["patient"]["resourceType"] == "Patient"


def request_without_prefetch(visit: Visit, fhir_base: str):
    return parse(as_ehr_without_prefetch(visit.request("claim-prepare"), fhir_base), "claim-prepare")


def signed_visit(name: str) -> tuple[Visit, dict]:
    visit = Visit(patient=f"pat-{name}", encounter=f"enc-{name}")
    role_holder = visit.practitioner("225100000X")
    role = visit.add({"resourceType": "PractitionerRole", "practitioner": {"reference": f"Practitioner/{role_holder['id']}"}})
    physician = visit.practitioner("207Q00000X")
    proc = visit.procedure("97124", minutes=23)
    proc["performer"] = [{"actor": {"reference": f"PractitionerRole/{role['id']}"}}]
    visit.add({"resourceType": "Provenance", "target": [{"reference": f"Procedure/{proc['id']}"}],
               "recorded": "2026-03-02T12:00:00-05:00",
               "agent": [{"who": {"reference": f"Practitioner/{physician['id']}"}}]})
    visit.claim_line("97124", units=2)
    visit.payer("Medicare", "medicare")
    return visit, {"role_holder": role_holder["id"], "role": role["id"], "physician": physician["id"]}


def ids_in(bundle: dict, rtype: str) -> set[str]:
    return {e["resource"]["id"] for e in bundle.get("entry", []) if e["resource"]["resourceType"] == rtype}


def test_follow_ups_reach_signatures_performers_and_payer(fhir_base, live_config):
    visit, ids = signed_visit("follow")
    load(fhir_base, visit.resources)
    data, unavailable = gather(CLAIM, request_without_prefetch(visit, fhir_base), live_config)

    assert unavailable == []
    assert len(ids_in(data["provenance"], "Provenance")) == 1
    assert ids_in(data["performerRoles"], "PractitionerRole") == {ids["role"]}
    # Round three: the role's Practitioner and the Provenance's signer, in one merged Bundle.
    assert ids_in(data["performers"], "Practitioner") == {ids["role_holder"], ids["physician"]}
    assert {e["resource"]["name"] for e in data["payors"]["entry"]} == {"Medicare"}


def test_follow_ups_read_the_note_documents_binary_signature_and_signer(fhir_base, live_config):
    import base64
    visit = Visit(patient="pat-note", encounter="enc-note")
    therapist, doctor = visit.practitioner("225700000X"), visit.practitioner("111N00000X")
    proc = visit.procedure("97124", minutes=15, performer=therapist)
    binary = visit.add({"resourceType": "Binary", "contentType": "text/markdown",
                        "data": base64.b64encode(b"Effleurage to the lumbar paraspinals").decode()})
    doc = visit.add({"resourceType": "DocumentReference", "status": "current", "date": "2026-03-02T11:30:00-05:00",
                     "subject": {"reference": "Patient/pat-note"},
                     "authenticator": {"reference": f"Practitioner/{doctor['id']}"},
                     "content": [{"attachment": {"contentType": "text/markdown", "url": f"Binary/{binary['id']}"}}],
                     "context": {"encounter": [{"reference": "Encounter/enc-note"}],
                                 "related": [{"reference": f"Procedure/{proc['id']}"}]}})
    visit.add({"resourceType": "Provenance", "target": [{"reference": f"DocumentReference/{doc['id']}"}],
               "recorded": "2026-03-02T11:35:00-05:00",
               "agent": [{"who": {"reference": f"Practitioner/{therapist['id']}"}}]})
    visit.claim_line("97124")
    load(fhir_base, visit.resources)
    data, unavailable = gather(CLAIM, request_without_prefetch(visit, fhir_base), live_config)

    assert unavailable == []
    assert data["note"]["resourceType"] == "Binary" and data["note"]["id"] == binary["id"]
    assert ids_in(data["provenance"], "Provenance") != set()
    assert ids_in(data["performers"], "Practitioner") == {therapist["id"], doctor["id"]}

def test_follow_ups_skip_what_the_prefetch_brought(fhir_base, live_config):
    visit, _ = signed_visit("prefetched")
    load(fhir_base, visit.resources)
    body = visit.request("claim-prepare")  # Visit.prefetch carries every resource
    body.update(as_ehr_without_prefetch({}, fhir_base))
    data, unavailable = gather(CLAIM, parse(body, "claim-prepare"), live_config)
    assert unavailable == []
    assert not {"provenance", "performers", "performerRoles", "payors"} & set(data)


def test_production_allowlist_refuses_unlisted_origin_without_contact(recorder):
    visit = Visit(patient="pat-prod", encounter="enc-prod")
    visit.procedure("97124", minutes=23)
    visit.claim_line("97124")
    request = request_without_prefetch(visit, f"{recorder.base}/fhir")
    before = len(recorder.hits)

    with pytest.raises(ServerNotAllowed) as refused:
        gather(CLAIM, request, Config(dev=False, fhir_allowlist=("http://127.0.0.1:1",)))
    assert refused.value.status == 400 and refused.value.field == "fhirServer"
    assert recorder.hits[before:] == []

    gather(CLAIM, request, Config(dev=False, fhir_allowlist=(origin_of(recorder.base),)))
    assert len(recorder.hits) > before
    assert all(had_auth for _, had_auth in recorder.hits[before:])


def test_unlisted_server_with_complete_prefetch_only_loses_follow_ups(recorder):
    """Fail open: the prefetch is enough to decide, so no 400; the signature search is skipped."""
    visit = Visit(patient="pat-prod-full", encounter="enc-prod-full")
    visit.procedure("97124", minutes=23)
    visit.claim_line("97124")
    body = visit.request("claim-prepare")
    for key in CLAIM.prefetch:
        body["prefetch"].setdefault(key, {"resourceType": "Bundle", "type": "searchset", "entry": []})
    body.update(as_ehr_without_prefetch({}, f"{recorder.base}/fhir"))
    before = len(recorder.hits)

    data, unavailable = gather(CLAIM, parse(body, "claim-prepare"), Config(dev=False))
    assert unavailable == ["provenance"]
    assert "procedures" in data
    assert recorder.hits[before:] == []


def write_fixture(root, name: str) -> Visit:
    """A fixture folder as fixtures/ holds them: 23 minutes of 97124 claimed as 1 unit."""
    visit = Visit(patient=f"pat-{name}", encounter=f"enc-{name}")
    visit.procedure("97124", minutes=23)
    visit.claim_line("97124", units=1)
    folder = root / name
    folder.mkdir()
    (folder / "request.json").write_text(json.dumps(visit.request("claim-prepare")))
    (folder / "bundle.json").write_text(json.dumps(transaction(visit.resources)))
    return visit


def test_fixtures_load_and_fire_commands(tmp_path, fhir_base, service, capsys):
    visit = write_fixture(tmp_path, "cli-units")

    assert main(["fixtures", "load", "--fhir", fhir_base, "--dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out.strip() == f"cli-units: loaded {len(visit.resources)} resources"

    assert main(["fire", "--service", service, "--fixture", "cli-units", "--dir", str(tmp_path),
                 "--fhir", fhir_base]) == 0
    fetched = capsys.readouterr().out
    assert main(["fire", "--service", service, "--fixture", "cli-units", "--dir", str(tmp_path)]) == 0
    prefetched = capsys.readouterr().out
    assert "units:" in fetched and "massage-97124-claim-check" in fetched
    assert "data-unavailable" not in fetched
    assert sorted(fetched.splitlines()) == sorted(prefetched.splitlines())


def test_fire_reports_refusal_and_fixtures_load_reports_failure(tmp_path, service, closed_port_base, capsys):
    write_fixture(tmp_path, "down")

    assert main(["fire", "--service", service, "--fixture", "down", "--dir", str(tmp_path),
                 "--fhir", closed_port_base]) == 1
    assert "HTTP 412" in capsys.readouterr().out
    assert main(["fixtures", "load", "--fhir", closed_port_base, "--dir", str(tmp_path)]) == 1
    assert "down: FAILED" in capsys.readouterr().out
