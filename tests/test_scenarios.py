"""Every scenario under fixtures/ through the real Flask app: the cards it yields must be exactly
the (code, indicator) pairs its expected.json names, and a named card's suggestion must change
the claim (or order) as expected and make that card go away. Formats: fixtures/README.md."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from plugin import load_policy

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SCENARIOS = sorted(p for p in FIXTURES.iterdir() if (p / "expected.json").is_file())
CLINIC_PROFILES = FIXTURES / "payer-profiles.toml"


def load(folder: Path, name: str) -> dict:
    return json.loads((folder / name).read_text())


@pytest.fixture(scope="module")
def policy():
    """The shipped policy plus the clinic's own payer profile the scenarios name (per-code payer)."""
    return load_policy(extra_profiles=CLINIC_PROFILES)


@pytest.fixture
def post(client):
    services = {s["hook"]: s["id"] for s in client.get("/cds-services").get_json()["services"]}

    def call(body: dict) -> list[dict]:
        response = client.post(f"/cds-services/{services[body['hook']]}", json=body)
        assert response.status_code == 200, response.get_json()
        return response.get_json()["cards"]
    return call


def topics(cards: list[dict]) -> set[tuple[str, str]]:
    return {(c["source"]["topic"]["code"], c["indicator"]) for c in cards}


def card_named(cards: list[dict], code: str) -> dict:
    found = [c for c in cards if c["source"]["topic"]["code"] == code]
    assert found, f"no {code!r} card among {sorted(topics(cards))}"
    return found[0]


def suggested_resource(card: dict, which: int = 0) -> dict:
    assert len(card.get("suggestions") or []) > which, \
        f"the {card['source']['topic']['code']!r} card has no suggestion {which + 1}"
    action = card["suggestions"][which]["actions"][0]
    assert action["type"] == "update"
    return action["resource"]


def lines_by_code(claim: dict) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for item in claim.get("item") or []:
        for coding in item["productOrService"].get("coding") or []:
            out.setdefault(coding.get("code"), []).append(item)
    return out


def modifiers(item: dict) -> list[str]:
    return [c["code"] for m in item.get("modifier") or [] for c in (m.get("coding") or [])[:1]]


@pytest.mark.parametrize("folder", SCENARIOS, ids=lambda p: p.name)
def test_scenario_yields_expected_cards(folder, post):
    expected, request = load(folder, "expected.json"), load(folder, "request.json")
    assert request["hook"] == expected["hook"]
    want = {(c["code"], c["indicator"]) for c in expected["cards"]}
    assert topics(post(request)) == want


CLAIM_CASES = [p for p in SCENARIOS if "claim" in load(p, "expected.json")]
ORDER_CASES = [p for p in SCENARIOS if "order" in load(p, "expected.json")]


def follow_suggestion(folder: Path, part: str, post) -> tuple[dict, dict, dict]:
    """(the expectation for `part`, the request, the resource the named card's suggestion gives)."""
    want = load(folder, "expected.json")[part]
    request = load(folder, "request.json")
    return want, request, suggested_resource(card_named(post(request), want["after"]), want.get("suggestion", 0))


@pytest.mark.parametrize("folder", CLAIM_CASES, ids=lambda p: p.name)
def test_claim_suggestion_fixes_the_line(folder, post):
    want, request, claim = follow_suggestion(folder, "claim", post)
    code = want["after"]
    assert claim["resourceType"] == "Claim" and claim["id"] == request["context"]["claim"]["id"]
    lines = lines_by_code(claim)
    for cpt, line in want.items():
        if cpt in ("after", "suggestion"):
            continue
        if line is None:
            assert cpt not in lines, f"a {cpt} line is still on the claim"
            continue
        [item] = lines.get(cpt) or [None]
        assert item is not None, f"no {cpt} line on the updated claim"
        assert item["quantity"]["value"] == line["quantity"]
        assert modifiers(item) == line["modifiers"]
    again = copy.deepcopy(request)
    again["context"]["claim"] = claim
    assert code not in {c for c, _ in topics(post(again))}


@pytest.mark.parametrize("folder", ORDER_CASES, ids=lambda p: p.name)
def test_order_suggestion_fixes_the_order(folder, post):
    want, request, order = follow_suggestion(folder, "order", post)
    code = want["after"]
    assert order["resourceType"] == "ServiceRequest"
    cited = {r.get("reference") for r in order.get("reasonReference") or []}
    assert set(want["reasonReference"]) <= cited
    again = copy.deepcopy(request)
    again["context"]["draftOrders"]["entry"] = [
        {**e, "resource": order} if e["resource"]["id"] == order["id"] else e
        for e in again["context"]["draftOrders"]["entry"]]
    assert code not in {c for c, _ in topics(post(again))}


def resource_keys(value: object) -> list[str]:
    if not isinstance(value, dict):
        return []
    if value.get("resourceType") == "Bundle":
        return [k for e in value.get("entry") or [] for k in resource_keys(e.get("resource"))]
    return [f"{value['resourceType']}/{value['id']}"]


@pytest.mark.parametrize("folder", SCENARIOS, ids=lambda p: p.name)
def test_bundle_holds_the_request_data(folder):
    """bundle.json loads the same resources into a FHIR server that request.json carries."""
    bundle, request = load(folder, "bundle.json"), load(folder, "request.json")
    invalid = set(load(folder, "expected.json").get("invalidResources", []))
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "transaction"
    for entry in bundle["entry"]:
        assert entry["request"] == {"method": "PUT", "url": resource_keys(entry["resource"])[0]}
    loaded = [k for e in bundle["entry"] for k in resource_keys(e["resource"])]
    sent = [k for v in request["prefetch"].values() for k in resource_keys(v)]
    context = request["context"]
    sent += resource_keys(context.get("claim")) + resource_keys(context.get("draftOrders"))
    assert len(loaded) == len(set(loaded)), "a resource is loaded twice"
    assert set(loaded) == set(sent) - invalid
    assert invalid <= set(sent)


def references(value: object) -> list[str]:
    """Every Reference.reference string inside a JSON value."""
    if isinstance(value, dict):
        own = [value["reference"]] if isinstance(value.get("reference"), str) else []
        return own + [r for v in value.values() for r in references(v)]
    if isinstance(value, list):
        return [r for v in value for r in references(v)]
    return []


@pytest.mark.parametrize("folder", SCENARIOS, ids=lambda p: p.name)
def test_bundle_is_self_contained(folder):
    """A FHIR server enforcing referential integrity accepts the transaction as it is."""
    bundle = load(folder, "bundle.json")
    loaded = {k for e in bundle["entry"] for k in resource_keys(e["resource"])}
    dangling = {r for e in bundle["entry"] for r in references(e["resource"])} - loaded
    assert not dangling


def test_fixture_set_is_complete():
    assert len(SCENARIOS) >= 32
    hooks = {load(p, "expected.json")["hook"] for p in SCENARIOS}
    assert hooks == {"order-sign", "claim-prepare"}


def test_fixtures_are_what_the_generator_writes(tmp_path):
    """The folders are generated data: a hand edit (or a stale run) shows up here."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("fixtures_build", FIXTURES / "build.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    build.main(tmp_path)
    fresh = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.json"))
    assert fresh == sorted(p.relative_to(FIXTURES) for p in FIXTURES.glob("s*/*.json"))
    for rel in fresh:
        assert (tmp_path / rel).read_text() == (FIXTURES / rel).read_text(), rel
