"""One or more cases for each kind of field data the service misread (issue 7), asserting cards
and status. The kinds are in shared/domain/fhir-field-data.md; tests/field/cases/ holds the four
reported examples as they came. Paging and long URLs against a real FHIR server are in
tests/integration/test_field_paging.py."""
from __future__ import annotations

import copy
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from cds_hooks import fhir_json
from cds_hooks.prefetch import follow_up_queries
from cds_hooks.record_from_hook import record_from_hook
from plugin import payer_profile
from tests.builders import Visit
from tests.field.conftest import SCENARIOS, codes, fixture_request, load_json
from tests.field.transforms import _walk, contained_coverage, decimals_with_trailing_zeros, effects

CASES = Path(__file__).parent / "cases"
MAX_URL = 2000  # the longest search URL any FHIR server must accept (issue 7)


def fixture(name: str) -> dict:
    return fixture_request(next(p for p in SCENARIOS if p.name.startswith(name)))


def case(name: str) -> dict:
    return fhir_json.loads((CASES / f"{name}.json").read_bytes())


def expected_codes(name: str) -> set[str]:
    folder = next(p for p in SCENARIOS if p.name.startswith(name))
    return {c["code"] for c in load_json(folder / "expected.json")["cards"]}


def entries(request: dict, key: str) -> list[dict]:
    return request["prefetch"][key]["entry"]


def resources(request: dict, key: str, rtype: str) -> list[dict]:
    return [e["resource"] for e in entries(request, key) if e["resource"]["resourceType"] == rtype]


# -- 1. references in every form -------------------------------------------------------------------
def test_versioned_provenance_target_signs_the_procedure(send):
    """The field case's change (today's Provenance.target written `Procedure/…/_history/2`) made to
    today's s01 gives s01's answer, as the case expects: `{"cards": []}`."""
    body = fixture("s01")
    for prov in resources(body, "procedures", "Provenance"):
        prov["target"] = [{"reference": f"{t['reference']}/_history/2"} for t in prov["target"]]
    assert send(body) == (200, {"cards": []})


def test_the_recorded_case_01_is_signed_and_names_only_what_could_change_a_card(send):
    """The case as recorded predates two things: discovery's `reports` key and s01's plan-of-care
    certification (issue 9). Its plan carries no certification in what was sent, and `reports` (where
    a signed plan document would be) was neither sent nor fetchable: plan-certification cannot conclude
    the plan is uncertified, so it stays quiet and the info card names `reports` for that rule alone.
    With `reports` sent empty it warns (control). No progress report is due (fewer than ten treatment days), so
    that rule is not listed: a missing report could not change its verdict. No signature card."""
    status, answer = send(case("01-versioned-provenance-target"))
    [card] = answer["cards"]
    assert status == 200 and codes(answer) == {"data-unavailable"}
    assert "**reports**" in card["detail"] and "Plan of care certified by a physician/NPP" in card["detail"]
    assert "Progress report" not in card["detail"]
    sent_empty = case("01-versioned-provenance-target")
    sent_empty["prefetch"]["reports"] = {"resourceType": "Bundle", "type": "searchset", "entry": []}
    assert codes(send(sent_empty)[1]) == {"plan-certification"}


def test_a_versioned_target_still_signs_in_absolute_form(send):
    body = fixture("s01")
    for prov in resources(body, "procedures", "Provenance"):
        prov["target"] = [{"reference": f"https://ehr.example.org/fhir/{t['reference']}/_history/7"}
                          for t in prov["target"]]
    assert send(body) == (200, {"cards": []})


def test_contained_coverage_names_the_medicare_payer(send):
    body = contained_coverage(fixture("s22"))
    assert "contained" in body["context"]["claim"]
    assert not resources(body, "coverage", "Coverage")  # only the contained copy is left
    status, answer = send(body)
    assert status == 200 and "modifier-gp" in codes(answer)


def test_reference_to_another_server_is_not_this_servers_resource(send):
    """The same `Type/id` on another FHIR server is another resource: it signs nothing here."""
    body = fixture("s01")
    for prov in resources(body, "procedures", "Provenance"):
        prov["target"] = [{"reference": f"https://elsewhere.example.com/fhir/{t['reference']}"}
                          for t in prov["target"]]
    status, answer = send(body)
    assert status == 200 and {"signature", "countersignature"} <= codes(answer)


def test_display_only_reason_is_no_condition(send):
    """A reasonReference with only a display names no Condition to read; the order stays
    uncited as far as codes go (its words are read as text, as before)."""
    body = fixture("s04")
    order = body["context"]["draftOrders"]["entry"][0]["resource"]
    order["reasonReference"] = [{"display": "Patient/s04-patient"}]
    order.pop("reasonCode", None)
    status, answer = send(body)
    assert status == 200 and "necessity-unsupported" in codes(answer)


# -- 2. the date of service and instants -------------------------------------------------------------
_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$")


def _moved(body: dict, hours: int, utc: bool) -> dict:
    """Every clock time `hours` later on the clinic's clock; written in UTC when `utc`."""
    out = copy.deepcopy(body)

    def fn(container, key, item):
        if isinstance(item, str) and _INSTANT.match(item):
            moment = datetime.fromisoformat(item) + timedelta(hours=hours)
            container[key] = (moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
                              if utc else moment.isoformat())
    _walk(out, fn)
    return out


@pytest.mark.parametrize("folder", SCENARIOS, ids=lambda p: p.name)
def test_evening_visit_written_in_utc_is_the_same_visit(folder, send):
    """Every fixture's clock times moved to the evening (the visit after midnight UTC): written
    with the clinic's offset or in UTC, the claim's 97124 line is this visit's line and the
    cards are those of the fixture."""
    evening = _moved(fixture_request(folder), 12, utc=False)
    in_utc = _moved(fixture_request(folder), 12, utc=True)
    want = effects(*send(evening), evening)
    assert {code for code, _, _ in want[1]} == expected_codes(folder.name)
    assert effects(*send(in_utc), in_utc) == want


def test_evening_procedures_without_encounter_are_placed_by_instant(send):
    """Today's Procedures name no encounter: recorded in UTC after midnight, their start still
    falls within the visit's encounter, so they are this visit's services."""
    body = fixture("s06")
    for proc in resources(body, "procedures", "Procedure"):
        if proc.get("encounter", {}).get("reference") == f"Encounter/{body['context']['encounterId']}":
            del proc["encounter"]
    want = effects(*send(_moved(body, 12, utc=False)), body)
    assert {code for code, _, _ in want[1]} == expected_codes("s06")
    in_utc = _moved(body, 12, utc=True)
    assert effects(*send(in_utc), in_utc) == want


def test_partial_plan_start_is_the_whole_month(send):
    """A CarePlan period.start of `2026-06` is a date (the month), not an absent one."""
    body = fixture("s41")
    for plan in resources(body, "carePlans", "CarePlan"):
        plan["period"]["start"] = plan["period"]["start"][:7]
    status, answer = send(body)
    assert status == 200 and codes(answer) == expected_codes("s41")


@pytest.mark.parametrize("name", ["s01", "s40", "s53"])
def test_partial_plan_dates_keep_the_episode(name, send):
    body = fixture(name)
    for plan in resources(body, "carePlans", "CarePlan"):
        plan["period"] = {"start": plan["period"]["start"][:7], "end": plan["period"]["end"][:7]}
    status, answer = send(body)
    assert status == 200 and codes(answer) == expected_codes(name)


# -- 3/4. prefetch semantics: null, outcomes, paging -----------------------------------------------------
def test_null_prefetch_means_no_data_not_412(send):
    status, answer = send(case("07-prefetch-null-means-no-data"))
    assert (status, answer) == (200, {"cards": []})


@pytest.mark.parametrize("name", ["s01", "s04", "s30"])
def test_every_empty_key_may_be_null(name, send):
    body = fixture(name)
    want = effects(*send(body), body)
    for key, value in body["prefetch"].items():
        if isinstance(value, dict) and value.get("resourceType") == "Bundle" and not value.get("entry"):
            body["prefetch"][key] = None
    assert effects(*send(body), body) == want


ERROR_OUTCOME = {"resourceType": "OperationOutcome",
                 "issue": [{"severity": "error", "code": "exception", "diagnostics": "search failed"}]}


def test_failed_required_search_is_412_not_zero_procedures(send):
    body = fixture("s01")
    body["prefetch"]["procedures"] = {"resourceType": "Bundle", "type": "searchset", "entry": [
        {"resource": ERROR_OUTCOME, "search": {"mode": "outcome"}}]}
    status, answer = send(body)
    assert status == 412 and "procedures" in answer["issue"][0]["diagnostics"]


def test_failed_optional_search_is_named_and_proves_no_absence(send):
    body = fixture("s01")
    body["prefetch"]["goals"] = ERROR_OUTCOME
    status, answer = send(body)
    assert status == 200 and codes(answer) == {"data-unavailable"}
    detail = next(c["detail"] for c in answer["cards"])
    # the quiet rule by its title: cards name no internal rule code (rule-catalog.md, "Card text")
    assert "goals" in detail and "Functional goal with a time frame" in detail


def test_warning_outcome_in_a_search_is_only_a_warning(send):
    body = fixture("s01")
    entries(body, "goals").append({"resource": {"resourceType": "OperationOutcome", "issue": [
        {"severity": "warning", "code": "informational"}]}, "search": {"mode": "outcome"}})
    assert send(body) == (200, {"cards": []})


def first_page(body: dict, key: str, keep: int) -> None:
    """Cut a prefetch search to its first `keep` entries with a `next` link (as a sandbox sends)."""
    bundle = body["prefetch"][key]
    bundle["entry"] = bundle["entry"][:keep]
    bundle["link"] = [{"relation": "next", "url": f"https://ehr.example.org/fhir/{key}?page=2"}]


def test_first_page_of_goals_is_no_proof_of_no_goal(send):
    body = fixture("s01")
    first_page(body, "goals", 0)
    status, answer = send(body)
    assert status == 200 and "functional-goal" not in codes(answer)
    assert "data-unavailable" in codes(answer)


# -- 5. only the subject is fatal -------------------------------------------------------------------------
def test_invalid_unrelated_draft_order_is_skipped_and_named(send):
    status, answer = send(case("06-invalid-unrelated-draft-order"))
    assert status == 200
    assert {(c["source"]["topic"]["code"], c["indicator"]) for c in answer["cards"]} == {
        ("necessity-unsupported", "warning"), ("data-unavailable", "info")}
    skipped = next(c for c in answer["cards"] if c["source"]["topic"]["code"] == "data-unavailable")
    assert "draft-lab-1" in skipped["detail"]


def test_invalid_massage_order_is_still_a_400(send):
    body = case("06-invalid-unrelated-draft-order")
    body["context"]["draftOrders"]["entry"][0]["resource"]["authoredOn"] = "2026-04-09T10:20:00"
    status, answer = send(body)
    assert status == 400 and "draftOrders[0]" in answer["issue"][0]["diagnostics"]


def test_invalid_claim_is_a_400(send):
    body = fixture("s01")
    body["context"]["claim"]["created"] = "2026-04-09T10:20:00"
    status, _ = send(body)
    assert status == 400


# -- 6. decimals and totals ----------------------------------------------------------------------------------
def _suggested_claims(answer: dict) -> list[dict]:
    return [a["resource"] for c in answer["cards"] for s in c.get("suggestions") or []
            for a in s["actions"] if a["resource"]["resourceType"] == "Claim"]


def _money_exponents(claim: dict) -> dict:
    return {(item["sequence"], part): item[part]["value"].as_tuple().exponent
            for item in claim.get("item") or [] for part in ("unitPrice", "net") if part in item}


def test_decimal_precision_kept_in_the_update(send):
    body = case("10-decimal-precision-in-update")
    status, answer = send(body)
    [claim] = _suggested_claims(answer)
    assert status == 200 and "units" in codes(answer)
    assert str(claim["item"][0]["unitPrice"]["value"]) == "38.00"
    assert str(claim["total"]["value"]) == "118.00"  # 38.00 × 2 + 42.00, money stays in cents


CLAIM_FIXES = [p for p in SCENARIOS if "claim" in load_json(p / "expected.json")]


@pytest.mark.parametrize("folder", CLAIM_FIXES, ids=lambda p: p.name)
def test_every_claim_fix_keeps_precision_and_a_consistent_total(folder, send):
    body = decimals_with_trailing_zeros(fixture_request(folder))
    status, answer = send(body)
    claims = _suggested_claims(answer)
    assert status == 200 and claims
    before = _money_exponents(body["context"]["claim"])
    for claim in claims:
        after = _money_exponents(claim)
        assert all(after[k] == before[k] for k in after), "a decimal lost or gained digits"
        nets = [item["net"]["value"] for item in claim.get("item") or []]
        assert claim["total"]["value"] == sum(nets, Decimal(0))
        assert claim["total"]["value"].as_tuple().exponent == body["context"]["claim"]["total"]["value"].as_tuple().exponent


def test_removing_the_only_line_zeroes_the_total(send):
    body = fixture("s23")
    body["context"]["claim"]["item"] = [i for i in body["context"]["claim"]["item"]
                                        if i["productOrService"]["coding"][0]["code"] == "97124"]
    body["context"]["claim"]["total"]["value"] = body["context"]["claim"]["item"][0]["net"]["value"]
    status, answer = send(body)
    removed = [c for c in _suggested_claims(answer) if not c.get("item")]
    assert status == 200 and removed
    assert all(c["total"]["value"] == 0 for c in removed)


# -- 7. short search URLs ---------------------------------------------------------------------------------------
def test_follow_up_searches_fit_in_short_urls():
    """A long chart: 300 visit Procedures with unresolved performers; every id is asked, no URL
    is longer than MAX_URL."""
    visit = Visit(patient="p-long", encounter="enc-long")
    base = "https://ehr.example.org/fhir"
    for n in range(300):
        visit.procedure("97124", minutes=1, performer={"resourceType": "Practitioner", "id": f"pr-{n:04d}-x"})
    queries = follow_up_queries(visit.record(), base, set())
    assert len(queries) > 2  # split, not one giant URL
    assert all(len(f"{base}/{q}") <= MAX_URL for q in queries.values())
    asked = ",".join(queries.values())
    procedures = [r for r in visit.resources if r["resourceType"] == "Procedure"]
    assert all(f"Procedure/{p['id']}" in asked for p in procedures)
    assert all(f"pr-{n:04d}-x" in asked for n in range(300))



def test_contained_coverage_in_the_order_names_the_payer(policy):
    """order-sign: the 97124 order's own insurance, contained, is the payer (Medicare here)."""
    body = contained_coverage(fixture("s04"))
    order = body["context"]["draftOrders"]["entry"][0]["resource"]
    assert order["insurance"] == [{"reference": "#cov1"}]
    assert not resources(body, "coverage", "Coverage")
    record = record_from_hook(body["hook"], body["context"], body["prefetch"])
    assert payer_profile(record, policy).id == "medicare"
