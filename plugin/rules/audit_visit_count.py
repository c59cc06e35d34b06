"""audit-visit-count: more than three 97124 visits in the episode draws payer review."""
from plugin.facts import (
    MASSAGE,
    cpt_codes,
    patient_procedures,
    payer_profile,
    procedure_day,
    visit_day,
)
from plugin.findings import Citation, Severity
from plugin.record import Record
from plugin.rules._billing import episode_window
from plugin.rules._rule import CP, Rule
from plugin.wording import day_label

RULE = Rule(
    code="audit-visit-count",
    title="Many 97124 visits in the episode",
    description=("Payers scrutinise more than three visits with 97124 in an episode of care (threshold per "
                 "payer profile: audit_visits_over). Visits are the distinct dates of completed 97124 "
                 "services within the active plan-of-care period, else the 12 months before this visit, "
                 "counting this visit."),
    citation=Citation("HNS Policies: Documentation/Billing", "Massage Therapy 97124 (utilisation)",
                      "https://healthnetworksolutions.net/index.php/massage-therapy-97124"),
    hooks=CP,
    severity=Severity.INFO,
)


@RULE.checks
def check(record, policy):
    today = visit_day(record)
    if today is None:
        return
    first, last, basis = episode_window(record, today)
    dated = {}
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
