"""audit-visit-count: more than three 97124 visits in the episode draws payer review.

Source: HNS Policies: Documentation/Billing, Massage Therapy 97124 (utilisation)
https://healthnetworksolutions.net/index.php/massage-therapy-97124
"""
from collections.abc import Iterator
from datetime import date
from typing import Any

from plugin.facts import cpt_codes, patient_procedures, payer_profile, procedure_day, visit_day
from plugin.findings import Finding, Severity
from plugin.policy import Policy
from plugin.record import Record
from plugin.rules._billing import episode_window
from plugin.rules._rule import CLAIM_ONLY, Rule
from plugin.vocabulary import HNS_97124, MASSAGE
from plugin.wording import day_label

RULE = Rule(
    code="audit-visit-count",
    title="Many 97124 visits in the episode",
    description=("Payers scrutinise more than three visits with 97124 in an episode of care (threshold per "
                 "payer profile: audit_visits_over). Visits are the distinct dates of completed 97124 "
                 "services within the active plan-of-care period, else the 12 months before this visit, "
                 "counting this visit."),
    citation=HNS_97124.at("Massage Therapy 97124 (utilisation)"),
    subjects=CLAIM_ONLY,
    severity=Severity.INFO,
)


@RULE.checks
def check(record: Record, policy: Policy) -> Iterator[Finding]:
    today = visit_day(record)
    if today is None:
        return
    first, last, basis = episode_window(record, today)
    dated: dict[date, Any] = {}
    for proc in patient_procedures(record):
        day = procedure_day(proc, record)
        if proc.status == "completed" and MASSAGE in cpt_codes(proc.code) and day and first <= day <= last:
            dated.setdefault(day, Record.ref_of(proc))
    visits = set(dated) | {today}
    limit = payer_profile(record, policy).audit_visits_over
    if len(visits) <= limit:
        return
    yield RULE.finding(
        summary=f"This is 97124 visit {len(visits)} in the episode; payers review more than {limit}.",
        detail=(f"Massage dates within {basis} ({day_label(first)} to {day_label(last)}): "
                + ", ".join(day_label(d) for d in sorted(visits)) + ". Show progress toward the goals "
                "at each visit and why massage is still needed."),
        evidence=[dated[d] for d in sorted(dated)])
