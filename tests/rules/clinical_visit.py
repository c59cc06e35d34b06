"""A fully documented, medically necessary 97124 visit, and ways to take parts of it away.

The medical-necessity and documentation rules each test that this visit is quiet and that
removing or changing the one part they guard makes them speak.
"""
from __future__ import annotations

from plugin import Record, rule
from tests.builders import Visit, ref

SERVICES = {"order-sign": "/cds-services/massage-97124-order-check",
            "claim-prepare": "/cds-services/massage-97124-claim-check"}
PAIN_SCORE = "72514-3"   # LOINC pain severity 0-10
PREVIOUS_VISIT = "2026-02-23"
WEEKLY_TWICE_FOR_4_WEEKS = {"repeat": {"frequency": 2, "period": 1, "periodUnit": "wk",
                                       "boundsDuration": {"value": 4, "unit": "wk",
                                                          "system": "http://unitsofmeasure.org",
                                                          "code": "wk"}}}


def documented_visit(*, spasm: bool = True, procedure: dict | None = None, order: dict | None = None,
                     goals: bool = True, care_plan: bool = True, measures: bool = True) -> tuple[Visit, dict]:
    """The visit and its named parts. Keyword overrides replace fields of the 97124 Procedure/order."""
    visit = Visit()
    parts: dict = {"therapist": visit.practitioner()}
    condition = visit.condition("M62.830", text="Muscle spasm of back") if spasm else None
    parts["condition"] = condition
    reasons = {"reasonReference": [{"reference": ref(condition)}]} if condition else {}
    parts["procedure"] = visit.procedure(
        "97124", minutes=23, performer=parts["therapist"],
        note="Effleurage and petrissage to lumbar paraspinals; spasm improved since last visit.",
        **reasons)
    parts["procedure"].update(procedure or {})
    if measures:
        parts["before"] = visit.observation(PAIN_SCORE, 6, "{score}", day=PREVIOUS_VISIT, text="Pain severity")
        parts["today"] = visit.observation(PAIN_SCORE, 4, "{score}", text="Pain severity")
    if goals:
        parts["functional"] = visit.goal("Able to sit at work for 2 hours independently within 4 weeks",
                                         due="2026-03-30", measure=PAIN_SCORE, achievement="improving")
        parts["massage_goal"] = visit.goal("Reduce spasm and improve circulation of lumbar muscles")
    if care_plan:
        parts["care_plan"] = visit.care_plan(
            goals=tuple(parts[k] for k in ("functional", "massage_goal") if k in parts),
            addresses=(condition,) if condition else ())
    parts["line"] = visit.claim_line("97124", units=2)
    if condition:
        visit.claim_diagnosis("M62.830")
    parts["order"] = visit.order("97124", occurrenceTiming=WEEKLY_TWICE_FOR_4_WEEKS,
                                 **{**reasons, **(order or {})})
    return visit, parts


def findings(code: str, record: Record, policy) -> list:
    return list(rule(code).check(record, policy))


def card(client, visit: Visit, hook: str, code: str) -> dict | None:
    """The card of one rule code from a real request to the service (None if it did not fire)."""
    resp = client.post(SERVICES[hook], json=visit.request(hook))
    assert resp.status_code == 200, resp.get_json()
    cards = [c for c in resp.get_json()["cards"] if c["source"]["topic"]["code"] == code]
    return cards[0] if cards else None


HOOKS = ("order-sign", "claim-prepare")


def claim_without_service() -> Visit:
    """A claim that bills 97124 with no 97124 service record behind it (time-in-out's case)."""
    visit = Visit()
    visit.claim_line("97124", units=1)
    return visit


def quiet(code: str, policy, visit: Visit, hooks: tuple[str, ...] = ("claim-prepare",)) -> bool:
    """Whether the rule finds nothing in the visit on each of the hooks."""
    return all(findings(code, visit.record(hook), policy) == [] for hook in hooks)
