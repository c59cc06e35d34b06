import pytest

from plugin import load_policy
from tests.builders import Visit
from tests.rules.billing_support import apply_fix, cards_by_code, line_modifiers, run

MODIFIER_RULES = {"modifier-59", "modifier-59-gp-order", "modifier-gp"}


def visit_with(payer: str, modifiers=(), other="98940") -> Visit:
    visit = Visit()
    visit.procedure("97124", minutes=15)
    visit.claim_line("97124", modifiers=modifiers)
    visit.claim_line(other)
    visit.payer(payer)
    return visit


@pytest.mark.parametrize("payer", ["BCBSNC", "Blue Cross Blue Shield of NC", "State Health Plan",
                                   "MedCost Benefit Services"])
@pytest.mark.parametrize("modifiers, wanted", [((), ("59", "GP")), (("GP", "59"), ("59", "GP")),
                                               (("XS", "KX"), ("59", "GP", "KX")), (("59",), ("59", "GP"))])
def test_fires_and_fix_puts_59_then_gp_first(policy, payer, modifiers, wanted):
    visit = visit_with(payer, modifiers)
    [finding] = run(visit, policy)["modifier-59-gp-order"]
    assert finding.fixes[0].modifiers == wanted
    assert finding.evidence == ("Claim.item[1]",) and "98940" in finding.detail
    apply_fix(visit, finding)
    assert not MODIFIER_RULES & set(run(visit, policy))
    assert line_modifiers(visit.claim, 1) == list(wanted)


def test_silent_when_order_is_right(policy):
    assert "modifier-59-gp-order" not in run(visit_with("MedCost", ("59", "GP")), policy)


def test_silent_without_cmt_or_for_other_payers(policy):
    em_only = run(visit_with("BCBSNC", other="99213"), policy)
    assert "modifier-59-gp-order" not in em_only and "modifier-59" in em_only
    assert "modifier-59-gp-order" not in run(visit_with("Aetna"), policy)


def test_payer_list_is_data(tmp_path):
    extra = tmp_path / "payers.toml"
    extra.write_text('[profiles.acme]\nname = "Acme Health"\nzelis_59_gp = true\n')
    custom = load_policy(extra_profiles=extra)
    assert "modifier-59-gp-order" in run(visit_with("Acme Health"), custom)


def test_http_suggestion_orders_59_then_gp(client):
    card = cards_by_code(client, visit_with("Blue Cross NC", ("GP",)))["modifier-59-gp-order"]
    claim = card["suggestions"][0]["actions"][0]["resource"]
    assert line_modifiers(claim, 1) == ["59", "GP"]
    assert claim["item"][1]["productOrService"]["coding"][0]["code"] == "98940"
