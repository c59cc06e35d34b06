"""progress-report: under Medicare the therapist writes a progress report at least once every 10 treatment
days of the episode; a re-evaluation counts as one.

Source: CMS Benefit Policy Manual, ch. 15, §220.3 D (progress report, at least once every 10 treatment days)
https://www.cms.gov/Regulations-and-Guidance/Guidance/Manuals/Downloads/bp102c15.pdf
"""
from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

from plugin.dates import first_day
from plugin.facts import (
    codings,
    cpt_codes,
    for_patient,
    patient_procedures,
    payer_profile,
    procedure_day,
    visit_day,
)
from plugin.findings import Finding, Severity
from plugin.policy import Policy
from plugin.record import Record
from plugin.rules._billing import PLAN_EVIDENCE, active_plan_start, credentials, holds, therapy_days
from plugin.rules._rule import CLAIM_ONLY, Rule
from plugin.vocabulary import CMS_BENEFIT_POLICY_CH15, CPT

RULE = Rule(
    code="progress-report",
    title="Progress report within the last treatment days",
    description=("The therapist (or a physician/NPP) writes a progress report at least once every "
                 "progress_report_days treatment days (Medicare: 10). Treatment days are the distinct dates of the "
                 "patient's therapy Procedures since the plan of care started, or since the latest report. A report "
                 "is a DocumentReference whose type is in the progress-reports value set (LOINC 11508-9, 11507-1, "
                 "11512-1), dated, written or authenticated by someone in progress-report-authors (an assistant's "
                 "report does not count), or a completed re-evaluation (CPT 97164, 97168). Off for payer profiles "
                 "without the setting; quiet without an active plan of care (plan-of-care speaks then)."),
    citation=CMS_BENEFIT_POLICY_CH15.at("§220.3 D (progress report, at least once every 10 treatment days)"),
    subjects=CLAIM_ONLY,
    severity=Severity.WARNING,
    needs_complete=PLAN_EVIDENCE,
    silenced_by=("reports",),  # a report only restarts the count
    payer_settings=("progress_report_days",),
)

AUTHORS = "progress-report-authors"


def _by_a_clinician(record: Record, policy: Policy, doc: Any) -> bool:
    """Written or authenticated by a therapist or physician/NPP; a signer whose licence cannot be read
    is given the benefit of the doubt (absence is not concluded from partial data)."""
    people = [*(doc.author or []), *([doc.authenticator] if doc.authenticator else [])]
    known = [p for p in people if credentials(record, p, doc) is not None]
    return bool(people) and (len(known) < len(people) or any(holds(record, policy, p, AUTHORS, doc) for p in known))


def reports(record: Record, policy: Policy, start: date, day: date) -> list[tuple[date, str]]:
    """(day, evidence) of each progress report or re-evaluation between `start` and `day`, oldest first."""
    found = []
    types = policy.valueset("progress-reports")
    for doc in for_patient(record, "DocumentReference"):
        when = first_day(doc.date) or (first_day(doc.context.period.start) if doc.context and doc.context.period else None)
        typed = any(types.contains(c.system, c.code) for c in codings(doc.type))
        if typed and when is not None and start <= when <= day and doc.status != "entered-in-error" \
                and _by_a_clinician(record, policy, doc):
            found.append((when, Record.ref_of(doc)))
    re_evaluations = policy.valueset("re-evaluation-codes")
    for proc in patient_procedures(record):
        when = procedure_day(proc, record)
        if proc.status == "completed" and when is not None and start <= when <= day \
                and any(re_evaluations.contains(CPT, c) for c in cpt_codes(proc.code)):
            found.append((when, Record.ref_of(proc)))
    return sorted(found)


@RULE.checks
def check(record: Record, policy: Policy) -> Iterator[Finding]:
    profile = payer_profile(record, policy)
    day = visit_day(record)
    if not profile.progress_report_days or day is None:
        return
    if (episode := active_plan_start(record, day)) is None:
        return
    plan, start = episode
    found = reports(record, policy, start, day)
    since = found[-1][0] if found else None
    counted = [d for d in therapy_days(record, policy) if (d > since if since else d >= start) and d <= day]
    if len(counted) <= profile.progress_report_days:
        return
    anchor = (f"the latest progress report on {since.isoformat()}" if since
              else f"the plan of care started on {start.isoformat()}")
    yield RULE.finding(
        summary=(f"Write the therapist's progress report: {len(counted)} treatment days without one "
                 f"(due every {profile.progress_report_days})."),
        detail=(f"This visit is treatment day {len(counted)} since {anchor} ({counted[0].isoformat()} to "
                f"{counted[-1].isoformat()}). Under {profile.name} a progress report by the therapist (or a "
                f"re-evaluation) is due at least once every {profile.progress_report_days} treatment days."),
        evidence=[Record.ref_of(plan), *[ref for _, ref in found[-1:]]])
