"""A hook body of 64 KB or more is read by the scanning reader (cds_hooks/hook_body.py); under
that, parsed whole. The cards must not depend on which: every fixture, padded past 64 KB with
content no rule reads in several forms, gets the same answer read by the scan as parsed whole,
and the same as the fixture itself. Then hostile but valid forms of the held-back Observations
themselves: escapes, duplicate keys, numbers near the 1E±400 edge, odd entries, references of
every form from resources the rules follow."""
from __future__ import annotations

import copy
from collections.abc import Callable

import pytest

from cds_hooks import fhir_json, hook_body
from cds_hooks.record_from_hook import record_from_hook
from plugin.prefilter import OBSERVATION_CATEGORY
from tests.field.conftest import SCENARIOS, SERVICES, fixture_request

LOINC = "http://loinc.org"
SERVER = "https://ehr.example.org/fhir"
PADDED = hook_body.MIN_BYTES + 1024


def vital(n: int, patient: str, category: str = "vital-signs", **extra) -> dict:
    """A heart rate or glucose no rule reads (the patient's own, or another's)."""
    code = "8867-4" if category == "vital-signs" else "2339-0"
    return {"resourceType": "Observation", "id": f"pad-{n}", "status": "final",
            "category": [{"coding": [{"system": OBSERVATION_CATEGORY, "code": category}]}],
            "code": {"coding": [{"system": LOINC, "code": code}]}, "subject": {"reference": f"Patient/{patient}"},
            "effectiveDateTime": f"20{10 + n % 15}-03-01", "valueQuantity": {"value": 60 + n % 40, "unit": "/min"},
            **extra}


def _grow(request: dict, make: Callable[[int], dict]) -> bytes:
    """`request` with entries from `make` appended to its observations Bundle until past 64 KB."""
    out = copy.deepcopy(request)
    entries = out["prefetch"]["observations"].setdefault("entry", [])
    n = 0
    while len(fhir_json.dumps(out)) < PADDED:
        entries.extend(make(n + i) for i in range(50))
        n += 50
    return fhir_json.dumps(out).encode()


def _patient(request: dict) -> str:
    return request["context"]["patientId"]


def _whitespace(request: dict) -> bytes:
    """The same request, indented with spaces, tabs and carriage returns until past 64 KB."""
    lines = fhir_json.dumps(request, indent=" ").count("\n")
    return fhir_json.dumps(request, indent=" \t\r" * (PADDED // lines // 3 + 1)).encode()


def _escaped_slashes(request: dict) -> bytes:
    """Own vital signs, and every `/` of the body written `\\/` (only strings hold a slash in JSON)."""
    return _own_vitals(request).replace(b"/", b"\\/")


def _own_vitals(request: dict) -> bytes:
    return _grow(request, lambda n: {"fullUrl": f"{SERVER}/Observation/pad-{n}", "resource": vital(n, _patient(request))})


def _own_labs_urn(request: dict) -> bytes:
    return _grow(request, lambda n: {"fullUrl": f"urn:uuid:00000000-0000-4000-8000-{n:012d}",
                                     "resource": vital(n, _patient(request), "laboratory")})


def _others_observations_included(request: dict) -> bytes:
    """Another patient's Observations of a read code, as `include` entries, with keys in reverse order."""
    def make(n: int) -> dict:
        obs = vital(n, "someone-else", code={"coding": [{"system": LOINC, "code": "72514-3"}]})
        return {"search": {"mode": "include"}, "resource": dict(reversed(list(obs.items()))),
                "fullUrl": f"{SERVER}/Observation/pad-{n}"}
    return _grow(request, make)


def _cancelled_absolute_subject(request: dict) -> bytes:
    return _grow(request, lambda n: {"resource": vital(n, "x", status="entered-in-error",
                                                       subject={"reference": f"{SERVER}/Patient/{_patient(request)}"})})


def _unknown_member(request: dict) -> bytes:
    out = copy.deepcopy(request)
    out["extension"] = {"org.example.padding": ["unread " * 16] * (PADDED // 100)}
    return fhir_json.dumps(out).encode()


PADDINGS = {"whitespace": _whitespace, "own-vitals": _own_vitals, "escaped-slashes": _escaped_slashes,
            "own-labs-urn": _own_labs_urn, "others-included": _others_observations_included,
            "cancelled-absolute-subject": _cancelled_absolute_subject, "unknown-member": _unknown_member}


@pytest.fixture
def post(client, monkeypatch):
    """POST raw bytes to the hook's service, read by the scan (`scan=True`, every size) or parsed
    whole: (status, cards without their uuids)."""
    def call(hook: str, data: bytes, scan: bool) -> tuple[int, list]:
        monkeypatch.setattr(hook_body, "MIN_BYTES", 0 if scan else 1 << 40)
        response = client.post(f"/cds-services/{SERVICES[hook]}", data=data, content_type="application/json")
        return response.status_code, _without_uuids(fhir_json.loads(response.get_data()))
    return call


def _without_uuids(value):
    """An answer less the uuids the service draws anew for each card and suggestion."""
    if isinstance(value, dict):
        return {k: _without_uuids(v) for k, v in value.items() if k != "uuid"}
    return [_without_uuids(v) for v in value] if isinstance(value, list) else value


CASES = [(folder, name) for folder in SCENARIOS for name in PADDINGS]


@pytest.mark.parametrize("folder,padding", CASES, ids=[f"{f.name}-{p}" for f, p in CASES])
def test_a_padded_body_gets_the_cards_of_the_whole_parse_and_of_the_fixture(folder, padding, post):
    request = fixture_request(folder)
    data = PADDINGS[padding](request)
    assert len(data) >= hook_body.MIN_BYTES and hook_body._plain(data)
    held = hook_body._scan(data).held.entries   # the scan reads it (no fall back to the whole parse)
    assert held or padding in ("whitespace", "unknown-member")
    want = post(request["hook"], fhir_json.dumps(request).encode(), scan=False)
    assert want[0] == 200
    assert post(request["hook"], data, scan=False) == want
    assert post(request["hook"], data, scan=True) == want


# -- a held-back Observation that a rule reaches ----------------------------------------------

OTHER_SERVER = "https://other.example.net/r4"
KINDS = {   # Observations the prefilter holds back, whatever cites them
    "own-vital": lambda patient: vital(900, patient),
    "others-pain-score": lambda patient: vital(900, "someone-else", code={"coding": [{"system": LOINC, "code": "72514-3"}]}),
    "cancelled-lab": lambda patient: vital(900, patient, "laboratory", status="cancelled"),
}
# (the held Observation's fullUrl, the reference the order or procedure writes to it)
REFERENCES = {
    "relative": (f"{SERVER}/Observation/pad-900", "Observation/pad-900"),
    "absolute": (f"{SERVER}/Observation/pad-900", f"{SERVER}/Observation/pad-900"),
    "versioned": (f"{SERVER}/Observation/pad-900", "Observation/pad-900/_history/3"),
    "absolute-versioned": (f"{SERVER}/Observation/pad-900", f"{SERVER}/Observation/pad-900/_history/3"),
    "urn-uuid": ("urn:uuid:9b7e1c52-5f0c-4a4e-8d1e-000000000900", "urn:uuid:9b7e1c52-5f0c-4a4e-8d1e-000000000900"),
    "no-full-url": (None, "Observation/pad-900"),
    "on-another-server": (f"{OTHER_SERVER}/Observation/pad-900", f"{OTHER_SERVER}/Observation/pad-900"),
    "unknown": (f"{SERVER}/Observation/pad-900", "Observation/pad-901"),
    # both on another server, the citing resource's entry included: relative against its fullUrl
    "relative-on-another-server": (f"{OTHER_SERVER}/Observation/pad-900", "Observation/pad-900"),
}
CITING = {"s01-compliant-claim-medicare": "procedures", "s04-compliant-order-medicare": "draftOrders",
          "s36-no-reason-on-service": "procedures"}


def _cite(request: dict, reference: str, server: str = SERVER) -> None:
    """Every Procedure or draft order cites `reference` as a reason, before its own reasons, its
    entry on `server`."""
    bundle = request["context"]["draftOrders"] if request["hook"] == "order-sign" else request["prefetch"]["procedures"]
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] in ("Procedure", "ServiceRequest"):
            resource["reasonReference"] = [{"reference": reference}, *resource.get("reasonReference", [])]
            entry["fullUrl"] = f"{server}/{resource['resourceType']}/{resource['id']}"


def _padded(request: dict, held: dict, full_url: str | None) -> dict:
    out = copy.deepcopy(request)
    entries = out["prefetch"]["observations"]["entry"]
    entries.insert(0, {"resource": held} | ({"fullUrl": full_url} if full_url else {}))
    entries.extend({"fullUrl": f"{SERVER}/Observation/pad-{n}", "resource": vital(n, _patient(out))} for n in range(300))
    return out


TARGETED = [(f, k, r) for f in CITING for k in KINDS for r in REFERENCES]


@pytest.mark.parametrize("fixture,kind,form", TARGETED, ids=["-".join(c) for c in TARGETED])
def test_a_held_back_observation_a_rule_cites_reads_as_in_the_whole_parse(fixture, kind, form, post):
    request = fixture_request(next(f for f in SCENARIOS if f.name == fixture))
    full_url, reference = REFERENCES[form]
    _cite(request, reference, OTHER_SERVER if form == "relative-on-another-server" else SERVER)
    padded = _padded(request, KINDS[kind](_patient(request)), full_url)
    data = fhir_json.dumps(padded).encode()
    assert len(data) >= hook_body.MIN_BYTES
    held = hook_body.read(data).held.entries["observations"]
    assert held[0][0] == 0 and held[0][1] == "Observation/pad-900"   # the cited one is held back unparsed
    reached = _what_the_citations_reach(data, scan=True)
    assert reached == _what_the_citations_reach(data, scan=False)
    assert (reached[0] is None) == (form == "unknown") and (form == "unknown" or reached[0][1] == "pad-900")
    whole = post(request["hook"], data, scan=False)
    assert whole[0] == 200
    assert post(request["hook"], data, scan=True) == whole
    for escaped in (data.replace(b"/", b"\\/"), data.replace(b'"Observation"', b'"\\u004fbservation"')):
        assert post(request["hook"], escaped, scan=True) == whole


def _what_the_citations_reach(data: bytes, scan: bool) -> list:
    """What each cited reason of the record built from `data` resolves to, and what was skipped."""
    body = hook_body.read(data) if scan else hook_body.Body(fhir_json.loads(data), hook_body._held({}))
    value = body.value
    record = record_from_hook(value["hook"], value["context"])
    record.add_prefetch(value["prefetch"], held=body.held)
    citing = record.draft_orders if value["hook"] == "order-sign" else record.all("Procedure")
    reached = [record.resolve(r, c) for c in citing for r in c.reasonReference or []]
    return [(t.get_resource_type(), t.id, t.code.coding[0].code) if t is not None else None
            for t in reached] + [s.path for s in record.skipped]


# -- hostile but valid text -------------------------------------------------------------------

PAIN = '{"coding": [{"system": "http://loinc.org", "code": "72514-3"}]}'
EXAM = '[{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "exam"}]}]'
FIRST = b'"resource": {"resourceType": "Observation", "id": "pad-0"'
OUTCOME = ('{"search": {"mode": "outcome"}, "resource": {"resourceType": "OperationOutcome", '
           '"issue": [{"severity": "%s", "code": "processing"}]}}, ')
OBSERVATIONS = b'"observations": {"resourceType": "Bundle"'


def _first_entries(text: bytes, entries: bytes) -> bytes:
    """`text` with `entries` first in the observations Bundle."""
    at = text.index(b'"entry": [', text.index(OBSERVATIONS)) + len(b'"entry": [')
    return text[:at] + entries + text[at:]


HOSTILE = {
    "duplicate-context-other-patient-first": lambda t: t.replace(b'"context": {', b'"context": {"patientId": "zz"}, "context": {', 1),
    "duplicate-context-other-patient-last": lambda t: t.replace(b'"prefetch": {', b'"context": {"patientId": "zz"}, "prefetch": {', 1),
    "duplicate-prefetch": lambda t: t.replace(b'"prefetch": {', b'"prefetch": null, "prefetch": {', 1),
    "duplicate-key-null-first": lambda t: t.replace(b'"prefetch": {', b'"prefetch": {"observations": null, ', 1),
    "duplicate-resource-read-first": lambda t: t.replace(FIRST, b'"resource": {"resourceType": "Observation", "id": "r", "code": '
                                                         + PAIN.encode() + b'}, ' + FIRST, 1),
    "duplicate-resource-read-last": lambda t: t.replace(FIRST, FIRST.replace(b'"resource"', b'"resource": {"resourceType": "Observation", "id": "pad-0", "code": '
                                                         + PAIN.encode() + b', "status": "final"}, "x"'), 1),
    "duplicate-code-read-first": lambda t: t.replace(b'"id": "pad-1",', b'"id": "pad-1", "code": ' + PAIN.encode() + b',', 1),
    "duplicate-category-exam-first": lambda t: t.replace(b'"id": "pad-2",', b'"id": "pad-2", "category": ' + EXAM.encode() + b',', 1),
    "duplicate-subject-other-first": lambda t: t.replace(b'"id": "pad-3",', b'"id": "pad-3", "subject": {"reference": "Patient/zz"},', 1),
    "duplicate-status-cancelled-first": lambda t: t.replace(b'"id": "pad-4",', b'"id": "pad-4", "status": "cancelled",', 1),
    "duplicate-resource-type": lambda t: t.replace(FIRST, b'"resource": {"resourceType": "Goal", "resourceType": "Observation", "id": "pad-0"', 1),
    "duplicate-entry-list": lambda t: t.replace(OBSERVATIONS,
                                                OBSERVATIONS.replace(b"{", b'{"entry": [], ', 1), 1),
    "escaped-everything": lambda t: t.replace(b'"Observation"', b'"\\u004f\\u0062servation"').replace(b'"vital-signs"', b'"vital\\u002dsigns"')
                                    .replace(b'"8867-4"', b'"\\u0038867-4"').replace(b"/", b"\\/"),
    "escaped-keys": lambda t: t.replace(b'"code":', b'"c\\u006fde":').replace(b'"prefetch":', b'"pr\\u0065fetch":')
                              .replace(b'"resource":', b'"r\\u0065source":').replace(b'"subject":', b'"subj\\u0065ct":'),
    "escaped-quote-in-display": lambda t: t.replace(b'"id": "pad-5",', b'"id": "pad-5", "text": {"status": "generated", "div": "\\u0022\\\\\\""},', 1),
    "non-ascii": lambda t: t.replace(b'"id": "pad-6",', '"id": "pad-6", "note": [{"text": "Schmerz \u00fcber \U0001f600 \\ud83d\\ude00"}],'.encode(), 1),
    "number-1e399": lambda t: t.replace(b'"value": 60,', b'"value": 1E+399,', 1),
    "number-1e400": lambda t: t.replace(b'"value": 60,', b'"value": 1E+400,', 1),
    "number-minus-1e-400": lambda t: t.replace(b'"value": 60,', b'"value": -1.0e-400,', 1),
    "number-0e400": lambda t: t.replace(b'"value": 60,', b'"value": 0E+400,', 1),
    "number-exponent-0400": lambda t: t.replace(b'"value": 60,', b'"value": 1e0400,', 1),
    "number-long-mantissa": lambda t: t.replace(b'"value": 60,', b'"value": ' + b'9' * 299 + b'.5e+99,', 1),
    "number-as-id": lambda t: t.replace(b'"id": "pad-7"', b'"id": 123456789012345678901234567890', 1),
    "null-and-empty-entries": lambda t: _first_entries(t, b'{"resource": null}, {}, {"fullUrl": "urn:uuid:x"}, '),
    "outcome-warning-entry": lambda t: _first_entries(t, (OUTCOME % "warning").encode()),
    "outcome-error-entry": lambda t: _first_entries(t, (OUTCOME % "error").encode()),
    "next-link": lambda t: t.replace(OBSERVATIONS, b'"observations": {"link": [{"relation": "next", '
                                     b'"url": "https://ehr.example.org/fhir/Observation?page=2"}], ' + OBSERVATIONS[17:], 1),
    "collection-bundle": lambda t: t.replace(b'"type": "searchset"', b'"type": "collection"'),
    "goal-measures-the-vitals": lambda t: _first_entries(t, b'{"resource": {"resourceType": "Goal", "id": "g", '
                                                          b'"lifecycleStatus": "active", "description": {"text": "HR"}, '
                                                          b'"subject": {"reference": "Patient\\/x"}, '
                                                          b'"target": [{"measure": {"coding": [{"system": "http:\\/\\/loinc.org", '
                                                          b'"code": "8867\\u002d4"}]}}]}}, '),
    "same-observation-under-another-key": lambda t: t.replace(b'"prefetch": {', b'"prefetch": {"included": {"resourceType": "Bundle", "entry": [{"resource": '
                                                              + fhir_json.dumps(vital(5, "x")).encode() + b'}]}, ', 1),
    "null-prefetch": lambda t: t.replace(b'"prefetch": {', b'"prefetch": null, "ignored": {', 1),
}


@pytest.fixture(scope="module")
def chart_text() -> bytes:
    """s01 with its observations key grown past 64 KB with the patient's vital signs, the first of them first."""
    request = fixture_request(next(f for f in SCENARIOS if f.name == "s01-compliant-claim-medicare"))
    request["prefetch"]["observations"]["entry"][:0] = [
        {"fullUrl": f"{SERVER}/Observation/pad-{n}", "resource": vital(n, _patient(request))} for n in range(300)]
    return fhir_json.dumps(request).encode()


@pytest.mark.parametrize("change", HOSTILE)
def test_hostile_text_answers_as_the_whole_parse(change, chart_text, post):
    data = HOSTILE[change](chart_text)
    assert data != chart_text and len(data) >= hook_body.MIN_BYTES
    assert post("claim-prepare", data, scan=True) == post("claim-prepare", data, scan=False)
