"""Inputs the fuzz suite once found answered with a 5xx, pinned so they stay fixed."""
from __future__ import annotations

import json

from cds_hooks.record_from_hook import record_from_hook
from tests.fuzz.conftest import post
from tests.fuzz.test_hostile_bodies import BASES, HOOKS, prefetch_resources


def nested_extensions(depth: int) -> str:
    text = '{"url":"http://example.org/x","valueString":"v"}'
    for _ in range(depth):
        text = '{"url":"http://example.org/x","extension":[' + text + ']}'
    return text


def test_deeply_nested_resource_is_skipped_and_reported_not_a_500(fuzz_client):
    # fhir.resources validates nested extensions recursively; ~150 levels exhausted the stack.
    procedure = json.loads('{"resourceType":"Procedure","id":"deep","status":"completed",'
                           '"subject":{"reference":"Patient/p"},"extension":[' + nested_extensions(300) + ']}')
    record = record_from_hook("claim-prepare", {}, {"procedures": procedure})
    assert record.all("Procedure") == []
    assert [(s.where, s.reason) for s in record.skipped] == [
        ("Procedure/deep", "resource: nested too deeply to validate")]

    for hook, service in HOOKS.items():
        body = json.loads(json.dumps(BASES[hook]))
        next(r for r in prefetch_resources(body) if r["resourceType"] == "Procedure")["extension"] = "X"
        text = json.dumps(body).replace('"X"', "[" + nested_extensions(300) + "]")
        status, answer = post(fuzz_client, f"/cds-services/{service}", text, "regression")
        assert status == 200, answer


def test_prefetch_bundle_entry_that_is_not_an_array_is_a_clear_400(fuzz_client):
    # plugin/record.iter_resources iterated Bundle.entry as given: a number raised TypeError (500).
    for value in (5, 1.5, True):
        body = json.loads(json.dumps(BASES["claim-prepare"]))
        body["prefetch"]["procedures"]["entry"] = value
        status, answer = post(fuzz_client, f"/cds-services/{HOOKS['claim-prepare']}", json.dumps(body),
                              "regression")
        assert status == 400, answer
        assert answer["issue"][0]["expression"] == ["prefetch.procedures.entry"]
    record = record_from_hook("claim-prepare", {}, {"procedures": {"resourceType": "Bundle", "entry": 5}})
    assert record.all("Procedure") == []


def test_unparsable_fhir_server_url_is_a_400(fuzz_client):
    # urlsplit raised ValueError for an unclosed IPv6 bracket before the check could run.
    for server in ("http://[::1", "http://host:port/fhir"):
        body = json.loads(json.dumps(BASES["claim-prepare"]))
        body["fhirServer"] = server
        status, answer = post(fuzz_client, f"/cds-services/{HOOKS['claim-prepare']}", json.dumps(body),
                              "regression")
        assert status == 400 and answer["issue"][0]["expression"] == ["fhirServer"]


def test_feedback_time_pushed_out_of_range_by_its_offset_is_a_400(fuzz_client):
    # astimezone raised OverflowError for year 1 with a positive offset.
    body = {"feedback": [{"card": "c", "outcome": "overridden",
                          "overrideReason": {"userComment": "x"},
                          "outcomeTimestamp": "0001-01-01T00:00:00+01:00"}]}
    status, answer = post(fuzz_client, f"/cds-services/{HOOKS['claim-prepare']}/feedback",
                          json.dumps(body), "regression")
    assert status == 400 and "outcomeTimestamp" in answer["issue"][0]["expression"][0]


def test_malformed_elements_of_a_claim_are_a_clear_400(fuzz_client):
    # The compiled validator (plugin/fhir_validation.py) crashed on a primitive's extension that is
    # not an object and accepted a null contained resource, which the reader then tripped on; and
    # fhir.resources itself raised AttributeError / KeyError on the last two (500s).
    for change in ({"_status": "unknown"}, {"_status": [None]}, {"contained": [None]},
                   {"_status": "[1]"}, {"contained": [{"resourceType": "NoSuchResource", "id": "x"}]}):
        body = json.loads(json.dumps(BASES["claim-prepare"]))
        body["context"]["claim"].update(change)
        status, answer = post(fuzz_client, f"/cds-services/{HOOKS['claim-prepare']}", json.dumps(body),
                              "regression")
        assert status == 400, (change, answer)
        assert answer["issue"][0]["expression"] == ["context.claim"]


def test_nesting_built_up_through_remembered_elements_is_skipped_not_a_500():
    # The element memory (plugin/record.py) hands validation the model of an element it validated
    # before, so validation no longer sees how deep the JSON goes: each resource nesting 60 levels
    # deeper than the last passed, until the walk looking for modifierExtension ran out of stack.
    procedure = {"resourceType": "Procedure", "id": "deeper", "status": "completed", "subject": {"reference": "Patient/p"}}
    extension = {"url": "http://example.org/x", "valueString": "modifierExtension"}  # the word makes that walk go all the way
    for _ in range(12):
        for _ in range(60):
            extension = {"url": "http://example.org/x", "extension": [extension]}
        record = record_from_hook("claim-prepare", {}, {"procedures": {**procedure, "extension": [extension]}})
    assert record.all("Procedure") == []  # 720 levels
    assert [(s.where, s.reason) for s in record.skipped] == [("Procedure/deeper", "resource: nested too deeply to validate")]
