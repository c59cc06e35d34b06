"""modifier-59-gp-order: payers on Zelis edits want 97124 with CMT coded 59 first, then GP.

Source: Coding Ahead, CPT Code 97124 — Therapeutic Massage Therapy, Modifiers (Zelis edits)
https://www.codingahead.com/cpt-code-97124-description-guidelines-reimbursement-modifiers-examples/
"""
from collections.abc import Iterator

from plugin.facts import item_modifiers, line_ref, massage_lines, payer_profile
from plugin.findings import BILLING_OVERRIDES, Finding, Severity
from plugin.policy import Policy
from plugin.record import Record
from plugin.rules._billing import (
    discipline,
    modifiers_fix,
    zelis_applies,
    zelis_order_ok,
)
from plugin.rules._rule import CLAIM_ONLY, Rule
from plugin.vocabulary import CODING_AHEAD_97124

RULE = Rule(
    code="modifier-59-gp-order",
    title="Modifiers 59 then GP for Zelis-edit payers",
    description=("Payers that run Zelis claim edits (BCBSNC, NC State Health Plan, MedCost, or any payer "
                 "profile with zelis_59_gp) deny 97124 billed with a chiropractic manipulation on the same "
                 "date unless the line carries modifier 59 followed by GP, in that order (GO or GN in place of "
                 "GP when the plan of care is occupational therapy or speech-language pathology)."),
    citation=CODING_AHEAD_97124.at("Modifiers (Zelis edits)"),
    subjects=CLAIM_ONLY,
    severity=Severity.WARNING,
    overrides=BILLING_OVERRIDES,
    payer_settings=("zelis_59_gp",),
)


@RULE.checks
def check(record: Record, policy: Policy) -> Iterator[Finding]:
    for line in massage_lines(record):
        cmt = zelis_applies(record, policy, line)
        mods = item_modifiers(line)
        if not cmt or zelis_order_ok(record, policy, mods):
            continue
        profile = payer_profile(record, policy)
        now = ", ".join(mods) if mods else "none"
        right = discipline(record, policy)
        because = "" if right.modifier == "GP" else f" ({right.modifier}: {right.reason})"
        yield RULE.finding(
            summary=(f"Code the 97124 line 59 then {right.modifier}: {profile.name} edits massage billed with "
                     f"CMT {cmt[0]}."),
            detail=(f"Payer **{profile.name}** applies Zelis edits. Claim line {line.sequence} (97124) is billed "
                    f"the same date as {', '.join(sorted(set(cmt)))}; its modifiers are {now}. The payer expects "
                    f"59 first, then the therapy modifier{because}."),
            evidence=[line_ref(line)],
            fixes=[modifiers_fix(record, policy, line)])
