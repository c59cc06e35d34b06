"""A rule never concludes that something is absent from data that is partial: for every fixture
and every prefetch key an absence rule reads, the key cut to a first page with a `next` link
(and no fhirServer to fetch the rest) silences every rule that needs it complete, and the
data-unavailable card names the key when a rule of this payer needed it. A key no applicable
rule needs is not reported (a Medicare-only search is no loss to a commercial claim)."""
from __future__ import annotations

import pytest

from cds_hooks.record_from_hook import SUBJECT_OF_HOOK, record_from_hook
from plugin import all_rules, has_subject, payer_profile
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
def test_no_absence_reported_from_a_partial_key(folder, key, send, policy):
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
    # Named whenever a rule of this payer needed the key whole; a key that could only have kept
    # its rules quiet (silenced_by) is named when one of them would have fired (tests below).
    if _needed_whole(body, key, policy):
        assert notice and f"**{key}**" in notice[0]["detail"]


def _needed_whole(body: dict, key: str, policy) -> bool:
    profile = payer_profile(record_from_hook(body["hook"], body["context"], body["prefetch"]), policy)
    return any(key in r.needs_complete and key not in r.silenced_by and r.applies_to(profile)
               for r in all_rules() if SUBJECT_OF_HOOK[body["hook"]] in r.subjects)


# -- a key is reported only where a rule that applies to this payer needs it --------------------
def _evaluate(visit, policy, *, unavailable=(), drop=()):
    """Findings by code for `visit` whose `drop` prefetch keys were not sent and could not be fetched."""
    from plugin import evaluate
    prefetch = {k: v for k, v in visit.prefetch().items() if k not in drop}
    record = record_from_hook("claim-prepare", visit.context("claim-prepare"), prefetch,
                          unavailable=[*unavailable, *drop])
    return {f.code: f for f in evaluate(record, policy).findings}


def _medicare_visit(treatment_days: int, payer: str = "Medicare"):
    from tests.rules.medicare_support import MedicareVisit
    visit = MedicareVisit(payer=payer)
    visit.treatment_days(treatment_days)
    return visit


@pytest.mark.parametrize("payer", ["Blue Cross NC", "Aetna"])
def test_reports_missing_is_not_news_for_a_payer_without_progress_reports(payer, policy):
    """No rule that applies to a commercial payer reads the `reports` search: nothing to say."""
    found = _evaluate(_medicare_visit(10, payer=payer), policy, drop=["reports"])
    assert "data-unavailable" not in found and "progress-report" not in found


def test_reports_missing_changes_nothing_when_no_report_is_due_yet(policy):
    """Medicare, the ninth treatment day: whatever reports exist, none is due; the plan is certified
    by its Provenance. A missing report could only keep both rules quiet: they were checked."""
    found = _evaluate(_medicare_visit(8), policy, drop=["reports"])
    assert "data-unavailable" not in found and "progress-report" not in found


def test_reports_missing_is_named_when_a_report_would_be_due(policy):
    """Medicare, the eleventh treatment day with no report in sight: the report may be in the
    search that was not sent, so the rule stays quiet and the card names the key and the rule."""
    visit = _medicare_visit(10)
    assert "progress-report" in _evaluate(visit, policy)  # control: with every key, it fires
    found = _evaluate(visit, policy, drop=["reports"])
    assert "progress-report" not in found
    detail = found["data-unavailable"].detail
    assert "**reports**" in detail and "Progress report within the last treatment days" in detail


def test_an_uncertified_plan_with_reports_missing_is_named_not_flagged(policy):
    from tests.rules.medicare_support import MedicareVisit
    visit = MedicareVisit(certified=False)
    visit.treatment_days(40)  # the first treatment is more than 30 days back
    assert "plan-certification" in _evaluate(visit, policy)
    found = _evaluate(visit, policy, drop=["reports"])
    assert "plan-certification" not in found
    assert "Plan of care certified by a physician/NPP" in found["data-unavailable"].detail


def test_a_payer_rule_is_not_listed_as_unchecked_for_another_payer(policy):
    """Performers could not be fetched: the general performer rule was not checked, Medicare's was
    never going to run for a commercial payer and is not listed."""
    found = _evaluate(_medicare_visit(2, payer="Blue Cross NC"), policy, unavailable=["performers"])
    detail = found["data-unavailable"].detail
    assert "**performers**" in detail and "Medicare" not in detail


def test_an_unknown_payer_is_said_so_and_its_rules_are_not_concluded(policy):
    """Coverage could not be had: the payer cannot be told, so Medicare's rules neither run as if
    the payer were commercial nor pass in silence: the card names the coverage key."""
    visit = _medicare_visit(10)
    found = _evaluate(visit, policy, drop=["coverage"])
    assert "progress-report" not in found
    detail = found["data-unavailable"].detail
    assert "**coverage**" in detail and "Progress report within the last treatment days" in detail
