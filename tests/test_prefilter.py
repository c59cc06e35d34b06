"""plugin/prefilter.py: what is held back from validation, and that held-back resources stay reachable."""
from __future__ import annotations

import pytest

from cds_hooks.record_from_hook import record_from_hook
from plugin import Prefilter
from plugin.prefilter import OBSERVATION_CATEGORY

SERVER = "https://ehr.example.org/fhir"
LOINC = "http://loinc.org"


def vital(rid: str, code: str = "8867-4", subject: str = "Patient/p1", **extra) -> dict:
    return {"resourceType": "Observation", "id": rid, "status": "final",
            "category": [{"coding": [{"system": OBSERVATION_CATEGORY, "code": "vital-signs"}]}],
            "code": {"coding": [{"system": LOINC, "code": code}]}, "subject": {"reference": subject},
            "effectiveDateTime": "2019-03", "valueQuantity": {"value": 72, "unit": "/min"}, **extra}


def bundle(*resources: dict, urls: tuple[str, ...] = ()) -> dict:
    entries = [{"resource": r} for r in resources]
    for entry, url in zip(entries, urls, strict=False):
        entry["fullUrl"] = url
    return {"resourceType": "Bundle", "type": "searchset", "entry": entries}


@pytest.mark.parametrize("reference, held", [
    ("Patient/p2", True),
    ("Patient/p2/_history/3", True),
    (f"{SERVER}/Patient/p2", True),                       # absolute on the request's fhirServer
    ("https://other.example.org/fhir/Patient/p2", False),  # another server: counted as the patient's
    ("urn:uuid:0f4c5f1e-0000-4000-8000-000000000001", False),
    ("#pat", False),
    ("Patient/p1", False),
    (f"{SERVER}/Patient/p1/_history/1", False),
])
def test_another_patients_resource_is_held_back_in_every_reference_form(reference, held):
    condition = {"resourceType": "Condition", "id": "c1", "subject": {"reference": reference},
                 "code": {"text": "Low back pain"}}
    assert Prefilter("p1", SERVER).admits(condition) is not held


def test_identifier_only_subject_and_unknown_patient_are_admitted():
    condition = {"resourceType": "Condition", "id": "c1", "subject": {"identifier": {"value": "MRN1"}}}
    assert Prefilter("p1", SERVER).admits(condition)
    assert Prefilter(None, SERVER).admits({**condition, "subject": {"reference": "Patient/p2"}})


@pytest.mark.parametrize("change, admitted", [
    ({}, False),
    ({"code": {"coding": [{"system": LOINC, "code": "72514-3"}]}}, True),          # a pain score
    ({"valueQuantity": {"value": 40, "unit": "deg", "code": "deg"}}, True),        # range of motion
    ({"category": [{"coding": [{"system": OBSERVATION_CATEGORY, "code": "exam"}]}]}, True),
    ({"category": [{"coding": [{"system": OBSERVATION_CATEGORY, "code": "vital-signs"},
                               {"system": "urn:oid:1.2.3", "code": "VS"}]}]}, False),  # local coding beside it
    ({"category": [{"coding": [{"system": OBSERVATION_CATEGORY, "code": "vital-signs"}]},
                   {"coding": [{"system": OBSERVATION_CATEGORY, "code": "exam"}]}]}, True),
    ({"category": [{"text": "Vitals"}]}, True),          # nothing coded to go by: read as before
    ({"category": "vital-signs"}, True),                 # not even FHIR: validated (and refused) as before
    ({"status": "entered-in-error", "category": [{"coding": [{"system": OBSERVATION_CATEGORY, "code": "exam"}]}]}, False),
])
def test_observations_no_rule_reads(change, admitted):
    assert Prefilter("p1").admits({**vital("o1"), **change}) is admitted


def test_a_held_back_resource_resolves_by_reference_but_is_not_listed():
    procedure = {"resourceType": "Procedure", "id": "pr1", "status": "completed", "subject": {"reference": "Patient/p1"},
                 "code": {"text": "massage"}, "reasonReference": [{"reference": f"{SERVER}/Observation/o1/_history/2"}]}
    record = record_from_hook("claim-prepare", {"patientId": "p1"}, {
        "observations": bundle(vital("o1"), vital("o2"), urls=("", "urn:uuid:6a1e0e6e-0000-4000-8000-000000000002")),
        "procedures": bundle(procedure)}, fhir_server=SERVER)
    assert record.all("Observation") == []
    found = record.resolve(record.all("Procedure")[0].reasonReference[0], record.all("Procedure")[0])
    assert found is not None and found.id == "o1"
    assert record.resolve("urn:uuid:6a1e0e6e-0000-4000-8000-000000000002").id == "o2"
    assert record.all("Observation") == []


def test_a_goal_measuring_a_vital_sign_makes_it_read_whenever_the_goal_arrives():
    goal = {"resourceType": "Goal", "id": "g1", "lifecycleStatus": "active", "description": {"text": "Lose weight"},
            "subject": {"reference": "Patient/p1"},
            "target": [{"measure": {"coding": [{"system": LOINC, "code": "29463-7"}]}}]}
    weight, pulse = vital("w1", "29463-7"), vital("h1")
    same_round = record_from_hook("claim-prepare", {"patientId": "p1"},
                              {"observations": bundle(weight, pulse), "goals": bundle(goal)})
    assert [o.id for o in same_round.all("Observation")] == ["w1"]
    later = record_from_hook("claim-prepare", {"patientId": "p1"}, {"observations": bundle(weight, pulse)})
    assert later.all("Observation") == []
    later.add_prefetch({"goals": bundle(goal)})   # e.g. the goals' next page, fetched afterwards
    assert [o.id for o in later.all("Observation")] == ["w1"]


def test_a_held_back_resource_is_never_validated_nor_reported():
    broken = vital("bad", subject="Patient/p2", valueQuantity={"value": "seven"})
    record = record_from_hook("claim-prepare", {"patientId": "p1"}, {"observations": bundle(broken)})
    assert record.skipped == [] and record.all("Observation") == []
    mine = record_from_hook("claim-prepare", {"patientId": "p1"},
                        {"observations": bundle({**broken, "subject": {"reference": "Patient/p1"},
                                                 "category": [{"coding": [{"system": OBSERVATION_CATEGORY, "code": "exam"}]}]})})
    assert [s.where for s in mine.skipped] == ["Observation/bad"]
