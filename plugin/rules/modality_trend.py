"""modality-trend: therapy use should fall as objective measures improve.

Deliberately simple: over the patient's last three therapy visits (up to this one), "use" is the
number of completed therapy services per visit. It is "not decreasing" when the latest visit has
at least as many as the first. "Improving" means a measure taken in that span moved the good way
from its first to its last value: pain scores (value set pain-scores) down, range of motion in
degrees (UCUM `deg`) up. Other measures are left alone because their good direction is unknown.

Source: HNS Policies: Documentation/Billing, Massage Therapy 97124 (utilisation trend)
https://healthnetworksolutions.net/index.php/massage-therapy-97124
"""
from collections.abc import Iterator
from typing import Any

from plugin.facts import codings, for_patient, observation_day, visit_day
from plugin.findings import Finding, Severity
from plugin.policy import Policy
from plugin.record import Record
from plugin.rules._billing import therapy_days
from plugin.rules._rule import CLAIM_ONLY, Rule
from plugin.vocabulary import HNS_97124
from plugin.wording import day_label

RULE = Rule(
    code="modality-trend",
    title="Therapy use not decreasing as the patient improves",
    description=("Therapy use should decrease as the patient improves. Over the last three therapy visits, "
                 "flags when the number of therapy services per visit has not fallen while a pain score fell "
                 "or a range-of-motion measure rose."),
    citation=HNS_97124.at("Massage Therapy 97124 (utilisation trend)"),
    subjects=CLAIM_ONLY,
    severity=Severity.INFO,
)

VISITS = 3
DEGREES = "deg"


def _improvements(record: Record, policy: Policy, first: Any, last: Any) -> list[tuple[str, str, float, float, list[str]]]:
    """(measure, direction, first value, last value, refs) for measures that improved in [first, last]."""
    pain = policy.valueset("pain-scores")
    series: dict[str, list[Any]] = {}
    for obs in for_patient(record, "Observation"):
        day, value = observation_day(obs, record), obs.valueQuantity
        if obs.status in ("entered-in-error", "cancelled") or day is None or value is None or value.value is None:
            continue
        if not first <= day <= last or not codings(obs.code):
            continue
        coding = codings(obs.code)[0]
        if pain.contains(coding.system, coding.code):
            direction = "down"
        elif DEGREES in (value.code, value.unit):
            direction = "up"
        else:
            continue
        name = obs.code.text or coding.display or coding.code
        series.setdefault(f"{coding.system}|{coding.code}", []).append((day, float(value.value), name,
                                                                          direction, Record.ref_of(obs)))
    out = []
    for points in series.values():
        points.sort(key=lambda p: p[0])
        (d0, v0, name, direction, r0), (d1, v1, *_rest, r1) = points[0], points[-1]
        if d0 < d1 and ((direction == "down" and v1 < v0) or (direction == "up" and v1 > v0)):
            out.append((name, direction, v0, v1, [r0, r1]))
    return out


@RULE.checks
def check(record: Record, policy: Policy) -> Iterator[Finding]:
    today = visit_day(record)
    if today is None:
        return
    days = [d for d in therapy_days(record, policy) if d <= today][-VISITS:]
    if len(days) < VISITS:
        return
    by_day = therapy_days(record, policy)
    use = [len(by_day[d]) for d in days]
    if use[-1] < use[0]:
        return
    improved = _improvements(record, policy, days[0], today)
    if not improved:
        return
    trend = ", ".join(f"{day_label(d)}: {n}" for d, n in zip(days, use, strict=True))
    measures = "; ".join(f"{name} {v0:g} → {v1:g} ({'lower' if way == 'down' else 'higher'} is better)"
                         for name, way, v0, v1, _refs in improved)
    yield RULE.finding(
        summary="The patient is improving but therapy per visit is not decreasing: review the plan.",
        detail=(f"Therapy services per visit over the last {VISITS} visits: {trend}. Measures improved: "
                f"{measures}. As the patient improves, therapy should taper; document why the same "
                "intensity is still needed, or reduce it."),
        evidence=[r for *_x, refs in improved for r in refs] + [Record.ref_of(p) for p in by_day[days[-1]]])
