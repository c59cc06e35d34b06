"""indication: the 97124 service must carry its rationale (a reason).

Source: Coding Ahead, CPT Code 97124 — Therapeutic Massage Therapy, Documentation
https://www.codingahead.com/cpt-code-97124-description-guidelines-reimbursement-modifiers-examples/
"""
from collections.abc import Iterator

from plugin.findings import Finding, Severity
from plugin.policy import Policy
from plugin.record import Record
from plugin.rules._clinical import lacking
from plugin.rules._rule import CLAIM_ONLY, Rule
from plugin.vocabulary import CODING_AHEAD_97124
from plugin.wording import labels

RULE = Rule(
    code="indication",
    title="Rationale for the massage documented",
    description=("The day's 97124 service must state why it was given: a reason code or a reference to "
                 "the condition it treats (Procedure.reasonCode or reasonReference)."),
    citation=CODING_AHEAD_97124.at("Documentation"),
    subjects=CLAIM_ONLY,
    severity=Severity.WARNING,
)


@RULE.checks
def check(record: Record, policy: Policy) -> Iterator[Finding]:
    bare = lacking(record, lambda p: bool(p.reasonCode or p.reasonReference))
    if bare:
        yield RULE.finding(
            summary="Document why the massage was given: add the reason to the 97124 service.",
            detail=(f"No reason is recorded on {labels(record, bare)}: name the diagnosis or condition "
                    "it treats."),
            evidence=[Record.ref_of(p) for p in bare])
