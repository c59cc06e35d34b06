"""The compiled validator (plugin/fhir_validation.py) must decide exactly as fhir.resources does.

Whatever the compiled validator accepts on its own, fhir.resources accepts too, with an equal
model (class, values, fields set, nested classes); what it refuses goes to fhir.resources, so
`validate` always gives the library's outcome. Checked on every valid resource of the scenarios,
on hostile variants of them (values replaced, keys inserted anywhere), on the shapes the library
treats specially, on element models handed in (as plugin/record.py's memory does), and on deep
nesting.
"""
from __future__ import annotations

import collections.abc
import copy
import json

import fhir.resources.procedure
import pytest
from fhir.resources.R4B.codeableconcept import CodeableConcept
from fhir.resources.R4B.coding import Coding
from fhir.resources.R4B.duration import Duration
from fhir.resources.R4B.extension import Extension
from fhir.resources.R4B.procedure import Procedure
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from plugin import KNOWN_TYPES, fhir_validation
from plugin.record import _MODELS, ValidatedElements
from tests.fuzz.conftest import FUZZ_EXAMPLES
from tests.fuzz.test_hostile_bodies import BASES, json_values, paths, prefetch_resources, replaced
from tests.fuzz.test_validated_elements import outcome

RESOURCES = [r for hook in BASES for r in prefetch_resources(BASES[hook])] + [BASES["claim-prepare"]["context"]["claim"]]


def classes(value):
    """The class of every value inside a model, element by element (nested models included)."""
    if isinstance(value, BaseModel):
        return type(value), {name: classes(getattr(value, name)) for name in type(value).model_fields}
    if isinstance(value, list):
        return [classes(item) for item in value]
    return type(value)


def same_model(a, b) -> bool:
    return (type(a) is type(b) and a.model_dump() == b.model_dump() and a.model_fields_set == b.model_fields_set
            and classes(a) == classes(b))


def verdict(validate, model_cls, raw):
    try:
        return outcome(validate, model_cls, raw)
    except (AttributeError, KeyError) as error:  # fhir.resources fails so on a few malformed shapes
        return "crash", type(error).__name__


def assert_agrees(model_cls, raw):
    try:
        compiled = fhir_validation.compiled(model_cls, copy.deepcopy(raw))
    except (ValidationError, TypeError, ValueError, AttributeError, KeyError):
        compiled = None  # refused (the last two: the library's code kept for contained resources failed)
    library = verdict(lambda cls, r: cls.model_validate(copy.deepcopy(r)), model_cls, raw)
    if compiled is not None:
        assert library[0] == "ok", f"compiled accepted what fhir.resources refuses: {library[1]}"
        assert same_model(compiled, model_cls.model_validate(copy.deepcopy(raw)))
    # fhir.resources' own failures on malformed shapes reach the caller as a refusal (TypeError)
    assert verdict(fhir_validation.validate, model_cls, raw) == (library if library[0] != "crash" else ("invalid", "TypeError"))


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


class Mapping(collections.abc.Mapping):
    """A mapping that is not a dict (fhir.resources takes only dicts, JSON text and models)."""

    def __init__(self, items):
        self.items_ = dict(items)

    def __getitem__(self, key):
        return self.items_[key]

    def __iter__(self):
        return iter(self.items_)

    def __len__(self):
        return len(self.items_)


class SameConcept(CodeableConcept):
    pass


class OtherConcept(CodeableConcept):
    __resource_type__ = "OtherConcept"


def mutated(model, **values):
    model.__dict__.update(values)  # past validate_assignment, as a careless caller could
    return model


def renamed(model, resource_type):
    model.__resource_type__ = resource_type  # an instance attribute: the class keeps its own
    return model


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
    "a contained resource of no known type": {"contained": [{"resourceType": "NoSuchResource", "id": "t"}]},
    "a primitive's extension given as JSON text of a list": {"_status": "[1]"},
    "an unknown element": {"colour": "blue"},
    "an element of the wrong kind": {"subject": ["Patient/1"]},
    "a bad date": {"performedDateTime": "2026-02-30"},
    "another resourceType": {"resourceType": "Observation"},
    "null among the contained resources": {"contained": [None]},
    "a primitive's extension that is not an object": {"_status": "unknown"},
    "a primitive's extension given as a list": {"_status": [None]},
    "a primitive's extension given as JSON text": {"_status": json.dumps({"extension": [
        {"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason", "valueCode": "unknown"}]})},
    "an element given as a mapping that is not a dict": {"code": Mapping({"text": "massage"})},
    "an element model of another class": {"code": Coding(code="97124")},
    "an element model of a subclass": {"code": SameConcept(text="massage")},
    "an element model of a subclass naming another type": {"code": OtherConcept(text="massage")},
    "a Duration model where a Quantity is expected": {"extension": [
        {"url": "http://example.org/minutes", "valueQuantity": Duration(value=30, unit="min")}]},
    "an element model built without validation": {"code": CodeableConcept.model_construct(text=5)},
    "an element model holding two values of one choice": {"extension": [
        Extension.model_construct(url="http://example.org/x", valueString="a", valueInteger=1)]},
    "a mutated element model": {"code": mutated(CodeableConcept(text="massage"), text=["not", "a", "string"])},
    "an element model renamed to another type": {"code": renamed(CodeableConcept(text="massage"), "Coding")},
}


@pytest.mark.parametrize("change", SPECIAL_SHAPES.values(), ids=list(SPECIAL_SHAPES))
def test_shapes_the_library_treats_specially_get_its_verdict(change):
    raw = {k: v for k, v in {**PROCEDURE, **change}.items() if v is not None}
    if "performedString" in change:
        raw["performedDateTime"] = PROCEDURE["performedDateTime"]
    assert_agrees(_MODELS["Procedure"], raw)


class LocalProcedure(Procedure):
    pass


LocalProcedure.__name__ = "Procedure"  # a subclass that keeps the name


def test_a_model_class_that_only_shares_the_name_gets_its_own_verdict():
    for model_cls in (fhir.resources.procedure.Procedure, LocalProcedure):  # R5's, and a subclass
        assert_agrees(model_cls, PROCEDURE)


def nested_extensions(levels: int) -> dict:
    """A Procedure whose extension nests `levels` element levels deep (extensions of extensions)."""
    extension = {"url": "http://example.org/x", "valueString": "innermost"}
    for _ in range(levels - 1):
        extension = {"url": "http://example.org/x", "extension": [extension]}
    return {**PROCEDURE, "extension": [extension]}


def nested_identifiers(levels: int) -> dict:
    """A Procedure whose identifier nests `levels` element levels deep (Identifier.assigner is a
    Reference, Reference.identifier an Identifier: no list, no extension on the way)."""
    element: dict = {"value": "innermost"} if levels % 2 else {"display": "innermost"}
    for level in range(levels - 1, 0, -1):
        element = {"value": "x", "assigner": element} if level % 2 else {"display": "x", "identifier": element}
    return {**PROCEDURE, "identifier": [element]}


@pytest.mark.parametrize("nested", [nested_extensions, nested_identifiers])
def test_nesting_is_compiled_only_as_deep_as_the_library_surely_validates(nested):
    # fhir.resources spends ~7 Python frames per element level: it fails (RecursionError) at ~130
    # levels from a shallow stack, sooner from a deep one, where pydantic-core alone goes to 254.
    with pytest.raises(RecursionError):
        _MODELS["Procedure"].model_validate(nested(200))
    limit = fhir_validation.MAX_NESTING
    assert_agrees(_MODELS["Procedure"], nested(limit))
    assert fhir_validation.compiled(_MODELS["Procedure"], nested(limit))
    for levels in (limit + 1, 150, 200, 1000):
        with pytest.raises(ValidationError):
            fhir_validation.compiled(_MODELS["Procedure"], nested(levels))


# -- insertions: new keys anywhere, not only new values at existing paths -------------------------
KEY_NAMES = sorted({key for raw in RESOURCES for path in paths(raw) for key in path if isinstance(key, str)})
SPECIAL_KEYS = ["resourceType", "resource_type", "fhir_comments", "contained", "extension", "modifierExtension",
                "performedString", "performedPeriod", "effectivePeriod", "valueQuantity", "valueString", "_value"]


def at(node, path):
    for step in path:
        node = node[step]
    return node


def models_in(model):
    """Every element model inside a model."""
    for name in type(model).model_fields:
        for value in (lambda v: v if isinstance(v, list) else [v])(getattr(model, name)):
            if isinstance(value, BaseModel):
                yield value
                yield from models_in(value)


ELEMENTS = [at(raw, path) for raw in RESOURCES[:8] for path in paths(raw) if isinstance(at(raw, path), (dict, list))]
ELEMENT_MODELS = [m for raw in RESOURCES for m in models_in(_MODELS[raw["resourceType"]].model_validate(raw))]
hostile_values = (json_values | st.just([None]) | st.just({}) | st.just([])
                  | st.sampled_from(ELEMENT_MODELS) | st.sampled_from(ELEMENT_MODELS).map(lambda m: [m])
                  | st.sampled_from(ELEMENTS)                                    # an element moved elsewhere
                  | st.sampled_from(ELEMENTS).map(json.dumps)                    # or given as JSON text
                  | st.sampled_from(ELEMENTS).map(lambda e: [e, None])           # or in a list with a null
                  | st.sampled_from(RESOURCES[:8]).map(lambda r: [r]))           # resources, as contained


MEMORY = ValidatedElements()  # shared by the examples: what one remembers, the next may reuse
for resource in RESOURCES:
    MEMORY.validate(_MODELS[resource["resourceType"]], resource)


@settings(max_examples=FUZZ_EXAMPLES * 4, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data(), value=hostile_values)
def test_inserted_keys_get_the_library_verdict(data, value):
    raw = data.draw(st.sampled_from(RESOURCES))
    where = data.draw(st.sampled_from([p for p in paths(raw) if isinstance(at(raw, p), dict)]))
    siblings = [k for k in at(raw, where) if not k.startswith("_")]
    key = data.draw(st.sampled_from(SPECIAL_KEYS + KEY_NAMES) | st.sampled_from(siblings or ["id"]).map(lambda k: "_" + k))
    changed = replaced(raw, where + (key,), copy.deepcopy(value))
    model_cls = _MODELS[raw["resourceType"]]
    assert_agrees(model_cls, changed)
    # and through the element memory of plugin/record.py, which hands validated models down
    assert verdict(MEMORY.validate, model_cls, changed) == verdict(fhir_validation.validate, model_cls, changed)

