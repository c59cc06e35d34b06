"""Each prefetch value's completeness, as CDS Hooks 2.0 and FHIR search define it."""
from __future__ import annotations

import pytest

from plugin import Status, classify

BUNDLE = {"resourceType": "Bundle", "type": "searchset"}
GOAL = {"resource": {"resourceType": "Goal", "id": "g"}}


def outcome(severity: str) -> dict:
    return {"resource": {"resourceType": "OperationOutcome", "issue": [{"severity": severity, "code": "x"}]},
            "search": {"mode": "outcome"}}


@pytest.mark.parametrize("value,status", [
    (None, Status.EMPTY),
    ({**BUNDLE}, Status.EMPTY),
    ({**BUNDLE, "entry": []}, Status.EMPTY),
    ({**BUNDLE, "entry": [GOAL]}, Status.COMPLETE),
    ({"resourceType": "Patient", "id": "p"}, Status.COMPLETE),
    ({"resourceType": "OperationOutcome", "issue": []}, Status.FAILED),
    ({**BUNDLE, "entry": [outcome("error")]}, Status.FAILED),
    ({**BUNDLE, "entry": [GOAL, outcome("fatal")]}, Status.FAILED),
    ({**BUNDLE, "entry": [GOAL, outcome("warning")]}, Status.COMPLETE),
    ({**BUNDLE, "entry": [outcome("information")]}, Status.EMPTY),
    ({**BUNDLE, "entry": [GOAL], "link": [{"relation": "next", "url": "Goal?page=2"}]}, Status.PARTIAL),
    ({**BUNDLE, "entry": [GOAL], "link": [{"relation": "self", "url": "Goal"}]}, Status.COMPLETE),
    ("not a resource", Status.FAILED),
])
def test_classify(value, status):
    assert classify(value) is status


def test_only_complete_and_empty_prove_an_absence():
    assert {s for s in Status if s.usable} == {Status.COMPLETE, Status.EMPTY}
