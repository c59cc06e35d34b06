"""modifier-gp: payers that require the therapy discipline modifier (Medicare) need the right one on
97124: GP under a physical-therapy plan, GO under occupational therapy, GN under speech-language
pathology. The code keeps its historical name (rule codes are a public contract).

Source: CMS Claims Processing Manual, ch. 5, §10.3, §20.1 (therapy discipline modifiers GN, GO, GP)
https://www.cms.gov/Regulations-and-Guidance/Guidance/Manuals/Downloads/clm104c05.pdf
"""
from collections.abc import Iterator

from plugin.facts import item_modifiers, line_ref, massage_lines, payer_profile
from plugin.findings import BILLING_OVERRIDES, Finding, Severity
from plugin.policy import Policy
from plugin.record import Record
from plugin.rules._billing import DISCIPLINE_MODIFIERS, discipline, modifiers_fix
from plugin.rules._rule import CLAIM_ONLY, Rule
from plugin.vocabulary import CMS_CLAIMS_PROCESSING_CH5

RULE = Rule(
    code="modifier-gp",
    title="Therapy discipline modifier (GP, GO, GN) on 97124",
    description=("97124 is an always-therapy code: the line carries the discipline modifier of the plan of care "
                 "it is furnished under — GP physical therapy, GO occupational therapy, GN speech-language "
                 "pathology. The discipline is read from the plan of care's category, else its author, else the "
                 "massage performer (GP when none says). Medicare requires it on every therapy line; other payers "
                 "do when their profile says gp_required. A wrong discipline modifier is treated like a missing "
                 "one; the fix keeps the payer's modifier order."),
    citation=CMS_CLAIMS_PROCESSING_CH5.at("§10.3, §20.1 (therapy discipline modifiers GN, GO, GP)"),
    subjects=CLAIM_ONLY,
    severity=Severity.WARNING,
    overrides=BILLING_OVERRIDES,
    payer_settings=("gp_required",),
    # That rule's fix already puts the discipline modifier right after 59.
    superseded_by=("modifier-59-gp-order",),
)


@RULE.checks
def check(record: Record, policy: Policy) -> Iterator[Finding]:
    profile = payer_profile(record, policy)
    if not profile.gp_required:
        return
    right = discipline(record, policy)
    for line in massage_lines(record):
        present = [m for m in item_modifiers(line) if m in DISCIPLINE_MODIFIERS]
        if present == [right.modifier]:
            continue
        if present:
            summary = (f"Replace {', '.join(present)} with {right.modifier} on the 97124 line: the plan of care "
                       "sets the discipline.")
            found = f"carries {', '.join(present)}"
        else:
            summary = f"Add modifier {right.modifier} to the 97124 line: {profile.name} requires it on therapy services."
            found = "carries no discipline modifier"
        yield RULE.finding(
            summary=summary,
            detail=(f"Payer **{profile.name}** requires the therapy discipline modifier on every therapy "
                    f"line. The right one here is **{right.modifier}**: {right.reason}. Claim line "
                    f"{line.sequence} (97124) {found}."),
            evidence=[line_ref(line), *([right.evidence] if right.evidence else [])],
            fixes=[modifiers_fix(record, policy, line)])
