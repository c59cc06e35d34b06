"""time-in-out: units come from the clock, so the 97124 service needs a documented time in and out.

Source: CMS Benefit Policy Manual, ch. 15, §220.3 (timed-code treatment minutes)
https://www.cms.gov/Regulations-and-Guidance/Guidance/Manuals/Downloads/bp102c15.pdf
"""
from collections.abc import Iterator

from plugin.facts import (
    clock_minutes,
    cpt_codes,
    line_ref,
    massage_lines,
    massage_procedures,
    untimed_services,
)
from plugin.findings import Finding, Severity
from plugin.policy import Policy
from plugin.record import Record
from plugin.rules._rule import CLAIM_ONLY, Rule
from plugin.vocabulary import CMS_BENEFIT_POLICY_CH15
from plugin.wording import labels, sentence

RULE = Rule(
    code="time-in-out",
    title="Time in and time out documented",
    description=("The 97124 service must carry a clock start and end time (Procedure.performedPeriod "
                 "with times of day); without them its units cannot be counted under the 8-minute rule. "
                 "Under the CMS total-time method the visit's other timed services need them too, since "
                 "their minutes decide 97124's share of the units."),
    citation=CMS_BENEFIT_POLICY_CH15.at("§220.3 (timed-code treatment minutes)"),
    subjects=CLAIM_ONLY,
    severity=Severity.CRITICAL,
    needs_complete=("procedures",),
)


@RULE.checks
def check(record: Record, policy: Policy) -> Iterator[Finding]:
    procedures = massage_procedures(record)
    if not procedures:
        lines = massage_lines(record)
        yield RULE.finding(
            summary="Document the 97124 time in and time out: no massage service record for this visit.",
            detail=("The claim bills 97124 but this visit has no completed massage service record, so there "
                    "is no clock time to count units from."),
            evidence=[line_ref(line) for line in lines])
        return
    untimed = [p for p in procedures if clock_minutes(p) is None]
    others = untimed_services(record, policy)
    if not untimed and others:
        refs = [Record.ref_of(p) for p in others]
        codes = ", ".join(sorted({c for p in others for c in cpt_codes(p.code)})[:3])
        yield RULE.finding(
            summary=f"Document time in and out for {codes} too: 97124's units depend on all timed minutes.",
            detail=("The payer's CMS total-time method shares units across all timed services of the "
                    "visit, so 97124's units cannot be counted until " + labels(record, others)
                    + " has clock start and end times."),
            evidence=refs)
    if untimed:
        refs = [Record.ref_of(p) for p in untimed]
        yield RULE.finding(
            summary="Document the 97124 time in and time out before billing; units cannot be counted.",
            detail=sentence(labels(record, untimed)) + " lacks a clock time in or time out.",
            evidence=refs)
