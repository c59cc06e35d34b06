"""JSON in and out of the service keeps FHIR decimals exact."""
from decimal import Decimal

from cds_hooks import fhir_json


def test_decimals_round_trip_digit_for_digit():
    text = '{"a": 38.00, "b": 2, "c": 0.10, "d": -1.5e3, "e": [1.000]}'
    value = fhir_json.loads(text)
    assert value["a"] == Decimal("38.00") and isinstance(value["b"], int)
    assert fhir_json.dumps(value) == '{"a": 38.00, "b": 2, "c": 0.10, "d": -1.5E+3, "e": [1.000]}'


def test_responses_carry_exact_decimals(client):
    from tests.builders import Visit
    visit = Visit()
    visit.procedure("97124", minutes=30)
    line = visit.claim_line("97124", units=1)
    line["unitPrice"] = {"value": Decimal("38.00"), "currency": "USD"}
    line["net"] = {"value": Decimal("38.00"), "currency": "USD"}
    response = client.post("/cds-services/massage-97124-claim-check",
                           data=fhir_json.dumps(visit.request("claim-prepare")), content_type="application/json")
    assert response.status_code == 200
    assert b'"unitPrice": {"value": 38.00' in response.get_data()
    assert b'"net": {"value": 76.00' in response.get_data()
