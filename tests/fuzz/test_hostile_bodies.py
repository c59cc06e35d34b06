"""Hostile bodies the schema cannot describe: broken JSON, deep nesting, huge strings, wrong
types anywhere, malformed FHIR in context and prefetch, duplicate ids, giant bundles.

Each property starts from a valid request built with tests/builders.Visit and breaks it.
The contract is conftest.check_answer: no 5xx, a clear OperationOutcome on 4xx, no hang.
"""
from __future__ import annotations

import copy
import json
import uuid
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.builders import ICD10, Visit, concept
from tests.fuzz.conftest import FUZZ_EXAMPLES, SERVICES, post

HOOKS = {"order-sign": SERVICES[0], "claim-prepare": SERVICES[1]}
FHIR_TYPES = ("Patient", "Encounter", "Procedure", "Observation", "Condition", "Goal", "CarePlan",
              "ServiceRequest", "Claim", "Coverage", "Organization", "Practitioner", "PractitionerRole",
              "Provenance", "DocumentReference", "Bundle", "OperationOutcome", "Basic", "Binary")
FUZZ = settings(max_examples=FUZZ_EXAMPLES, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])


def base_request(hook: str) -> dict:
    """A small valid request that reaches the rules (a 97124 order or claim line, history, payer)."""
    visit = Visit()
    therapist = visit.practitioner()
    visit.procedure("97124", minutes=23, performer=therapist, note="Effleurage to lumbar paraspinals.")
    visit.procedure("97110", minutes=15, performer=therapist)
    visit.procedure("97124", minutes=20, day="2026-02-23")
    visit.condition("M62.830")
    visit.claim_line("97124", units=2, modifiers=("GP",))
    visit.claim_line("97110", units=1)
    visit.payer("Medicare")
    visit.order("97124", reasonCode=[concept("M62.830", ICD10)])
    return visit.request(hook)


BASES = {hook: base_request(hook) for hook in HOOKS}
hooks = st.sampled_from(sorted(HOOKS))
json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40)
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=12), inner, max_size=4), max_leaves=20)


def paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path (keys and indexes) inside a JSON value."""
    out = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            out += paths(value, prefix + (key,))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out += paths(value, prefix + (i,))
    return out


def replaced(body: dict, path: tuple, value: Any) -> dict:
    out = copy.deepcopy(body)
    if not path:
        return value
    node = out
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    return out


def prefetch_resources(body: dict) -> list[dict]:
    return [e["resource"] for v in body["prefetch"].values() if v.get("resourceType") == "Bundle"
            for e in v["entry"]]


def send(hook: str, body: Any, kind: str):
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return post(HOOK_CLIENT.client, f"/cds-services/{HOOKS[hook]}", data, kind)


class _Client:  # set by the autouse fixture: hypothesis @given cannot take function fixtures
    client = None


HOOK_CLIENT = _Client()


def test_valid_bases_reach_the_rules(fuzz_client):
    HOOK_CLIENT.client = fuzz_client
    for hook in HOOKS:
        status, body = send(hook, BASES[hook], "valid base")
        assert status == 200 and body["cards"], (hook, body)


# -- broken JSON and absurd shapes ------------------------------------------------------------
@FUZZ
@given(hook=hooks, cut=st.floats(0, 1, exclude_max=True), junk=st.binary(max_size=64))
def test_truncated_or_garbled_json(fuzz_client, hook, cut, junk):
    HOOK_CLIENT.client = fuzz_client
    text = json.dumps(BASES[hook]).encode()
    status, _ = send(hook, text[: int(len(text) * cut)] + junk, "broken json")
    assert status == 400


@FUZZ
@given(hook=hooks, data=st.binary(max_size=512) | st.text(max_size=200).map(str.encode))
def test_arbitrary_bytes(fuzz_client, hook, data):
    HOOK_CLIENT.client = fuzz_client
    send(hook, data, "arbitrary bytes")


@FUZZ
@given(hook=hooks, depth=st.integers(1, 200_000), opener=st.sampled_from(["[", '{"a":']))
def test_deeply_nested_body(fuzz_client, hook, depth, opener):
    HOOK_CLIENT.client = fuzz_client
    closer = "]" if opener == "[" else "}"
    send(hook, opener * depth + "1" + closer * depth, "deep nesting (body)")


@FUZZ
@given(hook=hooks, depth=st.integers(1, 600), data=st.data(),
       kind=st.sampled_from(["extension", "list", "object"]))
def test_deep_nesting_inside_resources(fuzz_client, hook, depth, data, kind):
    """Nesting the JSON parser accepts (up to ~990 levels), where the FHIR validation walks it.

    Built as text: json.dumps itself cannot encode what the service must survive.
    """
    HOOK_CLIENT.client = fuzz_client
    body = BASES[hook]
    where = data.draw(st.sampled_from([p for p in paths(body) if len(p) >= 3]))
    nested = '{"url":"http://example.org/x","valueString":"v"}' if kind == "extension" else "1"
    for _ in range(depth):
        nested = {"extension": '{"url":"http://example.org/x","extension":[%s]}',
                  "list": "[%s]", "object": '{"a":%s}'}[kind] % nested
    text = json.dumps(replaced(body, where, "__NESTED__")).replace('"__NESTED__"', nested)
    send(hook, text, "deep nesting (resource)")


# -- wrong types, huge strings, wrong hook names -------------------------------------------
@FUZZ
@given(hook=hooks, data=st.data(), value=json_values)
def test_any_value_anywhere(fuzz_client, hook, data, value):
    HOOK_CLIENT.client = fuzz_client
    where = data.draw(st.sampled_from(paths(BASES[hook])))
    send(hook, replaced(BASES[hook], where, value), "wrong type anywhere")


@FUZZ
@given(hook=hooks, data=st.data(), size=st.integers(1_000, 4_000_000), char=st.characters())
def test_huge_strings(fuzz_client, hook, data, size, char):
    HOOK_CLIENT.client = fuzz_client
    body = BASES[hook]
    where = data.draw(st.sampled_from([p for p in paths(body) if isinstance(_get(body, p), str)]))
    send(hook, replaced(body, where, char * size), "huge string")


@FUZZ
@given(hook=hooks, name=st.text(max_size=30) | st.sampled_from(["order-select", "Order-Sign", "claim_prepare",
                                                                  "patient-view", " order-sign", ""]))
def test_wrong_hook_names(fuzz_client, hook, name):
    HOOK_CLIENT.client = fuzz_client
    status, _ = send(hook, {**BASES[hook], "hook": name}, "wrong hook name")
    assert status == 400


def _get(node: Any, path: tuple) -> Any:
    for step in path:
        node = node[step]
    return node


# -- malformed FHIR in context and prefetch -------------------------------------------------
fhir_like = st.fixed_dictionaries(
    {"resourceType": st.sampled_from(FHIR_TYPES) | json_scalars},
    optional={"id": st.text(max_size=20) | json_scalars, "status": json_values, "code": json_values,
              "subject": json_values, "performedPeriod": json_values, "item": json_values,
              "entry": json_values, "meta": json_values, "contained": st.lists(json_values, max_size=3),
              "extension": json_values, "effectiveDateTime": json_values})
bad_dates = st.sampled_from(["2026-13-01", "2026-02-30", "2026-02-03T25:61:00Z", "yesterday", "", "0000-00-00",
                             "2026-02-03T10:00:00+99:00", "99999-01-01", "2026-W05", "2026-02-03T10:00"])


@FUZZ
@given(hook=hooks, resources=st.lists(fhir_like, max_size=8), key=st.sampled_from(
    ["procedures", "conditions", "patient", "encounter", "coverage", "unknownKey"]))
def test_malformed_resources_in_prefetch(fuzz_client, hook, resources, key):
    HOOK_CLIENT.client = fuzz_client
    body = copy.deepcopy(BASES[hook])
    body["prefetch"][key] = {"resourceType": "Bundle", "type": "searchset",
                             "entry": [{"resource": r} for r in resources]}
    send(hook, body, "malformed prefetch FHIR")


@FUZZ
@given(hook=hooks, resource=fhir_like, single=st.booleans())
def test_malformed_context_resources(fuzz_client, hook, resource, single):
    HOOK_CLIENT.client = fuzz_client
    body = copy.deepcopy(BASES[hook])
    if hook == "claim-prepare":
        body["context"]["claim"] = {**resource, "resourceType": "Claim"} if single else resource
    else:
        body["context"]["draftOrders"]["entry"].append({"resource": resource})
    send(hook, body, "malformed context FHIR")


@FUZZ
@given(hook=hooks, date=bad_dates, data=st.data())
def test_invalid_dates(fuzz_client, hook, date, data):
    HOOK_CLIENT.client = fuzz_client
    body = BASES[hook]
    dated = [p for p in paths(body) if p and isinstance(p[-1], str)
             and p[-1] in ("start", "end", "servicedDate", "authoredOn", "performedDateTime", "created",
                           "birthDate", "outcomeTimestamp")]
    send(hook, replaced(body, data.draw(st.sampled_from(dated)), date), "invalid date")


@FUZZ
@given(hook=hooks, copies=st.integers(2, 5), field=st.sampled_from(["status", "code", "performedPeriod"]))
def test_duplicate_ids_with_other_content(fuzz_client, hook, copies, field):
    HOOK_CLIENT.client = fuzz_client
    body = copy.deepcopy(BASES[hook])
    procedure = next(r for r in prefetch_resources(body) if r["resourceType"] == "Procedure")
    twins = [{**procedure, field: {"oops": i}} for i in range(copies)]
    body["prefetch"]["procedures"]["entry"] += [{"resource": t} for t in twins]
    send(hook, body, "duplicate ids")


@settings(max_examples=max(2, FUZZ_EXAMPLES // 4), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(hook=hooks, count=st.integers(1_000, 20_000), distinct=st.booleans())
def test_giant_bundles(fuzz_client, hook, count, distinct):
    HOOK_CLIENT.client = fuzz_client
    body = copy.deepcopy(BASES[hook])
    entry = {"resourceType": "Procedure", "status": "completed", "code": concept("97124"),
             "subject": {"reference": "Patient/pat-1"}, "performedDateTime": "2026-01-05"}
    body["prefetch"]["procedures"]["entry"] += [
        {"resource": {**entry, "id": f"g{i}" if distinct else "same"}} for i in range(count)]
    send(hook, body, "giant bundle")


# -- feedback ---------------------------------------------------------------------------------
def feedback_item() -> dict:
    return {"card": str(uuid.uuid4()), "outcome": "overridden", "outcomeTimestamp": "2026-03-02T15:00:00Z",
            "overrideReason": {"reason": {"system": "http://example.org", "code": "x"}, "userComment": "ok"}}


@FUZZ
@given(service=st.sampled_from(SERVICES + ("nope", "massage-97124-order-check/../x")),
       data=st.data(), value=json_values, items=st.integers(0, 600))
def test_feedback_with_anything(fuzz_client, service, data, value, items):
    HOOK_CLIENT.client = fuzz_client
    body = {"feedback": [feedback_item() for _ in range(min(items, 3) if items <= 500 else items)]}
    where = data.draw(st.sampled_from(paths(body)))
    post(fuzz_client, f"/cds-services/{service}/feedback", json.dumps(replaced(body, where, value)), "feedback")


@FUZZ
@given(data=st.binary(max_size=256), method=st.sampled_from(["GET", "PUT", "DELETE", "PATCH", "POST"]),
       path=st.sampled_from(["/cds-services", "/healthz", "/cds-services/x/y/z", f"/cds-services/{SERVICES[0]}",
                             f"/cds-services/{SERVICES[1]}/feedback"]))
def test_any_method_on_any_route(fuzz_client, data, method, path):
    import time

    from tests.fuzz.conftest import check_answer
    started = time.perf_counter()
    response = fuzz_client.open(path, method=method, data=data, content_type="application/json")
    check_answer(response.status_code, response.get_json(silent=True), time.perf_counter() - started,
                 "any method")
