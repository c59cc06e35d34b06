"""cds_hooks/hook_body.py: a hook body read with what no rule reads left unparsed gives what the
whole parse gives, less exactly those Observations, and fails exactly where the whole parse fails."""
from __future__ import annotations

import copy

import pytest

from cds_hooks import fhir_json, hook_body
from cds_hooks.record_from_hook import record_from_hook
from plugin import Prefilter
from plugin.prefilter import OBSERVATION_CATEGORY
from tests.builders import Visit

LOINC = "http://loinc.org"


@pytest.fixture(autouse=True)
def every_body(monkeypatch):
    monkeypatch.setattr(hook_body, "MIN_BYTES", 0)


def vital(n: int, patient: str, code: str = "8867-4", **extra) -> dict:
    return {"resourceType": "Observation", "id": f"vs-{n}", "status": "final",
            "category": [{"coding": [{"system": OBSERVATION_CATEGORY, "code": "vital-signs"}]}],
            "code": {"coding": [{"system": LOINC, "code": code}]}, "subject": {"reference": f"Patient/{patient}"},
            "effectiveDateTime": f"20{10 + n % 15}-03-01", "valueQuantity": {"value": 60 + n % 40, "unit": "/min"},
            **extra}


def chart(vitals: int = 40) -> dict:
    """A visit whose observations also hold vital signs (unread), an exam finding and a pain score."""
    visit = Visit()
    visit.procedure("97124", minutes=30)
    visit.claim_line("97124", units=2)
    request = visit.request("claim-prepare")
    patient = request["context"]["patientId"]
    observations = [vital(n, patient) for n in range(vitals)]
    observations.insert(7, vital(1000, patient, code="72514-3"))          # a pain score: read
    observations.insert(9, vital(1001, patient, valueQuantity={"value": 1.50, "unit": "deg", "code": "deg"}))
    observations.insert(11, vital(1002, "someone-else", code="72514-3"))   # another patient's: held
    request["prefetch"]["observations"] = {
        "resourceType": "Bundle", "type": "searchset",
        "entry": [{"fullUrl": f"https://ehr.example.org/fhir/Observation/{o['id']}", "resource": o}
                  for o in observations]}
    return request


def without(request: dict, held_ids: set[str]) -> dict:
    out = copy.deepcopy(request)
    for value in out["prefetch"].values():
        if isinstance(value, dict) and isinstance(value.get("entry"), list):
            value["entry"] = [e for e in value["entry"] if e["resource"].get("id") not in held_ids]
    return out


def test_a_chart_reads_as_the_whole_parse_less_the_observations_no_rule_reads():
    request = chart()
    text = fhir_json.dumps(request).encode()
    body = hook_body.read(text)
    held = body.held.entries["observations"]
    prefilter = Prefilter(request["context"]["patientId"])
    expected = {e["resource"]["id"] for e in request["prefetch"]["observations"]["entry"]
                if not prefilter.admits(e["resource"])}
    assert {type_id for _, type_id, _, _ in held} == {f"Observation/{i}" for i in expected}
    assert len(expected) == 41 and "vs-1000" not in expected and "vs-1001" not in expected
    assert body.value == without(fhir_json.loads(text), expected)
    resources = {e["resource"]["id"]: e["resource"] for e in request["prefetch"]["observations"]["entry"]}
    for position, type_id, url, raw in held:
        resource = body.held.read(raw)
        assert resource == resources[type_id.split("/")[1]]
        assert url == f"https://ehr.example.org/fhir/{type_id}"
        assert request["prefetch"]["observations"]["entry"][position]["resource"] == resource


@pytest.mark.parametrize("damage", [
    lambda t: t.replace(b'"value": 61', b'"value": 6.1E+999', 1),   # beyond 1E±400, inside a held vital
    lambda t: t.replace(b'"value": 61', b'"value": 1E+10000000', 1),
    lambda t: t.replace(b'"value": 61', b'"value": NaN', 1),
    lambda t: t.replace(b'"value": 61', b'"value": 061', 1),
    lambda t: t.replace(b'"Patient/', b'"Patient\xff/', 1),            # not UTF-8
    lambda t: t.replace(b'"vs-3"', b'"vs-\\ud800"', 1),                 # a lone surrogate simplejson takes
    lambda t: b"\xef\xbb\xbf" + t,                                      # a byte-order mark simplejson takes
    lambda t: t[:-1],
    lambda t: t + b" x",
    lambda t: t.replace(b'"vs-3"', b'"vs-3"' + b', "deep": ' + b"[" * 2000 + b"]" * 2000, 1),
    lambda t: t.replace(b'"vs-5"', b'"vs-5", "id": "vs-5b"', 1),         # a duplicate key: the last wins
])
def test_a_body_fails_or_reads_exactly_as_the_whole_parse(damage):
    text = damage(fhir_json.dumps(chart()).encode())
    try:
        whole = fhir_json.loads(text)
    except (ValueError, RecursionError) as error:
        with pytest.raises(type(error)):
            hook_body.read(text)
        return
    body = hook_body.read(text)
    held = {type_id.split("/")[1] for entries in body.held.entries.values() for _, type_id, _, _ in entries}
    assert body.value == without(whole, held)


def test_nothing_is_held_back_from_a_page_with_a_next_page_or_under_a_shared_name():
    request = chart(10)
    request["prefetch"]["observations"]["link"] = [{"relation": "next", "url": "https://ehr.example.org/fhir?page=2"}]
    assert hook_body.read(fhir_json.dumps(request).encode()).held.entries == {}
    request = chart(10)
    entries = request["prefetch"]["observations"]["entry"]
    entries.append(copy.deepcopy(entries[0]))                  # two versions of one Observation
    entries[1]["fullUrl"] = entries[2]["fullUrl"]              # two entries under one fullUrl
    held = hook_body.read(fhir_json.dumps(request).encode()).held.entries["observations"]
    names = {name for _, type_id, url, _ in held for name in (type_id, url)}
    assert entries[0]["fullUrl"] not in names and entries[1]["fullUrl"] not in names
    assert "Observation/vs-0" not in names and "Observation/vs-1" not in names and len(held) == 8


def test_a_held_back_observation_is_validated_when_a_rule_follows_a_reference_to_it():
    request = chart(10)
    procedure = next(e["resource"] for e in request["prefetch"]["procedures"]["entry"])
    procedure["reasonReference"] = [{"reference": "https://ehr.example.org/fhir/Observation/vs-3"}]
    body = hook_body.read(fhir_json.dumps(request).encode())
    assert any(type_id == "Observation/vs-3" for _, type_id, _, _ in body.held.entries["observations"])
    record = record_from_hook("claim-prepare", body.value["context"])
    record.add_prefetch(body.value["prefetch"], held=body.held)
    assert [o.id for o in record.all("Observation")] == ["vs-1000", "vs-1001"]
    proc = record.all("Procedure")[0]
    found = record.resolve(proc.reasonReference[0], proc)
    assert found is not None and found.id == "vs-3" and found.valueQuantity.value == 63


def test_an_invalid_resource_after_held_back_ones_keeps_its_place(client):
    """A resource without an id is named by its place in the request (prefetch.observations[n]):
    the same place whether the Observations before it were held back or parsed."""
    request = chart(10)
    broken = vital(2000, request["context"]["patientId"], code="72514-3", valueQuantity={"value": "seven"})
    del broken["id"]
    request["prefetch"]["observations"]["entry"].append({"resource": broken})
    answers = []
    for size in (0, 1 << 40):
        hook_body.MIN_BYTES = size
        response = client.post("/cds-services/massage-97124-claim-check", data=fhir_json.dumps(request),
                               content_type="application/json")
        assert response.status_code == 200
        answers.append([{k: v for k, v in c.items() if k != "uuid"} for c in response.get_json()["cards"]])
    assert answers[0] == answers[1]
    assert "`prefetch.observations[13]`" in str(answers[0])


def test_a_later_copy_of_an_observation_held_back_unparsed_loses_to_it():
    """Names of what the reader held back are indexed only when needed; a later page that repeats
    one (the same Type/id) still finds it held, and the first copy is the one a rule reaches."""
    request = chart(10)
    body = hook_body.read(fhir_json.dumps(request).encode())
    record = record_from_hook("claim-prepare", body.value["context"])
    record.add_prefetch(body.value["prefetch"], held=body.held)
    later = vital(3, request["context"]["patientId"], code="72514-3", valueQuantity={"value": 9, "unit": "/min"})
    record.add_prefetch({"more": {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": later}]}})
    assert [o.id for o in record.all("Observation")] == ["vs-1000", "vs-1001"]
    found = record.resolve("Observation/vs-3")
    assert found is not None and found.valueQuantity.value == 63
    assert record.key_of(found) == "Observation/vs-3"
