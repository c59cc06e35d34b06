"""What no rule reads changes no card, and the prefilter never holds back what a rule reads.

plugin/prefilter.py holds resources back from validation on their JSON alone. Two properties over
the fixtures, in every equivalent form of tests/field/transforms.py:

1. Adding any number of irrelevant resources (vital signs and lab results of other codes, at any
   date back ten years and in any date form; cancelled or erroneous Observations; other patients'
   Conditions, Observations, Procedures, Goals and CarePlans) leaves every card exactly as it was,
   with the prefilter on and with it off (then the rules themselves pass over them).
2. Adding any Observations at all (pain scores, exam findings, goal measures, degrees, any category,
   status and patient), and Goals that make vital signs their measure, gives the same cards with
   the prefilter on as with it off.
"""
from __future__ import annotations

import copy
from contextlib import contextmanager
from unittest import mock

import pytest
from fhir.resources.R4B import get_fhir_model_class
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from plugin import Prefilter
from plugin.prefilter import OBSERVATION_CATEGORY
from tests.field.conftest import SCENARIOS, fixture_request
from tests.field.transforms import TRANSFORMS

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
KEY_OF = {"Observation": "observations", "Condition": "conditions", "Procedure": "procedures",
          "Goal": "goals", "CarePlan": "carePlans"}
# Vital signs and lab tests no rule reads (not pain scores, exam findings, qualifying codes or degrees).
UNREAD = (("8867-4", "Heart rate", "/min"), ("29463-7", "Body weight", "kg"), ("8310-5", "Body temperature", "Cel"),
          ("9279-1", "Respiratory rate", "/min"), ("2339-0", "Glucose", "mg/dL"), ("718-7", "Hemoglobin", "g/dL"),
          ("1988-5", "C reactive protein", "mg/L"), ("59408-5", "Oxygen saturation", "%"))
READ = (("72514-3", "Pain severity 0-10", "{score}"), ("41353-3", "Lumbar flexion", "deg"),
        ("38208-5", "Pain severity", "{score}"))
FORMS = {name: fn for name, fn in TRANSFORMS.items() if name != "contained-coverage"} | {"as-sent": lambda r: r}
QUICK = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                         HealthCheck.too_slow])


def _concept(code: str, system: str, display: str | None = None) -> dict:
    coding = {"system": system, "code": code}
    return {"coding": [coding | ({"display": display} if display else {})]}


@st.composite
def _when(draw) -> str:
    """A date up to ten years back, in every form FHIR allows: year, month, day, instant in any offset."""
    year, month, day = draw(st.integers(2016, 2026)), draw(st.integers(1, 12)), draw(st.integers(1, 28))
    form = draw(st.sampled_from(["year", "month", "day", "instant"]))
    if form == "year":
        return f"{year}"
    if form == "month":
        return f"{year}-{month:02d}"
    if form == "day":
        return f"{year}-{month:02d}-{day:02d}"
    hour, offset = draw(st.integers(0, 23)), draw(st.sampled_from(["Z", "-05:00", "+09:00", "+00:00"]))
    return f"{year}-{month:02d}-{day:02d}T{hour:02d}:15:00{offset}"


def _subject(draw, patient: str, other: bool) -> dict:
    who = f"other-{draw(st.integers(0, 9))}" if other else patient
    return {"reference": draw(st.sampled_from([f"Patient/{who}", f"Patient/{who}/_history/2"]))}


@st.composite
def vital_sign(draw, patient: str, codes=UNREAD) -> dict:
    code, name, unit = draw(st.sampled_from(codes))
    category = _concept(draw(st.sampled_from(["vital-signs", "laboratory"])), OBSERVATION_CATEGORY)
    if draw(st.booleans()):
        category["coding"].append({"system": "urn:oid:1.2.840.114350", "code": "VS"})  # a local coding beside it
    obs = {"resourceType": "Observation", "id": f"noise-{draw(st.uuids()).hex[:12]}",
           "status": draw(st.sampled_from(["final", "amended", "preliminary", "cancelled", "entered-in-error"])),
           "category": [category], "code": _concept(code, LOINC, name),
           "subject": _subject(draw, patient, draw(st.booleans())), "effectiveDateTime": draw(_when()),
           "valueQuantity": {"value": draw(st.integers(0, 300)), "unit": unit, "system": UCUM, "code": unit}}
    if draw(st.booleans()):
        obs["note"] = [{"text": "Patient reports back pain and spasm; swelling noted."}]  # vitals' text is not read
    return obs


@st.composite
def void_exam(draw, patient: str) -> dict:
    """An exam Observation that was cancelled or entered in error: a pain score no rule may count."""
    code, name, unit = draw(st.sampled_from(READ))
    return {"resourceType": "Observation", "id": f"void-{draw(st.uuids()).hex[:12]}",
            "status": draw(st.sampled_from(["cancelled", "entered-in-error"])),
            "category": [_concept("exam", OBSERVATION_CATEGORY)], "code": _concept(code, LOINC, name),
            "subject": _subject(draw, patient, False), "effectiveDateTime": draw(_when()),
            "valueQuantity": {"value": draw(st.integers(0, 10)), "unit": unit, "system": UCUM, "code": unit}}


@st.composite
def goal_measuring(draw, patient: str) -> dict:
    """A current Goal of the patient whose target measure is a vital sign or lab test: that test's
    Observations are then read (objective-measures)."""
    code, name, _unit = draw(st.sampled_from(UNREAD))
    return {"resourceType": "Goal", "id": f"goal-{draw(st.uuids()).hex[:12]}", "lifecycleStatus": "active",
            "description": {"text": f"Bring {name.lower()} back to normal"},
            "subject": {"reference": f"Patient/{patient}"},
            "target": [{"measure": _concept(code, LOINC, name), "dueDate": "2026-12-31"}]}


@st.composite
def other_patients(draw, request: dict) -> dict | None:
    """A copy of one of the patient's own clinical resources, about another patient."""
    own = [e["resource"] for key in KEY_OF.values() for e in _entries(request, key)]
    if not own:
        return None
    res = copy.deepcopy(draw(st.sampled_from(own)))
    res["id"] = f"{res.get('id', 'x')}-of-{draw(st.uuids()).hex[:8]}"
    res["subject"] = _subject(draw, "", True)
    return res


def _entries(request: dict, key: str) -> list[dict]:
    value = request.get("prefetch", {}).get(key)
    if not isinstance(value, dict) or value.get("resourceType") != "Bundle":
        return []
    return [e for e in value.get("entry") or [] if isinstance(e.get("resource"), dict)]


def _with(draw, request: dict, resources: list[dict | None]) -> dict:
    out = copy.deepcopy(request)
    for res in resources:
        value = out.get("prefetch", {}).get(KEY_OF.get((res or {}).get("resourceType"), ""))
        if not isinstance(value, dict) or value.get("resourceType") != "Bundle":
            continue
        entries = value.setdefault("entry", [])
        entries.insert(draw(st.integers(0, len(entries))), {"resource": res})
    return out


@contextmanager
def prefilter_off():
    with mock.patch.object(Prefilter, "admits", lambda self, raw: True):
        yield


def _valid(resources: list[dict | None]) -> bool:
    """Whether every added resource is valid FHIR: with the prefilter off an invalid one is
    validated and named on the data-unavailable card; held back, it is never validated."""
    try:
        for res in filter(None, resources):
            get_fhir_model_class(res["resourceType"]).model_validate(res)
    except (ValidationError, TypeError, ValueError):
        return False
    return True


def _cards(send, body: dict) -> list[dict]:
    status, answer = send(body)
    assert status == 200, answer
    return [_without_uuid(c) for c in answer["cards"]]


def _without_uuid(value):
    if isinstance(value, dict):
        return {k: _without_uuid(v) for k, v in value.items() if k != "uuid"}
    if isinstance(value, list):
        return [_without_uuid(v) for v in value]
    return value


REQUESTS = {p.name: fixture_request(p) for p in SCENARIOS}
# Scenarios where a rule that reads Observations fires: where a wrongly held-back one would show.
OBSERVATION_CARDS = ("objective-measures", "progress", "exam-findings", "modality-trend")
READING = sorted(name for name, p in ((p.name, p) for p in SCENARIOS)
                 if any(f'"{code}"' in (p / "expected.json").read_text() for code in OBSERVATION_CARDS))


@pytest.mark.parametrize("form", sorted(FORMS))
@QUICK
@given(data=st.data())
def test_irrelevant_resources_change_no_card(send, form, data):
    name = data.draw(st.sampled_from(sorted(REQUESTS)), label="scenario")
    request = REQUESTS[name]
    patient = request["context"]["patientId"]
    noise = data.draw(st.lists(st.one_of(vital_sign(patient), void_exam(patient), other_patients(request)),
                               min_size=1, max_size=12), label="noise")
    base, noisy = FORMS[form](request), FORMS[form](_with(data.draw, request, noise))
    expected = _cards(send, base)
    assert _cards(send, noisy) == expected
    if _valid(noise):
        with prefilter_off():
            assert _cards(send, noisy) == expected   # the rules themselves pass over it


@QUICK
@given(data=st.data())
def test_prefilter_holds_back_nothing_a_rule_reads(send, data):
    name = data.draw(st.sampled_from(READING) | st.sampled_from(sorted(REQUESTS)), label="scenario")
    request = REQUESTS[name]
    patient = request["context"]["patientId"]
    measures = [(c["code"], "goal measure", "{score}") for e in _entries(request, "goals")
                for t in e["resource"].get("target") or [] for c in (t.get("measure") or {}).get("coding") or []]
    anything = st.one_of(vital_sign(patient, UNREAD + READ + tuple(measures)), void_exam(patient),
                         other_patients(request), goal_measuring(patient))
    added = data.draw(st.lists(anything, min_size=1, max_size=12).filter(_valid), label="added")
    noisy = FORMS[data.draw(st.sampled_from(sorted(FORMS)), label="form")](_with(data.draw, request, added))
    with_prefilter = _cards(send, noisy)
    with prefilter_off():
        assert _cards(send, noisy) == with_prefilter
