"""Field data in forms beyond issue 7's single transforms, combined as EHRs and FHIR servers send
them (tests/field/hostile_transforms.py), and resources the service must not read silently:
one that is skipped, or one whose modifierExtension it does not understand (FHIR R4 §2.4)."""
from __future__ import annotations

import copy
import re

import pytest

from cds_hooks import fhir_json
from cds_hooks.record_from_hook import record_from_hook
from plugin import massage_procedures, rule
from tests.field.conftest import SCENARIOS, codes, fixture_request
from tests.field.hostile_transforms import (
    HOSTILE,
    provenance_in_its_target,
    server_spelled_otherwise,
    versions_and_far_offsets,
)
from tests.field.test_field_kinds import expected_codes, fixture, resources
from tests.field.transforms import effects

CASES = [(folder, name) for folder in SCENARIOS for name in HOSTILE]


@pytest.mark.parametrize("folder,transform", CASES, ids=[f"{f.name}-{t}" for f, t in CASES])
def test_same_cards_in_combined_forms(folder, transform, send):
    original = fixture_request(folder)
    changed = HOSTILE[transform](original)
    assert fhir_json.dumps(changed) != fhir_json.dumps(original)
    want = effects(*send(original), original)
    assert want[0] == 200
    assert effects(*send(changed), changed) == want


@pytest.mark.parametrize("folder", SCENARIOS, ids=lambda p: p.name)
def test_a_server_base_spelled_otherwise_is_the_same_server(folder, send):
    """Scheme and host are case-insensitive and `:443` is https's port (RFC 3986 §6.2.3): the
    references name this server's resources. Suggestions echo a cited reference as written, so
    card codes and indicators are compared."""
    original = fixture_request(folder)
    changed = server_spelled_otherwise(original)
    assert fhir_json.dumps(changed) != fhir_json.dumps(original)
    status, answer = send(changed)
    want_status, want = send(original)
    assert status == want_status == 200
    assert sorted((c["source"]["topic"]["code"], c["indicator"]) for c in answer["cards"]) == \
        sorted((c["source"]["topic"]["code"], c["indicator"]) for c in want["cards"])


def _signs_a_procedure(folder) -> bool:
    """A Provenance on a Procedure (not only the plan of care's certification) rides in the request."""
    text = (folder / "request.json").read_text()
    return '"Provenance"' in text and re.search(r'"target": \[\s*\{\s*"reference": "Procedure/', text) is not None


SIGNED = [f for f in SCENARIOS if _signs_a_procedure(f)]


@pytest.mark.parametrize("folder", SIGNED, ids=lambda p: p.name)
def test_a_provenance_contained_in_its_procedure_signs_it(folder, send):
    """A Procedure carrying its own Provenance (target `#`, the container) is signed as when the
    Provenance stands on its own: same cards, signed or not, by whoever signed."""
    original = fixture_request(folder)
    changed = provenance_in_its_target(original)
    assert fhir_json.dumps(changed) != fhir_json.dumps(original)
    assert effects(*send(changed), changed) == effects(*send(original), original)


def test_the_latest_version_of_a_resource_is_read(send):
    """A Bundle holding a Goal twice (bdl-7: same id, other versions): the later one by
    lastUpdated as an instant is the patient's goal, wherever it stands in the Bundle."""
    body = versions_and_far_offsets(fixture("s01"))
    goals = resources(body, "goals", "Goal")
    assert [g["lifecycleStatus"] for g in goals][:2] == ["cancelled", "active"]
    assert send(body) == (200, {"cards": []})


def _data_unavailable(answer: dict) -> str:
    return next(c["detail"] for c in answer["cards"] if c["source"]["topic"]["code"] == "data-unavailable")


@pytest.mark.parametrize("name", ["s01", "s04", "s30"])
def test_a_skipped_goal_is_no_absent_goal(name, send):
    """Every Goal of the prefetch fails validation: the patient may have a goal, so the
    functional-goal rule stays quiet and data-unavailable says the goals were only partly read."""
    body = fixture(name)
    for goal in resources(body, "goals", "Goal"):
        goal["lifecycleStatus"] = 7
    status, answer = send(body)
    assert status == 200
    assert codes(answer) == expected_codes(name) - {"functional-goal"} | {"data-unavailable"}
    assert "Part of **goals** could not be read" in _data_unavailable(answer)
    assert f"“{rule('functional-goal').title}”" in _data_unavailable(answer)


def test_a_goal_with_an_unknown_modifier_extension_is_not_read(send):
    """A modifierExtension may negate what it sits on (R4 §2.4): a Goal carrying one the
    service does not know is skipped and named, not counted as the patient's active goal."""
    body = fixture("s30")
    for goal in resources(body, "goals", "Goal"):
        goal["modifierExtension"] = [{"url": "http://ehr.example.org/fhir/ext/refuted", "valueBoolean": True}]
        goal["description"] = {"text": "Walk 1 mile without pain within 6 weeks"}
    status, answer = send(body)
    assert status == 200
    assert codes(answer) == expected_codes("s30") - {"functional-goal"} | {"data-unavailable"}
    assert "modifierExtension this service does not understand" in _data_unavailable(answer)


@pytest.mark.parametrize("where", ["claim", "claim-line", "massage-order"])
def test_a_subject_with_an_unknown_modifier_extension_is_refused(where, send):
    """The Claim (or a line of it), or the 97124 order, carrying a modifierExtension the service
    does not know cannot be checked as if it were not there: a 400 that names it."""
    body = fixture("s04" if where == "massage-order" else "s01")
    extension = [{"url": "http://ehr.example.org/fhir/ext/void", "valueBoolean": True}]
    if where == "claim":
        body["context"]["claim"]["modifierExtension"] = extension
    elif where == "claim-line":
        body["context"]["claim"]["item"][0]["modifierExtension"] = extension
    else:
        body["context"]["draftOrders"]["entry"][0]["resource"]["modifierExtension"] = extension
    status, answer = send(body)
    assert status == 400
    assert "modifierExtension" in answer["issue"][0]["diagnostics"]


def test_an_unrelated_order_with_a_modifier_extension_is_skipped(send):
    body = fixture("s04")
    lab = {"resourceType": "ServiceRequest", "id": "lab1", "status": "draft", "intent": "order",
           "subject": {"reference": "Patient/s04-patient"},
           "code": {"coding": [{"system": "http://loinc.org", "code": "2345-7"}]},
           "modifierExtension": [{"url": "http://ehr.example.org/fhir/ext/void", "valueBoolean": True}]}
    body["context"]["draftOrders"]["entry"].append({"resource": copy.deepcopy(lab)})
    status, answer = send(body)
    assert status == 200
    assert codes(answer) == expected_codes("s04") | {"data-unavailable"}
    assert "a ServiceRequest that carries a modifierExtension" in _data_unavailable(answer)


@pytest.mark.parametrize("number", ["1E+10000000", "0E-10000000", "1.5e-999999"])
def test_a_number_with_an_unbounded_exponent_is_refused_at_once(number, client):
    """FHIR's decimal grammar bounds no exponent, but a dozen bytes like `1E+10000000` cost
    minutes to turn into units or to quantize: such a body is refused as a bad request."""
    body = fhir_json.dumps(fixture("s01")).replace('"quantity": {"value": 1}', f'"quantity": {{"value": {number}}}', 1)
    assert number in body
    response = client.post("/cds-services/massage-97124-claim-check", data=body, content_type="application/json")
    assert response.status_code == 400


def test_numbers_in_any_json_form_are_read_and_written_back_as_received():
    text = '{"a": 38.000, "b": 1E+1, "c": -0.0, "d": 1E+400, "e": 12345678901234567890123}'
    assert fhir_json.dumps(fhir_json.loads(text)) == text


# -- a modifierExtension modifies the resource that carries it, not its container (R4 §2.4) ------
VOID = [{"url": "http://ehr.example.org/fhir/ext/void", "valueBoolean": True}]
WITH_PROCEDURES = [f for f in SCENARIOS if '"resourceType": "Procedure"' in (f / "request.json").read_text()]


def _contain_a_marked_device(request: dict) -> dict:
    """Every Procedure holds a contained Device it names as manipulated (dom-3), and the Device
    carries a modifierExtension: nothing the rules read."""
    out = copy.deepcopy(request)
    for value in out["prefetch"].values():
        for entry in (value or {}).get("entry") or [] if isinstance(value, dict) else []:
            resource = entry.get("resource") or {}
            if resource.get("resourceType") == "Procedure":
                resource.setdefault("contained", []).append(
                    {"resourceType": "Device", "id": "dev1", "modifierExtension": VOID})
                resource.setdefault("focalDevice", []).append({"manipulated": {"reference": "#dev1"}})
    return out


@pytest.mark.parametrize("folder", WITH_PROCEDURES, ids=lambda p: p.name)
def test_a_marked_contained_resource_no_rule_reads_leaves_its_container_read(folder, send):
    original = fixture_request(folder)
    changed = _contain_a_marked_device(original)
    assert effects(*send(changed), changed) == effects(*send(original), original)


def test_a_marked_contained_provenance_is_skipped_alone(send):
    """The note's Provenance, contained in its Procedure, carries a modifierExtension: that
    Provenance alone is skipped and named; the Procedure is read. Whether the note was signed
    cannot be told, and the skipped resource rode in `procedures`: the rules that need that key
    whole stay quiet (units too: a key's completeness is not per resource type) and are listed."""
    body = provenance_in_its_target(fixture("s06"))
    marked = [c for r in resources(body, "procedures", "Procedure") for c in r.get("contained", [])]
    assert marked
    for provenance in marked:
        provenance["modifierExtension"] = VOID
    record = record_from_hook(body["hook"], body["context"], body["prefetch"])
    assert massage_procedures(record) and [s.kind for s in record.skipped] == ["Provenance"] * len(marked)
    status, answer = send(body)
    assert status == 200 and codes(answer) == {"data-unavailable"}
    notice = _data_unavailable(answer)
    assert "Skipped a Provenance that carries a modifierExtension" in notice and "Skipped a Procedure" not in notice
    assert "Part of **procedures** could not be read" in notice and rule("signature").title in notice


# -- units billed are read as written ---------------------------------------------------------------
def _massage_line(body: dict) -> dict:
    return next(i for i in body["context"]["claim"]["item"]
                if i["productOrService"]["coding"][0]["code"] == "97124")


def test_fractional_units_are_a_units_error_not_truncated(send):
    """97124 is billed in whole 15-minute units (8-minute rule): s06 supports 2 units; 2.5 billed is
    not among the permitted allocations, so the units card fires and its fix sets 2 (no card said
    anything when 2.5 was cut to 2)."""
    body = fixture("s06")
    _massage_line(body)["quantity"]["value"] = fhir_json.loads("2.5")
    status, answer = send(body)
    [card] = [c for c in answer["cards"] if c["source"]["topic"]["code"] == "units"]
    assert status == 200 and "not × 2.5" in card["summary"]
    [action] = card["suggestions"][0]["actions"]
    assert _massage_line({"context": {"claim": action["resource"]}})["quantity"]["value"] == 2


@pytest.mark.parametrize("value", ["1E+400", "123456789012345678", "2.0000000000000000000000001"])
def test_a_unit_count_no_claim_can_carry_refuses_the_claim(value, send):
    """The Claim is what is checked: a line billed 1E+400 units cannot be read as a bill (an X12
    837 service unit count holds at most 15 digits), so the answer is a 400 naming the field."""
    body = fixture("s06")
    body["context"]["claim"]["item"][1]["quantity"]["value"] = fhir_json.loads(value)
    status, answer = send(body)
    diagnostics = answer["issue"][0]["diagnostics"]
    assert status == 400 and "item[1].quantity.value" in diagnostics and "unit count" in diagnostics
    assert answer["issue"][0]["expression"] == ["context.claim"]


@pytest.mark.parametrize("number", ["1E+500", "-1E+401", "1" * 5000])
def test_a_number_out_of_range_is_named_with_its_place(number, client):
    """Not just "not valid JSON": the number is out of range, and where it stands."""
    body = fhir_json.dumps(fixture("s01")).replace('"quantity": {"value": 1}', f'"quantity": {{"value": {number}}}', 1)
    response = client.post("/cds-services/massage-97124-claim-check", data=body, content_type="application/json")
    [issue] = response.get_json()["issue"]
    assert response.status_code == 400
    assert "out of range" in issue["diagnostics"] and issue["expression"] == ["context.claim.item[0].quantity.value"]
