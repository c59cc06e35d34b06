"""modifier-cq-co: Medicare pays a 97124 furnished in whole or in part by a therapy assistant at 85%,
and the line says so: CQ for a physical therapy assistant, CO for an occupational therapy assistant.

Source: CMS Claims Processing Manual, ch. 5, §20.1 (therapy assistant modifiers CQ and CO, services furnished in whole or in part)
https://www.cms.gov/Regulations-and-Guidance/Guidance/Manuals/Downloads/clm104c05.pdf
"""
from collections.abc import Iterator

from plugin.facts import item_modifiers, line_ref, massage_lines, massage_procedures, payer_profile
from plugin.findings import BILLING_OVERRIDES, Finding, Severity
from plugin.policy import Policy
from plugin.record import Record
from plugin.rules._billing import (
    assistant_modifier,
    holds,
    modifiers_fix,
    performer_refs,
)
from plugin.rules._rule import CLAIM_ONLY, Rule
from plugin.vocabulary import CMS_CLAIMS_PROCESSING_CH5

RULE = Rule(
    code="modifier-cq-co",
    title="Modifier CQ or CO for services by a therapy assistant",
    description=("Under Medicare's coverage rules (profiles with medicare_coverage), a 97124 furnished in whole or "
                 "in part by a physical therapy assistant (NUCC 225200000X) carries CQ, by an occupational therapy "
                 "assistant (224Z*) CO, next to the discipline modifier; Medicare pays such services at 85%. An "
                 "assistant named among the Procedure's performers counts as furnishing part of it. A therapist who "
                 "furnished the whole service alone needs neither."),
    citation=CMS_CLAIMS_PROCESSING_CH5.at("§20.1 (therapy assistant modifiers CQ and CO, services furnished in whole or in part)"),
    subjects=CLAIM_ONLY,
    overrides=BILLING_OVERRIDES,
    severity=Severity.WARNING,
    payer_settings=("medicare_coverage",),
)


@RULE.checks
def check(record: Record, policy: Policy) -> Iterator[Finding]:
    profile = payer_profile(record, policy)
    wanted_modifier = assistant_modifier(record, policy) if profile.medicare_coverage else None
    if wanted_modifier is None:
        return
    assistants = [record.key(a, p) for p in massage_procedures(record) for a in performer_refs(p)
                  if holds(record, policy, a, "therapy-assistants", p)]
    procedures = [Record.ref_of(p) for p in massage_procedures(record)]
    kind = "a physical therapy assistant" if wanted_modifier == "CQ" else "an occupational therapy assistant"
    for line in massage_lines(record):
        if wanted_modifier in item_modifiers(line):
            continue
        yield RULE.finding(
            summary=f"Add modifier {wanted_modifier} to the 97124 line: {kind} furnished the massage.",
            detail=(f"{kind[0].upper()}{kind[1:]} is among those who gave today's massage, so under {profile.name} "
                    f"the line (sequence {line.sequence}) carries {wanted_modifier} next to the discipline "
                    "modifier; Medicare pays it at 85%."),
            evidence=[line_ref(line), *procedures, *assistants],
            fixes=[modifiers_fix(record, policy, line)])
