from tests.builders import SNOMED, Visit, concept
from tests.rules.billing_support import run

LUMBAR = "Lumbar region"


def visit_with(massage_site=LUMBAR, manual_site=LUMBAR, cmt_site=None) -> Visit:
    visit = Visit()
    visit.procedure("97124", minutes=15, body_site=massage_site)
    visit.procedure("97140", minutes=15, body_site=manual_site)
    if cmt_site:
        visit.procedure("98940", body_site=cmt_site)
        visit.claim_line("98940")
    visit.claim_line("97124")
    visit.claim_line("97140")
    return visit


def test_fires_when_97124_and_97140_share_a_region_ignoring_case(policy):
    visit = visit_with(massage_site="lumbar REGION")
    [finding] = run(visit, policy)["same-region-97140"]
    procs = [r["id"] for r in visit.resources if r["resourceType"] == "Procedure"]
    assert finding.evidence == tuple(sorted(f"Procedure/{p}" for p in procs))
    assert "Lumbar region" in finding.summary


def test_fires_when_97140_treats_the_manipulated_region(policy):
    visit = visit_with(massage_site="Cervical region", manual_site="Thoracic region", cmt_site="thoracic region")
    [finding] = run(visit, policy)["same-region-97140"]
    assert "manipulation" in finding.summary


def test_matches_coded_regions_on_claim_lines(policy):
    visit = Visit()
    visit.procedure("97124", minutes=15, body_site=None)
    visit.procedure("97140", minutes=15, body_site=None)
    visit.claim_line("97124")["bodySite"] = concept("122496007", SNOMED, text="Lumbar spine")
    visit.claim_line("97140")["bodySite"] = concept("122496007", SNOMED)
    [finding] = run(visit, policy)["same-region-97140"]
    assert finding.evidence == ("Claim.item[1]", "Claim.item[2]")


def test_silent_on_different_regions_or_without_97140(policy):
    assert "same-region-97140" not in run(visit_with(massage_site="Cervical region", cmt_site="Sacral region"),
                                          policy)
    visit = Visit()
    visit.procedure("97124", minutes=15)
    visit.procedure("98940")
    visit.claim_line("97124")
    assert "same-region-97140" not in run(visit, policy)
