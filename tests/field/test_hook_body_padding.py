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
    assert len(data) >= hook_body.MIN_BYTES
    want = post(request["hook"], fhir_json.dumps(request).encode(), scan=False)
    assert want[0] == 200
    assert post(request["hook"], data, scan=False) == want
    assert post(request["hook"], data, scan=True) == want
