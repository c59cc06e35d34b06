from plugin.policy import load_policy
from tests.builders import Visit
from tests.rules.billing_support import apply_fix, cards_by_code, line_modifiers, run

MODIFIER_RULES = {"modifier-59", "modifier-59-gp-order", "modifier-gp"}


def visit_with(payer: str | None, modifiers=(), other=None) -> Visit:
    visit = Visit()
    visit.procedure("97124", minutes=15)
    visit.claim_line("97124", modifiers=modifiers)
    if other:
        visit.claim_line(other)
    if payer:
        visit.payer(payer)
    return visit


def test_fires_for_medicare_without_gp_and_fix_clears_it(policy):
    visit = visit_with("Original Medicare", ("KX",))
    [finding] = run(visit, policy)["modifier-gp"]
    assert finding.fixes[0].modifiers == ("KX", "GP")
    assert finding.evidence == ("Claim.item[1]",) and "Medicare" in finding.detail
    apply_fix(visit, finding)
    assert not MODIFIER_RULES & set(run(visit, policy))


def test_gp_goes_right_after_59(policy):
    [finding] = run(visit_with("Medicare", ("59", "KX")), policy)["modifier-gp"]
    assert finding.fixes[0].modifiers == ("59", "GP", "KX")


def test_fix_also_adds_59_when_em_billed_the_same_day(policy):
    visit = visit_with("Medicare", other="99213")
    found = run(visit, policy)
    assert found["modifier-gp"][0].fixes[0].modifiers == ("59", "GP")
    apply_fix(visit, found["modifier-gp"][0])
    assert not MODIFIER_RULES & set(run(visit, policy))


def test_silent_with_gp_or_for_payers_without_the_requirement(policy):
    assert "modifier-gp" not in run(visit_with("Medicare", ("GP",)), policy)
    assert "modifier-gp" not in run(visit_with(None), policy)
    assert "modifier-gp" not in run(visit_with("MedCost"), policy)


def test_superseded_when_zelis_order_rule_fires(tmp_path):
    extra = tmp_path / "payers.toml"
    extra.write_text('[profiles.medicare]\nzelis_59_gp = true\n')
    found = run(visit_with("Medicare", other="98940"), load_policy(extra_profiles=extra))
    assert "modifier-59-gp-order" in found and "modifier-gp" not in found


def test_http_suggestion_adds_gp(client):
    card = cards_by_code(client, visit_with("Medicare Part B", ("59",)))["modifier-gp"]
    assert line_modifiers(card["suggestions"][0]["actions"][0]["resource"], 1) == ["59", "GP"]
