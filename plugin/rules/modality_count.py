"""modality-count: in the initial phase of care, more than two therapies in one visit is beyond usual.

Source: HNS Policies: Documentation/Billing, Massage Therapy 97124 (modalities per visit)
https://healthnetworksolutions.net/index.php/massage-therapy-97124
"""
from collections.abc import Iterator
from typing import Any

from plugin.dates import first_day
from plugin.facts import (
    item_day,
    line_ref,
    lines_on,
    massage_lines,
    payer_profile,
    visit_day,
    visit_procedures,
)
from plugin.findings import Finding, Severity
from plugin.policy import Policy
from plugin.record import Record
from plugin.rules._billing import active_care_plan, therapy_codes, therapy_days
from plugin.rules._rule import BOTH, Rule
from plugin.vocabulary import HNS_97124
from plugin.wording import label

RULE = Rule(
    code="modality-count",
    title="Therapies per visit in the initial phase",
    description=("In the initial phase of care (the first initial_phase_days of the plan of care, or the "
                 "first therapy visit when there is no plan) more than max_modalities_initial distinct "
                 "therapies/modalities in one visit is beyond usual and customary. Counts the visit's "
                 "completed therapy services plus the draft orders being signed or the draft claim's lines."),
    citation=HNS_97124.at("Massage Therapy 97124 (modalities per visit)"),
    subjects=BOTH,
    severity=Severity.WARNING,
    overrides=("clinical-judgement", "documentation-attached"),
    needs_complete=("carePlans", "procedures"),
)


def _initial_phase(record: Record, policy: Policy, day: Any) -> str | None:
    """Why this visit is in the initial phase, or None if it is not."""
    plan = active_care_plan(record, day)
    if plan is not None:
        since = (day - first_day(plan.period.start)).days
        limit = payer_profile(record, policy).initial_phase_days
        if since >= limit:  # day 0 is the plan's first day, so the phase is days 0 .. limit - 1
            return None
        return f"on day {since} of {label(record, plan)} (initial phase: {limit} days)"
    earlier = [d for d in therapy_days(record, policy) if d < day]
    return None if earlier else "the first therapy visit (no active plan of care)"


def _visit_services(record: Record, policy: Policy) -> dict[str, str]:
    """Therapy code -> where it was found, for this visit."""
    found: dict[str, str] = {}
    for proc in visit_procedures(record):
        for code in therapy_codes(proc.code, policy):
            found.setdefault(code, Record.ref_of(proc))
    for order in record.draft_orders:
        for code in therapy_codes(order.code, policy):
            found.setdefault(code, Record.ref_of(order))
    for day in {item_day(line) for line in massage_lines(record)}:
        for line in lines_on(record, day):
            for code in therapy_codes(line.productOrService, policy):
                found.setdefault(code, line_ref(line))
    return found


@RULE.checks
def check(record: Record, policy: Policy) -> Iterator[Finding]:
    day = visit_day(record)
    if day is None:
        return
    phase = _initial_phase(record, policy, day)
    if phase is None:
        return
    services = _visit_services(record, policy)
    limit = payer_profile(record, policy).max_modalities_initial
    if len(services) <= limit:
        return
    codes = sorted(services)
    yield RULE.finding(
        summary=f"{len(codes)} therapies in one initial-phase visit; usual is {limit} or fewer. Justify or trim.",
        detail=(f"This visit is {phase}. Therapies in it: {', '.join(codes)}; more than {limit} is beyond "
                "usual early in care. Document each one's type, reason, area and time, or drop those the plan "
                "does not need."),
        evidence=sorted(set(services.values())))
