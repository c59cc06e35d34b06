"""Card text is for a clinician or a biller (rule-catalog.md, "Card text"): over every fixture, each
card's detail is under 600 characters, names things in words (no `Type/id` or element path outside
the one closing evidence line), does not repeat a "Source:" heading or the rule's code, and offers
override reasons that fit the card."""
from __future__ import annotations

import json
import re

import pytest

from tests.test_scenarios import SCENARIOS, load

TYPES = ("Patient|Encounter|Procedure|Observation|Condition|Goal|CarePlan|ServiceRequest|Claim|Coverage|"
         "Organization|Practitioner|PractitionerRole|Provenance|DocumentReference|Binary")
RESOURCE_ID = re.compile(rf"\b(?:{TYPES})/[A-Za-z0-9\-.]{{1,64}}")
ELEMENT_PATH = re.compile(rf"\b(?:{TYPES})\.[a-z][A-Za-z]+")            # Claim.item, Procedure.note ...
RESOURCE_IDS = re.compile(r"\b(?:s\d\d-[a-z]+-\d+)\b")                  # the fixtures' ids, bare


@pytest.fixture(scope="module")
def all_cards(app):
    """(scenario, card) for every card every fixture yields."""
    client = app.test_client()
    services = {s["hook"]: s["id"] for s in client.get("/cds-services").get_json()["services"]}
    out = []
    for folder in SCENARIOS:
        request = load(folder, "request.json")
        response = client.post(f"/cds-services/{services[request['hook']]}", json=request)
        out += [(f"{folder.name} ({request['hook']})", card) for card in response.get_json()["cards"]]
    assert len(out) > 40
    return out


@pytest.fixture(scope="module")
def app(policy):
    from cds_hooks.app import create_app
    from cds_hooks.config import Config
    from plugin import load_policy
    from tests.test_scenarios import CLINIC_PROFILES
    return create_app(Config(dev=True, database_url="sqlite://"), load_policy(extra_profiles=CLINIC_PROFILES))


def prose(detail: str) -> str:
    lines = detail.rstrip().split("\n")
    return "\n".join(lines[:-1]) if lines[-1].startswith("Evidence: ") else detail


def test_every_detail_is_short_and_in_words(all_cards):
    for name, card in all_cards:
        detail, code = card["detail"], card["source"]["topic"]["code"]
        where = f"{name}: {code}"
        assert len(detail) < 600, where
        text = prose(detail)
        assert not RESOURCE_ID.search(text), (where, RESOURCE_ID.search(text).group(0))
        assert not ELEMENT_PATH.search(text), (where, ELEMENT_PATH.search(text).group(0))
        assert not RESOURCE_IDS.search(text), where
        assert "Source:" not in detail, where
        assert f"`{code}`" not in detail, where
        assert detail.count("Evidence: ") <= 1, where


def test_the_evidence_line_closes_the_detail_once_without_repeats(all_cards):
    for name, card in all_cards:
        last = card["detail"].rstrip().split("\n")[-1]
        if last.startswith("Evidence: "):
            refs = re.findall(r"`([^`]+)`", last)
            assert len(refs) == len(set(refs)), name


def test_order_sign_details_stay_near_400_characters_before_the_evidence(all_cards):
    for name, card in all_cards:
        if name.endswith("(order-sign)"):
            assert len(prose(card["detail"])) < 450, (name, card["source"]["topic"]["code"])


def test_documentation_cards_do_not_offer_patient_pay(all_cards):
    payer_only = {"not-medically-necessary", "medicare-performer"}
    for name, card in all_cards:
        codes = {r["code"] for r in card.get("overrideReasons", [])}
        if card["source"]["topic"]["code"] not in payer_only:
            assert "patient-pay-agreed" not in codes, (name, card["source"]["topic"]["code"])
        if card["indicator"] != "info":
            assert codes, name


def test_the_prose_test_catches_ids_and_paths():
    assert RESOURCE_ID.search("see Procedure/s06-proc-12 for times")
    assert ELEMENT_PATH.search("no Procedure.bodySite given")
    assert not RESOURCE_ID.search("HNS Policies: Documentation/Billing, 97110/97112/97530")
    assert json.dumps(prose("a\n\nEvidence: `Claim/x`")) == json.dumps("a\n")
