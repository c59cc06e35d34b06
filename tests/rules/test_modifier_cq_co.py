import pytest

from tests.builders import ref
from tests.rules.billing_support import apply_fix, run
from tests.rules.medicare_support import OT, OTA, PT, PTA, MedicareVisit, discipline_category

CODE = "modifier-cq-co"
MODIFIER_RULES = {"modifier-59", "modifier-59-gp-order", "modifier-gp", CODE}


def test_pta_without_cq_fires_and_fix_adds_it_after_gp(policy):
    visit = MedicareVisit(PTA, modifiers=("GP",))
    [finding] = run(visit, policy)[CODE]
    assert finding.fixes[0].modifiers == ("GP", "CQ") and "physical therapy assistant" in finding.summary
    apply_fix(visit, finding)
    assert not MODIFIER_RULES & set(run(visit, policy))


def test_pta_in_part_beside_the_supervising_therapist(policy):
    visit = MedicareVisit(PT, modifiers=("GP",))
    assistant = visit.practitioner(PTA)
    visit.massage["performer"].append({"actor": {"reference": ref(assistant)}})
    assert CODE in run(visit, policy)


def test_ota_under_ot_plan_gets_co_after_go(policy):
    visit = MedicareVisit(OTA, modifiers=("GO",))
    [finding] = run(visit, policy)[CODE]
    assert finding.fixes[0].modifiers == ("GO", "CO")


def test_every_modifier_card_proposes_the_same_complete_line(policy):
    """E/M the same date, no modifiers, a PTA: 59, GP and CQ at once, whichever card is accepted."""
    for code in ("modifier-59", "modifier-gp", CODE):
        visit = MedicareVisit(PTA, modifiers=())
        visit.claim_line("99213")
        found = run(visit, policy)
        assert found[code][0].fixes[0].modifiers == ("59", "GP", "CQ")
        apply_fix(visit, found[code][0])
        assert not MODIFIER_RULES & set(run(visit, policy))


@pytest.mark.parametrize("performer,modifiers", [(PTA, ("GP", "CQ")), (PT, ("GP",)), (OT, ("GO",)),
                                                 (OTA, ("GO", "CO"))])
def test_quiet_when_the_line_says_who_did_it(policy, performer, modifiers):
    visit = MedicareVisit(performer, modifiers=modifiers)
    if performer in (OT, OTA):
        visit.plan["category"] = discipline_category("84478008", "Occupational therapy")
    assert not MODIFIER_RULES & set(run(visit, policy))


@pytest.mark.parametrize("payer", ["Blue Cross NC", "Acme Health"])
def test_quiet_for_payers_without_medicare_coverage_rules(policy, payer):
    assert CODE not in run(MedicareVisit(PTA, payer=payer, modifiers=("GP",)), policy)
