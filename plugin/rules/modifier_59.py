"""modifier-59: 97124 billed the same date as an E/M or CMT code needs 59 (or an X modifier).

Source: CMS National Correct Coding Initiative, Procedure-to-procedure (PTP) edits, modifier 59
https://www.cms.gov/medicare-medicaid-coordination/national-correct-coding-initiative-ncci/ncci-medicare/medicare-ncci-procedure-procedure-ptp-edits
"""
from collections.abc import Iterator

from plugin.facts import line_ref, massage_lines
from plugin.findings import BILLING_OVERRIDES, Finding, Severity
from plugin.policy import Policy
from plugin.record import Record
from plugin.rules._billing import modifiers_fix, needs_distinct
from plugin.rules._rule import CLAIM_ONLY, Rule
from plugin.vocabulary import CMS_NCCI

RULE = Rule(
    code="modifier-59",
    title="Modifier 59 on 97124 with E/M or CMT",
    description=("NCCI pairs 97124 with chiropractic manipulation and E/M visits on the same date. When the "
                 "massage is a distinct service, its line carries modifier 59 (or XE/XS/XP/XU) so the edit "
                 "does not deny it; the note must support the distinct service."),
    citation=CMS_NCCI.at("Procedure-to-procedure (PTP) edits, modifier 59"),
    subjects=CLAIM_ONLY,
    severity=Severity.WARNING,
    overrides=BILLING_OVERRIDES,
    # That rule's fix sets 59 and GP in payer order, which covers this one.
    superseded_by=("modifier-59-gp-order",),
)


@RULE.checks
def check(record: Record, policy: Policy) -> Iterator[Finding]:
    for line in massage_lines(record):
        paired = needs_distinct(record, policy, line)
        if not paired:
            continue
        yield RULE.finding(
            summary=f"Add modifier 59 to the 97124 line: {paired[0]} is billed the same date.",
            detail=(f"Claim line {line.sequence} (97124) shares its date of service with "
                    f"{', '.join(sorted(set(paired)))}, an NCCI pair. Without 59 or an X modifier the massage "
                    "is bundled and denied. Use it only when the note shows a separate service "
                    "(different region or session)."),
            evidence=[line_ref(line)],
            fixes=[modifiers_fix(record, policy, line)])
