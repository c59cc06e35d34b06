from tests.builders import Visit
from tests.rules.billing_support import run

LOINC = "http://loinc.org"
DAYS = ["2026-02-16", "2026-02-23"]


def observation(visit, code, day, value, unit):
    return visit.add({"resourceType": "Observation", "status": "final",
                      "code": {"coding": [{"system": LOINC, "code": code}], "text": code},
                      "subject": {"reference": f"Patient/{visit.patient}"}, "effectiveDateTime": day,
                      "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org",
                                        "code": unit}})


def visit_with(per_visit=(2, 2, 2), pain=(7, 5, 3), rom=None) -> Visit:
    visit = Visit()
    for day, count in zip(DAYS, per_visit, strict=False):
        for code in ["97124", "97110", "97012"][:count]:
            visit.procedure(code, minutes=15, day=day)
    for code in ["97124", "97110", "97012"][:per_visit[-1]]:
        visit.procedure(code, minutes=15)
        visit.claim_line(code)
    for day, value in zip(DAYS + [visit.day], pain or (), strict=False):
        observation(visit, "72514-3", day, value, "{score}")
    for day, value in zip(DAYS + [visit.day], rom or (), strict=False):
        observation(visit, "41248-7", day, value, "deg")
    return visit


def test_fires_when_pain_falls_and_therapy_does_not(policy):
    [finding] = run(visit_with(), policy)["modality-trend"]
    assert finding.severity.value == "info"
    assert "16 Feb 2026: 2, 23 Feb 2026: 2, 2 Mar 2026: 2" in finding.detail
    assert "7 → 3" in finding.detail
    assert len(finding.evidence) == 4  # first and last pain score, this visit's two services


def test_fires_when_range_of_motion_rises(policy):
    [finding] = run(visit_with(pain=None, rom=(40, 55, 70)), policy)["modality-trend"]
    assert "40 → 70" in finding.detail


def test_silent_when_therapy_tapers_or_no_improvement_or_too_few_visits(policy):
    assert "modality-trend" not in run(visit_with(per_visit=(3, 2, 2)), policy)
    assert "modality-trend" not in run(visit_with(pain=(3, 5, 7)), policy)
    assert "modality-trend" not in run(visit_with(pain=None, rom=(70, 60, 50)), policy)
    short = Visit()
    short.procedure("97124", minutes=15)
    short.claim_line("97124")
    assert "modality-trend" not in run(short, policy)
