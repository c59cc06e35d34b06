"""How cards name things (plugin.wording): in a clinician's words, never by id or element path."""
from datetime import date

from plugin.wording import day_label, label, labels, person, quote, sentence
from tests.builders import Visit, concept


def record_with(*resources: dict, hook: str = "claim-prepare"):
    visit = Visit()
    for resource in resources:
        visit.add(resource)
    visit.procedure("97124", minutes=15)
    visit.claim_line("97124")
    return visit.record(hook), visit


def test_dates_are_day_month_year():
    assert day_label(date(2026, 2, 3)) == "3 Feb 2026" and day_label(None) == ""


def test_a_diagnosis_is_its_code_and_words():
    cond = {"resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/pat-1"},
            "code": concept("M62.830", "http://hl7.org/fhir/sid/icd-10-cm", "Muscle spasm of back")}
    record, _ = record_with(cond)
    assert label(record, record.resolve("Condition/c1")) == "the diagnosis M62.830 Muscle spasm of back"


def test_a_service_and_an_order_are_named_by_date_and_kind():
    record, visit = record_with()
    [proc] = record.all("Procedure")
    assert label(record, proc) == "the 2 Mar 2026 massage (97124)"
    visit.order("97124")
    order_record = visit.record("order-sign")
    assert label(order_record, order_record.draft_orders[0]) == "the massage order of 2 Mar 2026"


def test_people_by_name_and_licence_or_by_what_is_known():
    pract = {"resourceType": "Practitioner", "id": "p1", "name": [{"given": ["Rosa"], "family": "Alvarez"}],
             "qualification": [{"code": {"text": "Physical Therapist"}}]}
    record, _ = record_with(pract)
    assert person(record, "Practitioner/p1") == "Rosa Alvarez (Physical Therapist)"
    assert person(record, None) == "someone unidentified"


def test_lists_quotes_and_sentences():
    record, visit = record_with()
    visit.procedure("97110", minutes=10)
    procs = visit.record().all("Procedure")
    assert labels(record, procs[:1]) == "the 2 Mar 2026 massage (97124)"
    assert " and " in labels(visit.record(), procs)
    assert quote("x" * 100).endswith("…”") and len(quote("x" * 100)) <= 50
    assert sentence("the plan of care") == "The plan of care"
