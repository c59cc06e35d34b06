"""The compiled validator (plugin/fhir_validation.py) must decide exactly as fhir.resources does.

Whatever the compiled validator accepts on its own, fhir.resources accepts too, with an equal
model (class, values, fields set); what it refuses goes to fhir.resources, so `validate` always
gives the library's outcome. Checked on every valid resource of the scenarios and on hostile
variants of them, and on the shapes the library treats specially.
"""
from __future__ import annotations

import copy

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from plugin import KNOWN_TYPES, fhir_validation
from plugin.record import _MODELS
from tests.fuzz.conftest import FUZZ_EXAMPLES
from tests.fuzz.test_hostile_bodies import BASES, json_values, paths, prefetch_resources, replaced
from tests.fuzz.test_validated_elements import outcome

RESOURCES = [r for hook in BASES for r in prefetch_resources(BASES[hook])] + [BASES["claim-prepare"]["context"]["claim"]]


def same_model(a, b) -> bool:
    return type(a) is type(b) and a.model_dump() == b.model_dump() and a.model_fields_set == b.model_fields_set


def assert_agrees(model_cls, raw):
    try:
        compiled = fhir_validation.compiled(model_cls, copy.deepcopy(raw))
    except (ValidationError, TypeError, ValueError):
        compiled = None
    library = outcome(lambda cls, r: cls.model_validate(copy.deepcopy(r)), model_cls, raw)
    if compiled is not None:
        assert library[0] == "ok", f"compiled accepted what fhir.resources refuses: {library[1]}"
        assert same_model(compiled, model_cls.model_validate(copy.deepcopy(raw)))
    assert outcome(fhir_validation.validate, model_cls, raw) == library


def test_every_type_the_rules_read_is_compiled():
    # A fhir_core whose schemas this module no longer recognises would silently make it slow.
    assert fhir_validation.compiled_types() == KNOWN_TYPES


@pytest.mark.parametrize("raw", RESOURCES, ids=lambda r: f"{r['resourceType']}/{r.get('id')}")
def test_valid_resources_are_accepted_compiled_with_the_same_model(raw):
    model_cls = _MODELS[raw["resourceType"]]
    assert same_model(fhir_validation.compiled(model_cls, raw), model_cls.model_validate(raw))


@settings(max_examples=FUZZ_EXAMPLES * 4, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data(), value=json_values)
def test_broken_resources_get_the_library_verdict(data, value):
    raw = data.draw(st.sampled_from(RESOURCES))
    where = data.draw(st.sampled_from([p for p in paths(raw) if p and p[0] != "resourceType"]))
    assert_agrees(_MODELS[raw["resourceType"]], replaced(raw, where, value))


PROCEDURE = {"resourceType": "Procedure", "id": "p1", "status": "completed",
             "code": {"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": "97124"}]},
             "subject": {"reference": "Patient/1"}, "performedDateTime": "2026-03-02"}

SPECIAL_SHAPES = {
    "null in a list of elements": {"note": [None]},
    "an element given as JSON text": {"code": '{"text": "massage"}'},
    "a resourceType inside an element": {"code": {"resourceType": "CodeableConcept", "text": "massage"}},
    "the resource_type spelling": {"resource_type": "Procedure"},
    "two values for a choice element": {"performedString": "last week"},
    "no value for a required element": {"status": None},
    "a required element given by its extension only": {"status": None, "_status": {"extension": [
        {"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason", "valueCode": "unknown"}]}},
    "a primitive's extension": {"_status": {"extension": [{"url": "http://example.org/x", "valueString": "y"}]}},
    "a contained resource": {"contained": [{"resourceType": "Practitioner", "id": "t"}],
                             "performer": [{"actor": {"reference": "#t"}}]},
    "an invalid contained resource": {"contained": [{"resourceType": "Practitioner", "id": "t", "gender": 5}]},
    "an unknown element": {"colour": "blue"},
    "an element of the wrong kind": {"subject": ["Patient/1"]},
    "a bad date": {"performedDateTime": "2026-02-30"},
    "another resourceType": {"resourceType": "Observation"},
}


@pytest.mark.parametrize("change", SPECIAL_SHAPES.values(), ids=list(SPECIAL_SHAPES))
def test_shapes_the_library_treats_specially_get_its_verdict(change):
    raw = {k: v for k, v in {**PROCEDURE, **change}.items() if v is not None}
    if "performedString" in change:
        raw["performedDateTime"] = PROCEDURE["performedDateTime"]
    assert_agrees(_MODELS["Procedure"], raw)
