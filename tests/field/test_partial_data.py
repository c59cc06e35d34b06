"""A rule never concludes that something is absent from data that is partial: for every fixture
and every prefetch key an absence rule reads, the key cut to a first page with a `next` link
(and no fhirServer to fetch the rest) silences every rule that needs it complete, and the
data-unavailable card names the key."""
from __future__ import annotations

import pytest

from cds_hooks.record_from_hook import record_from_hook
from plugin.facts import has_subject
from plugin.rules import all_rules
from tests.field.conftest import SCENARIOS, codes, fixture_request

ABSENCE_RULES = {r.code: set(r.needs_complete) for r in all_rules() if r.needs_complete}
KEYS = sorted(set().union(*ABSENCE_RULES.values()))


def _about_97124(request: dict) -> bool:
    """Whether the hook carries a 97124 order or line (else nothing is read at all)."""
    return has_subject(record_from_hook(request["hook"], request["context"]))


CASES = [(folder, key) for folder in SCENARIOS if _about_97124(fixture_request(folder)) for key in KEYS
         if isinstance(fixture_request(folder)["prefetch"].get(key), dict)]


def test_the_absence_rules_declare_their_data():
    assert {"functional-goal", "plan-of-care", "objective-measures", "signature", "countersignature",
            "progress", "exam-findings", "time-in-out"} <= set(ABSENCE_RULES)


@pytest.mark.parametrize("folder,key", CASES, ids=[f"{f.name}-{k}" for f, k in CASES])
def test_no_absence_reported_from_a_partial_key(folder, key, send):
    body = fixture_request(folder)
    bundle = body["prefetch"][key]
    entries = bundle.get("entry") or []
    bundle["entry"] = entries[: len(entries) // 2]
    bundle["link"] = [{"relation": "self", "url": f"https://ehr.example.org/fhir/{key}"},
                      {"relation": "next", "url": f"https://ehr.example.org/fhir/{key}?page=2"}]
    status, answer = send(body)
    assert status == 200  # partial is never a 412, even for a required key
    silenced = {code for code, keys in ABSENCE_RULES.items() if key in keys}
    assert not codes(answer) & silenced
    notice = [c for c in answer["cards"] if c["source"]["topic"]["code"] == "data-unavailable"]
    assert notice and f"**{key}**" in notice[0]["detail"]
