import pytest

from tests.builders import Visit
from tests.rules.billing_support import apply_fix, cards_by_code, line_modifiers, run

MODIFIER_RULES = {"modifier-59", "modifier-59-gp-order", "modifier-gp"}


def visit_with(other: str, modifiers=(), other_day=None, payer=None) -> Visit:
    visit = Visit()
    visit.procedure("97124", minutes=15)
    visit.claim_line("97124", modifiers=modifiers)
    visit.claim_line(other, day=other_day)
    if payer:
        visit.payer(payer)
    return visit


@pytest.mark.parametrize("other", ["99213", "98940", "98943"])
def test_fires_when_em_or_cmt_billed_same_date(policy, other):
    visit = visit_with(other)
    [finding] = run(visit, policy)["modifier-59"]
    assert finding.evidence == ("Claim.item[1]",)
    assert other in finding.summary and other in finding.detail
    assert finding.fixes[0].modifiers == ("59",)


def test_fix_keeps_existing_modifiers_first(policy):
    visit = visit_with("98940", modifiers=("GA",))
    [finding] = run(visit, policy)["modifier-59"]
    assert finding.fixes[0].modifiers == ("GA", "59")


@pytest.mark.parametrize("modifiers", [("59",), ("XS",), ("XE",), ("GA", "XU")])
def test_silent_when_59_or_x_modifier_present(policy, modifiers):
    assert "modifier-59" not in run(visit_with("99213", modifiers=modifiers), policy)


def test_silent_without_pairing_code_or_on_another_date(policy):
    assert "modifier-59" not in run(visit_with("97110"), policy)
    assert "modifier-59" not in run(visit_with("98940", other_day="2026-03-03"), policy)


@pytest.mark.parametrize("payer", [None, "Medicare"])
def test_applying_fix_clears_every_modifier_card(policy, payer):
    visit = visit_with("99213", payer=payer)
    found = run(visit, policy)
    apply_fix(visit, found["modifier-59"][0])
    assert not MODIFIER_RULES & set(run(visit, policy))
    assert line_modifiers(visit.claim, 1) == (["59", "GP"] if payer else ["59"])


def test_superseded_by_zelis_order_rule(policy):
    found = run(visit_with("98940", payer="Blue Cross NC"), policy)
    assert "modifier-59-gp-order" in found and "modifier-59" not in found


def test_http_suggestion_adds_59(client):
    visit = visit_with("98941", modifiers=("GA",))
    card = cards_by_code(client, visit)["modifier-59"]
    claim = card["suggestions"][0]["actions"][0]["resource"]
    assert line_modifiers(claim, 1) == ["GA", "59"]
    assert line_modifiers(claim, 2) == []
    assert card["indicator"] == "warning"


@pytest.mark.parametrize("payer", [None, "Medicare", "BCBSNC"])
@pytest.mark.parametrize("other", ["99213", "98940", "97110"])
@pytest.mark.parametrize("modifiers", [(), ("GP",), ("GP", "59"), ("XS",), ("KX",)])
def test_every_modifier_fix_leaves_a_line_no_modifier_rule_objects_to(policy, payer, other, modifiers):
    before = run(visit_with(other, modifiers=modifiers, payer=payer), policy)
    for code in MODIFIER_RULES & set(before):
        visit = visit_with(other, modifiers=modifiers, payer=payer)
        apply_fix(visit, before[code][0])
        assert not MODIFIER_RULES & set(run(visit, policy)), (code, line_modifiers(visit.claim, 1))
