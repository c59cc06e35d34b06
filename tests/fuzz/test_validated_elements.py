"""The validated-element memory in plugin/record.py must decide exactly as plain validation does.

For valid resources and for every kind of breakage, validating through the memory (warm with
the same and similar elements) accepts the same inputs, rejects the same inputs, and gives
the same model content as fhir.resources' own model_validate.
"""
from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from plugin.fhir_validation import MAX_NESTING
from plugin.record import _MODELS, ValidatedElements
from tests.fuzz.conftest import FUZZ_EXAMPLES
from tests.fuzz.test_hostile_bodies import BASES, json_values, paths, prefetch_resources, replaced

RESOURCES = [r for hook in BASES for r in prefetch_resources(BASES[hook])] + [BASES["claim-prepare"]["context"]["claim"]]


def outcome(validate, model_cls, raw):
    try:
        return "ok", validate(model_cls, raw).model_dump(mode="json")
    except ValidationError as error:
        return "invalid", sorted(tuple(e["loc"]) for e in error.errors())
    except (TypeError, ValueError) as error:
        return "invalid", type(error).__name__


@settings(max_examples=FUZZ_EXAMPLES * 4, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data(), value=json_values, warm=st.booleans())
def test_memory_decides_like_plain_validation(data, value, warm):
    memory = ValidatedElements()
    if warm:  # every element of every valid resource remembered first
        for raw in RESOURCES:
            memory.validate(_MODELS[raw["resourceType"]], raw)
    raw = data.draw(st.sampled_from(RESOURCES))
    where = data.draw(st.sampled_from([p for p in paths(raw) if p and p[0] != "resourceType"]))
    broken = replaced(raw, where, value)
    model_cls = _MODELS[raw["resourceType"]]
    plain = outcome(lambda cls, r: cls.model_validate(copy.deepcopy(r)), model_cls, broken)
    assert outcome(memory.validate, model_cls, broken) == plain
    assert outcome(memory.validate, model_cls, broken) == plain  # and again, from memory


def test_a_remembered_resource_is_reused_and_a_changed_one_is_not():
    memory = ValidatedElements()
    raw = next(r for r in RESOURCES if r["resourceType"] == "Procedure" and "performedPeriod" in r)
    first = memory.validate(_MODELS["Procedure"], raw)
    assert memory.validate(_MODELS["Procedure"], copy.deepcopy(raw)) is first
    changed = copy.deepcopy(raw)
    changed["performedPeriod"]["start"] = "2026-13-45T09:00:00Z"  # the remembered Period, broken
    try:
        memory.validate(_MODELS["Procedure"], changed)
    except ValidationError as error:
        assert [e["loc"][:2] for e in error.errors()] == [("performedPeriod", "start")]
    else:
        raise AssertionError("a broken Period passed because its valid twin was remembered")


def test_memory_stays_within_its_bound():
    memory = ValidatedElements(max_entries=50)
    for raw in RESOURCES:
        memory.validate(_MODELS[raw["resourceType"]], raw)
    assert len(memory._models) <= 50


def test_memory_accepts_no_nesting_plain_validation_cannot():
    # A remembered element's model hides its depth; the memory keeps each one's height to see it.
    procedure = {"resourceType": "Procedure", "id": "deep", "status": "completed", "subject": {"reference": "Patient/p"}}
    inner = {"url": "http://example.org/x", "valueString": "innermost"}
    for _ in range(80):
        inner = {"url": "http://example.org/x", "extension": [inner]}
    outer = inner
    for _ in range(80):
        outer = {"url": "http://example.org/x", "extension": [outer]}
    memory = ValidatedElements()
    memory.validate(_MODELS["Procedure"], {**procedure, "extension": [inner]})
    with pytest.raises(RecursionError):  # 160 levels: beyond fhir.resources from any stack
        _MODELS["Procedure"].model_validate({**procedure, "extension": [outer]})
    try:
        memory.validate(_MODELS["Procedure"], {**procedure, "extension": [outer]})
    except RecursionError:
        return
    raise AssertionError("the memory accepted a resource nested deeper than plain validation can go")


def _extension_chain(levels: int, inner: dict) -> dict:
    for _ in range(levels):
        inner = {"url": "http://example.org/x", "extension": [inner]}
    return inner


def _innermost_at(model: Any, levels: int) -> Any:
    for _ in range(levels):
        model = model.extension[0]
    return model


@pytest.mark.parametrize("wraps, reused", [(10, True), (MAX_NESTING - 41, True), (MAX_NESTING - 40, False)])
def test_a_remembered_element_stands_in_only_while_the_whole_stays_within_the_compiled_depth(wraps, reused):
    procedure = {"resourceType": "Procedure", "id": "deep", "status": "completed", "subject": {"reference": "Patient/p"}}
    chain = _extension_chain(40, {"url": "http://example.org/x", "valueString": "innermost"})   # 41 levels
    memory = ValidatedElements()
    first = memory.validate(_MODELS["Procedure"], {**procedure, "extension": [chain]})
    wrapped = memory.validate(_MODELS["Procedure"], {**procedure, "extension": [_extension_chain(wraps, chain)]})
    assert (_innermost_at(wrapped.extension[0], wraps) is first.extension[0]) is reused
    plain = _MODELS["Procedure"].model_validate({**procedure, "extension": [_extension_chain(wraps, chain)]})
    assert wrapped == plain
