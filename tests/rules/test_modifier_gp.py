import pytest

from plugin import load_policy
from tests.builders import Visit
from tests.rules.billing_support import apply_fix, cards_by_code, line_modifiers, run
from tests.rules.medicare_support import OT, OTA, PT, MedicareVisit, discipline_category

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


# -- the discipline comes from the plan of care, else the performer (97124-rules.md §10) ----------------

OT_CATEGORY = discipline_category("84478008", "Occupational therapy")
SLP_CATEGORY = discipline_category("5154007", "Speech therapy")


def ot_plan(how: str, modifiers=("GP",), payer="Medicare") -> MedicareVisit:
    visit = MedicareVisit(PT, modifiers=modifiers, payer=payer)
    if how == "category":
        visit.plan["category"] = OT_CATEGORY
    elif how == "category text":
        visit.plan["category"] = [{"text": "Occupational therapy"}]
    elif how == "author":
        visit.plan["author"] = {"reference": f"Practitioner/{visit.practitioner(OT)['id']}"}
    elif how == "performer":
        visit.resources.remove(visit.plan)
        visit.resources.remove(visit.certification)
        visit.performer["qualification"][0]["code"]["coding"][0]["code"] = OTA
    return visit


@pytest.mark.parametrize("how", ["category", "category text", "author", "performer"])
def test_ot_plan_billed_gp_is_fixed_to_go(policy, how):
    visit = ot_plan(how)
    [finding] = run(visit, policy)["modifier-gp"]
    assert finding.fixes[0].modifiers[0] == "GO" and "GP" in finding.summary
    apply_fix(visit, finding)
    assert not MODIFIER_RULES & set(run(visit, policy))


def test_category_outranks_author_and_slp_gets_gn(policy):
    visit = ot_plan("author", modifiers=("GO",))
    visit.plan["category"] = SLP_CATEGORY
    [finding] = run(visit, policy)["modifier-gp"]
    assert finding.fixes[0].modifiers == ("GN",)


def test_wrong_modifier_is_replaced_in_place(policy):
    visit = MedicareVisit(PT, modifiers=("59", "GO", "KX"))
    visit.claim_line("99213")
    [finding] = run(visit, policy)["modifier-gp"]
    assert finding.fixes[0].modifiers == ("59", "GP", "KX")
    both = MedicareVisit(PT, modifiers=("GP", "GO"))
    assert run(both, policy)["modifier-gp"][0].fixes[0].modifiers == ("GP",)


def test_quiet_with_the_plan_discipline(policy):
    assert "modifier-gp" not in run(ot_plan("category", modifiers=("GO",)), policy)
    assert "modifier-gp" not in run(ot_plan("category", payer="Acme Health"), policy)


def test_zelis_order_keeps_59_first_with_the_plan_discipline(policy):
    visit = ot_plan("category", modifiers=("GP", "59"), payer="Blue Cross NC")
    visit.claim_line("98940")
    found = run(visit, policy)
    [finding] = found["modifier-59-gp-order"]
    assert finding.fixes[0].modifiers == ("59", "GO") and "59 then GO" in finding.summary
    apply_fix(visit, finding)
    assert not MODIFIER_RULES & set(run(visit, policy))


def test_unknown_discipline_falls_back_to_gp(policy):
    visit = MedicareVisit(None, modifiers=(), plan=False)
    visit.massage["performer"] = [{"actor": {"reference": f"Practitioner/{visit.physician['id']}"}}]
    assert run(visit, policy)["modifier-gp"][0].fixes[0].modifiers == ("GP",)
