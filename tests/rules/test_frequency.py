from tests.builders import Visit, ref
from tests.rules.clinical_visit import card, documented_visit, findings

CODE = "frequency"


def test_fires_as_info_when_the_order_has_no_timing(policy):
    visit = Visit()
    order = visit.order("97124")
    [finding] = findings(CODE, visit.record("order-sign"), policy)
    assert finding.severity.value == "info"
    assert finding.evidence == (ref(order),) and "gives no frequency" in finding.detail


def test_fires_when_the_timing_gives_a_rate_without_a_period(policy):
    visit = Visit()
    visit.order("97124", occurrenceTiming={"repeat": {"frequency": 2}})
    [finding] = findings(CODE, visit.record("order-sign"), policy)
    assert "gives no frequency" in finding.detail


def test_count_of_sessions_is_enough(policy):
    visit = Visit()
    visit.order("97124", occurrenceTiming={"repeat": {"count": 8}})
    assert findings(CODE, visit.record("order-sign"), policy) == []


def test_quiet_for_documented_order(policy):
    visit, _ = documented_visit()
    assert findings(CODE, visit.record("order-sign"), policy) == []


def test_card_over_http_names_the_order(client):
    visit = Visit()
    order = visit.order("97124")
    found = card(client, visit, "order-sign", CODE)
    assert found is not None and found["indicator"] == "info" and f"`{ref(order)}`" in found["detail"]


def test_a_named_schedule_is_a_frequency(policy):
    visit = Visit()
    visit.order("97124", occurrenceTiming={"code": {"coding": [
        {"system": "http://terminology.hl7.org/CodeSystem/v3-GTSAbbreviation", "code": "BID"}]}})
    assert findings(CODE, visit.record("order-sign"), policy) == []
