"""audit-multiple-units: more than one unit of 97124 on a date draws payer review.

Source: HNS Policies: Documentation/Billing, Massage Therapy 97124 (utilisation)
https://healthnetworksolutions.net/index.php/massage-therapy-97124
"""
from collections import defaultdict
from collections.abc import Iterator

from plugin.facts import item_day, line_ref, massage_lines, payer_profile
from plugin.facts import item_quantity as quantity
from plugin.findings import Finding, Severity
from plugin.policy import Policy
from plugin.record import Record
from plugin.rules._rule import CLAIM_ONLY, Rule
from plugin.vocabulary import HNS_97124
from plugin.wording import day_label

RULE = Rule(
    code="audit-multiple-units",
    title="Several 97124 units on one date",
    description=("Payers scrutinise more than one unit of 97124 on the same date (threshold per payer "
                 "profile: audit_units_over). Not a denial: the note must make the time and the need plain."),
    citation=HNS_97124.at("Massage Therapy 97124 (utilisation)"),
    subjects=CLAIM_ONLY,
    severity=Severity.INFO,
)

MUST_SHOW = (
    "time in and out supporting every unit",
    "the reason for massage and the goals it serves",
    "regions treated and techniques used",
    "objective measures and progress since the last visit",
    "the therapist's signature and the supervising doctor's countersignature",
)


@RULE.checks
def check(record: Record, policy: Policy) -> Iterator[Finding]:
    limit = payer_profile(record, policy).audit_units_over
    by_day = defaultdict(list)
    for line in massage_lines(record):
        by_day[item_day(line)].append(line)
    for day, lines in by_day.items():
        units = sum(quantity(line) for line in lines)
        if units <= limit:
            continue
        when = day_label(day) or "the date of service"
        yield RULE.finding(
            summary=f"{units} units of 97124 on {when} may draw an audit: make the note airtight.",
            detail=(f"Billed {units} unit(s) of 97124 on {when}; payers review more than {limit}. "
                    "The documentation must show:\n" + "\n".join(f"- {item}" for item in MUST_SHOW)),
            evidence=[line_ref(line) for line in lines])
