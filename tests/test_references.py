"""The one reference resolver: every form of reference names the same resource (or none)."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cds_hooks.record_from_hook import record_from_hook
from plugin import Record, logical_key, ref_key
from plugin.references import base_of, bases_of, split

BASE = "https://ehr.example.org/fhir"


@pytest.mark.parametrize("ref,parts", [
    ("Procedure/p1", ("", "Procedure/p1")),
    ("Procedure/p1/_history/2", ("", "Procedure/p1")),
    (f"{BASE}/Procedure/p1", (BASE, "Procedure/p1")),
    (f"{BASE}/Procedure/p1/_history/2", (BASE, "Procedure/p1")),
    ("#cov1", None),
    ("urn:uuid:5d8d5a9e-3b0b-4b8e-9d6a-0c1f7a1b2c3d", None),
    ("just-an-id", None),
    ("a/b/Procedure/p1", None),
])
def test_split(ref, parts):
    assert split(ref) == parts


def test_logical_key_tells_servers_apart_only_when_it_knows_them():
    assert logical_key(f"{BASE}/Patient/1", {BASE.lower()}) == "Patient/1"
    assert logical_key("https://other.example.com/fhir/Patient/1", {BASE.lower()}) is None
    assert logical_key("https://other.example.com/fhir/Patient/1") == "Patient/1"


def _record(fhir_server=None) -> Record:
    claim = {"resourceType": "Claim", "id": "c1", "status": "draft", "use": "claim",
             "type": {"coding": [{"code": "professional"}]}, "patient": {"reference": "Patient/p"},
             "created": "2026-03-02", "provider": {"reference": "Organization/clinic"},
             "priority": {"coding": [{"code": "normal"}]},
             "contained": [{"resourceType": "Coverage", "id": "cov1", "status": "active",
                            "beneficiary": {"reference": "Patient/p"}, "payor": [{"reference": "#org1"}]},
                           {"resourceType": "Organization", "id": "org1", "name": "Medicare"}],
             "insurance": [{"sequence": 1, "focal": True, "coverage": {"reference": "#cov1"}}]}
    goals = {"resourceType": "Bundle", "type": "searchset", "entry": [
        {"fullUrl": "urn:uuid:0f1e2d3c-4b5a-4978-8877-665544332211",
         "resource": {"resourceType": "Goal", "id": "g1", "lifecycleStatus": "active",
                      "description": {"text": "walk"}, "subject": {"reference": "Patient/p"}}},
        {"fullUrl": f"{BASE}/Goal/g2",
         "resource": {"resourceType": "Goal", "id": "g2", "lifecycleStatus": "active",
                      "description": {"text": "lift"}, "subject": {"reference": "Patient/p"}}}]}
    return record_from_hook("claim-prepare", {"patientId": "p", "claim": claim}, {"goals": goals},
                        fhir_server=fhir_server)


def test_every_form_resolves_to_the_same_resource():
    record = _record()
    g1 = record.resolve("Goal/g1")
    for form in ("Goal/g1/_history/3", f"{BASE}/Goal/g1", "urn:uuid:0f1e2d3c-4b5a-4978-8877-665544332211"):
        assert record.resolve(form) is g1
        assert record.key(form) == "Goal/g1" == ref_key(form, record)


def test_contained_resolves_only_inside_its_container():
    record = _record()
    claim = record.claim
    coverage = record.resolve(claim.insurance[0].coverage, claim)
    assert coverage.get_resource_type() == "Coverage"
    payer = record.resolve(coverage.payor[0], coverage)  # a contained resource's container is the claim's
    assert payer.name == "Medicare"
    assert record.resolve("#cov1") is None  # no container, no contained resource
    assert record.key_of(coverage) == "Claim/c1#cov1"  # never mistaken for a Coverage/cov1 of the server


def test_identifier_and_display_only_references_name_nothing():
    record = _record()
    assert record.resolve({"identifier": {"value": "x"}}) is None
    assert record.key("") is None
    assert ref_key(None) is None


def test_another_servers_reference_is_not_ours_once_our_base_is_known():
    record = _record(fhir_server=BASE)
    assert record.resolve("https://elsewhere.example.com/fhir/Goal/g1") is None
    assert record.key("https://elsewhere.example.com/fhir/Goal/g1") is None
    assert record.resolve(f"{BASE}/Goal/g1") is record.resolve("Goal/g1")


def test_a_resource_is_cited_the_way_the_ehr_can_resolve_it():
    record = _record()
    coverage = record.resolve("#cov1", record.claim)
    assert record.reference_to(record.resolve("Goal/g2")) == "Goal/g2"
    assert record.reference_to(coverage) is None  # contained: only its container can point at it
    goals = {"resourceType": "Bundle", "type": "searchset", "entry": [
        {"fullUrl": "urn:uuid:11111111-2222-4333-8444-555555555555",
         "resource": {"resourceType": "Goal", "lifecycleStatus": "active", "description": {"text": "sit"},
                      "subject": {"reference": "Patient/p"}}}]}
    record.add_prefetch({"goals": goals})
    unnamed = record.resolve("urn:uuid:11111111-2222-4333-8444-555555555555")
    assert record.reference_to(unnamed) == "urn:uuid:11111111-2222-4333-8444-555555555555"


@given(st.lists(st.tuples(
    st.sampled_from(["https://ehr.example.org/fhir", "HTTPS://Ehr.example.org:443/fhir/", "http://other.org", "urn:uuid:",
                     "https://ehr.example.org/fhir/Patient/p1/_history", "", "Observation", "https://x.org/a b"]),
    st.sampled_from(["/Observation/", "/", "//", "/observation/", "/Observation/o1/_history/", ""]),
    st.text("abcAZ09-._/:# ", max_size=70)), max_size=30))
def test_bases_of_many_fullurls_are_each_ones_base(parts):
    urls = [a + b + c for a, b, c in parts]
    assert bases_of(urls) == {base for url in urls if (base := base_of(url))}


# -- a relative reference in a Bundle entry names a resource on that entry's server (R4 §2.36.4) -----
def _procedures(*entries: tuple[str, dict]) -> Record:
    bundle = {"resourceType": "Bundle", "type": "searchset",
              "entry": [{"fullUrl": url, "resource": resource} for url, resource in entries]}
    return record_from_hook("claim-prepare", {"patientId": "p"}, {"procedures": bundle})


def _procedure(**extra) -> dict:
    return {"resourceType": "Procedure", "status": "completed", "subject": {"reference": "Patient/p"}, **extra}


def _provenance(target: str, signer: str = "x") -> dict:
    return {"resourceType": "Provenance", "target": [{"reference": target}], "recorded": "2026-03-02T10:00:00Z",
            "agent": [{"who": {"reference": f"Practitioner/{signer}"}}]}


@pytest.mark.parametrize("target", ["Procedure/1", "Procedure/1/_history/4"])
def test_a_relative_reference_resolves_against_its_entrys_full_url(target):
    """The Procedure is known by its fullUrl only (no id): `Procedure/1` inside an entry of
    https://x.example.org/fhir/ is https://x.example.org/fhir/Procedure/1, that Procedure."""
    record = _procedures(("https://x.example.org/fhir/Procedure/1", _procedure()),
                         ("https://x.example.org/fhir/Provenance/9", _provenance(target)))
    [prov] = record.all("Provenance")
    [proc] = record.all("Procedure")
    assert record.resolve(prov.target[0], prov) is proc
    assert record.key(prov.target[0], prov) == record.key_of(proc)
    assert record.resolve(target) is None  # outside any entry, nothing says which server


def test_the_same_type_and_id_on_two_servers_are_two_resources():
    """A relative reference resolves on its own entry's server: b's Provenance signs b's
    Procedure/1, never a's, whichever came first."""
    a, b = "https://a.example.org/fhir", "https://b.example.org/fhir"
    record = _procedures((f"{a}/Procedure/1", _procedure(id="1", note=[{"text": "a"}])),
                         (f"{b}/Procedure/1", _procedure(id="1", note=[{"text": "b"}])),
                         (f"{b}/Provenance/9", _provenance("Procedure/1", "b")),
                         (f"{a}/Provenance/8", _provenance("Procedure/1", "a")))
    by_server = {p.note[0].text: p for p in record.all("Procedure")}
    assert set(by_server) == {"a", "b"}
    prov_b, prov_a = record.all("Provenance")
    assert record.resolve(prov_b.target[0], prov_b) is by_server["b"]
    assert record.resolve(prov_a.target[0], prov_a) is by_server["a"]
    assert record.key(prov_b.target[0], prov_b) != record.key(prov_a.target[0], prov_a)
