import pytest

from plugin import load_policy
from plugin.fixes import apply
from tests.builders import NUCC, concept, ref
from tests.rules.billing_support import CLAIM_SERVICE, apply_fix, line_modifiers, run
from tests.rules.medicare_support import (
    DC,
    LMT,
    NURSE_PRACTITIONER,
    OT,
    OTA,
    PHYSICIAN,
    PT,
    PTA,
    V2_DEGREE,
    MedicareVisit,
    credential,
    days_before,
)

CODE = "medicare-performer"


@pytest.mark.parametrize("taxonomy", [PT, PTA, OT, OTA, PHYSICIAN, "208100000X", NURSE_PRACTITIONER,
                                      "363A00000X", "364SA2100X"])
def test_quiet_for_therapists_assistants_physicians_and_npps(policy, taxonomy):
    assert CODE not in run(MedicareVisit(taxonomy), policy)


def test_quiet_for_a_degree_code_of_an_npp(policy):
    visit = MedicareVisit()
    visit.performer.update(credential("NP", V2_DEGREE))
    assert CODE not in run(visit, policy)


@pytest.mark.parametrize("taxonomy,who", [(LMT, "Massage"), ("2255A2300X", "2255A2300X"),
                                          ("3747P1801X", "3747P1801X"), ("390200000X", "390200000X")])
def test_massage_therapist_trainer_aide_student_are_not_a_medicare_benefit(policy, taxonomy, who):
    visit = MedicareVisit(taxonomy)
    if taxonomy == LMT:
        visit.performer["qualification"][0]["code"]["text"] = "Massage Therapist"
    found = run(visit, policy)
    [finding] = found[CODE]
    assert finding.severity.value == "critical" and "not a Medicare benefit" in finding.summary
    assert who in finding.detail and ref(visit.performer) in finding.evidence
    assert "performer" not in found  # one card for the performer: this one, with its suggestions


def test_undocumented_performer_is_not_a_medicare_benefit(policy):
    [finding] = run(MedicareVisit(None), policy)[CODE]
    assert "no one is documented as giving it" in finding.detail
    blank = MedicareVisit()
    del blank.performer["qualification"]
    assert "no licence on record" in run(blank, policy)[CODE][0].detail


def test_unresolvable_performer_is_left_to_the_performer_rule(policy):
    visit = MedicareVisit()
    visit.resources.remove(visit.performer)
    found = run(visit, policy)
    assert CODE not in found and "performer" in found


@pytest.mark.parametrize("how", ["nucc", "degree", "role", "absolute"])
def test_chiropractor_performing_is_statutorily_excluded_in_every_form(policy, how):
    visit = MedicareVisit(PT)
    if how == "nucc":
        visit.performer.update(credential(DC))
    elif how == "degree":
        visit.performer.update(credential("DC", V2_DEGREE))
    elif how == "role":
        person = visit.add({"resourceType": "Practitioner"})
        role = visit.add({"resourceType": "PractitionerRole", "practitioner": {"reference": ref(person)},
                          "code": [concept(DC, NUCC)]})
        visit.massage["performer"] = [{"actor": {"reference": ref(role)}}]
    else:
        visit.performer.update(credential(DC))
        visit.massage["performer"] = [{"actor": {"reference": f"https://ehr.example.org/fhir/{ref(visit.performer)}"}}]
    [finding] = run(visit, policy)[CODE]
    assert "statutorily excluded" in finding.summary and "a chiropractor gave it" in finding.detail


def test_chiropractor_ordering_is_statutorily_excluded(policy):
    visit = MedicareVisit(PT)
    order = visit.order_by(visit.chiropractor(), days_before(20))
    visit.massage["basedOn"] = [{"reference": ref(order)}]
    [finding] = run(visit, policy)[CODE]
    assert "a chiropractor ordered it" in finding.detail
    assert ref(order) not in finding.evidence and order["requester"]["reference"] in finding.evidence


def test_claim_referral_names_the_orderer(policy):
    visit = MedicareVisit(PT)
    referral = visit.order_by(visit.chiropractor(), days_before(30))
    visit.order_by(visit.physician, days_before(10))
    assert CODE not in run(visit, policy)
    visit.claim["referral"] = {"reference": ref(referral)}
    assert "a chiropractor ordered it" in run(visit, policy)[CODE][0].detail


def test_latest_order_before_the_visit_names_the_orderer(policy):
    visit = MedicareVisit(PT)
    visit.order_by(visit.chiropractor(), days_before(40))
    assert CODE in run(visit, policy)
    visit.order_by(visit.physician, days_before(10))  # the physician's newer order replaces it
    assert CODE not in run(visit, policy)
    visit.order_by(visit.chiropractor(), days_before(5), status="revoked")
    assert CODE not in run(visit, policy)


@pytest.mark.parametrize("payer", ["Blue Cross NC", "MedCost", "State Health Plan", "Acme Health"])
def test_commercial_payers_pay_massage_therapists_and_chiropractors(policy, payer):
    for performer in (LMT, DC):
        assert CODE not in run(MedicareVisit(performer, payer=payer, modifiers=()), policy)


def test_a_profile_opts_in_with_its_own_value_set(tmp_path):
    extra = tmp_path / "clinic.toml"
    extra.write_text('[profiles.tricare]\nname = "Tricare"\nmedicare_coverage = true\n'
                     'paid_performers = "medicare-performers"\n')
    assert CODE in run(MedicareVisit(LMT, payer="Tricare", modifiers=()), load_policy(extra))
    extra.write_text('[profiles.tricare]\nname = "Tricare"\nmedicare_coverage = true\n')
    # Its list is today's qualified performers: a massage therapist is paid, a chiropractor never is.
    assert CODE not in run(MedicareVisit(LMT, payer="Tricare", modifiers=()), load_policy(extra))
    assert CODE in run(MedicareVisit(DC, payer="Tricare", modifiers=()), load_policy(extra))


def test_two_suggestions_remove_first_then_gy_and_gp(policy):
    visit = MedicareVisit(LMT, modifiers=())
    [finding] = run(visit, policy)[CODE]
    remove, keep = finding.fixes
    assert remove.remove and remove.sequence == 1
    assert keep.modifiers == ("GP", "GY") and "GY" in finding.detail


@pytest.mark.parametrize("which", [0, 1])
def test_each_suggestion_makes_the_card_go_away(policy, which):
    visit = MedicareVisit(DC, modifiers=("59",))
    visit.claim_line("98940")
    [finding] = run(visit, policy)[CODE]
    visit.claim = apply(finding.fixes[which], visit.claim)
    assert CODE not in run(visit, policy)
    if which == 1:
        assert line_modifiers(visit.claim, 1) == ["59", "GP", "GY"]
        assert not {"modifier-59", "modifier-gp", "modifier-cq-co"} & set(run(visit, policy))


def test_line_billed_with_gy_is_left_alone(policy):
    assert CODE not in run(MedicareVisit(LMT, modifiers=("GP", "GY")), policy)


def test_removing_the_line_keeps_claim_totals(policy):
    visit = MedicareVisit(LMT)
    visit.claim_line("97110", units=2)
    for item, price in zip(visit.claim["item"], (38.0, 42.0), strict=True):
        item["unitPrice"] = {"value": price, "currency": "USD"}
        item["net"] = {"value": price * item["quantity"]["value"], "currency": "USD"}
    visit.claim["total"] = {"value": 122.0, "currency": "USD"}
    [finding] = run(visit, policy)[CODE]
    apply_fix(visit, finding)
    assert [i["productOrService"]["coding"][0]["code"] for i in visit.claim["item"]] == ["97110"]
    assert visit.claim["total"]["value"] == 84.0


def test_card_offers_both_updates_over_http(client):
    visit = MedicareVisit(LMT)
    response = client.post(CLAIM_SERVICE, json=visit.request("claim-prepare"))
    [card] = [c for c in response.get_json()["cards"] if c["source"]["topic"]["code"] == CODE]
    first, second = card["suggestions"]
    assert first["isRecommended"] and not second["isRecommended"]
    assert not first["actions"][0]["resource"].get("item")  # the only line removed
    assert line_modifiers(second["actions"][0]["resource"], 1) == ["GP", "GY"]
    assert card["selectionBehavior"] == "at-most-one" and card["indicator"] == "critical"
