import pytest

from tests.builders import NUCC, Visit, concept, ref
from tests.rules.billing_support import run

V2_DEGREE = "http://terminology.hl7.org/CodeSystem/v2-0360"


def visit_by(performer_maker, **proc_extra) -> Visit:
    visit = Visit()
    performer = performer_maker(visit) if performer_maker else None
    proc = visit.procedure("97124", minutes=15, performer=performer)
    proc.update(proc_extra)
    visit.claim_line("97124")
    return visit


@pytest.mark.parametrize("taxonomy", ["225700000X", "225100000X", "111N00000X", "207Q00000X", "208100000X",
                                      "225X00000X", "225200000X", "224Z00000X"])
def test_silent_for_qualified_performers(policy, taxonomy):
    assert "performer" not in run(visit_by(lambda v: v.practitioner(taxonomy)), policy)


def test_silent_for_md_degree_and_for_a_role_code(policy):
    def md(v):
        return v.add({"resourceType": "Practitioner", "qualification": [{"code": concept("MD", V2_DEGREE)}]})

    assert "performer" not in run(visit_by(md), policy)

    def role(v):
        person = v.add({"resourceType": "Practitioner"})
        return v.add({"resourceType": "PractitionerRole", "practitioner": {"reference": ref(person)},
                      "code": [concept("225700000X", NUCC)]})
    assert "performer" not in run(visit_by(role), policy)


@pytest.mark.parametrize("taxonomy", ["2255A2300X", "247100000X", "3747P1801X"])
def test_fires_critical_for_aides_assistants_and_technicians(policy, taxonomy):
    visit = visit_by(lambda v: v.practitioner(taxonomy))
    [finding] = run(visit, policy)["performer"]
    assert finding.severity.value == "critical"
    proc = next(r for r in visit.resources if r["resourceType"] == "Procedure")
    practitioner = next(r for r in visit.resources if r["resourceType"] == "Practitioner")
    assert finding.evidence == (ref(proc), ref(practitioner))


def test_fires_when_performer_is_missing_or_unresolvable(policy):
    [missing] = run(visit_by(None), policy)["performer"]
    assert "no performer documented" in missing.summary
    ghost = visit_by(None, performer=[{"actor": {"reference": "Practitioner/not-here"}}])
    [unknown] = run(ghost, policy)["performer"]
    assert "performer not documented" in unknown.summary and "does not say who the performer is" in unknown.detail


def test_fires_for_group_service(policy):
    group = concept("group", "http://example.org/service-mode", text="Group session")
    visit = visit_by(lambda v: v.practitioner("225100000X"), category=group)
    [finding] = run(visit, policy)["performer"]
    assert "group" in finding.summary
    extension = [{"url": "http://example.org/fhir/StructureDefinition/group-therapy", "valueBoolean": True}]
    assert "performer" in run(visit_by(lambda v: v.practitioner("225100000X"), extension=extension), policy)
    assert "performer" not in run(visit_by(lambda v: v.practitioner("225100000X"),
                                           category=concept("386053000", "http://snomed.info/sct",
                                                            text="Evaluation procedure")), policy)


def test_fires_when_the_service_is_coded_as_group_therapy(policy):
    visit = visit_by(lambda v: v.practitioner("225100000X"),
                     category=concept("97150", "http://www.ama-assn.org/go/cpt"))
    [finding] = run(visit, policy)["performer"]
    assert "group" in finding.summary
