"""regions: the body regions treated must be documented.

Source: HNS Policies: Documentation/Billing, Massage Therapy 97124 (regions treated)
https://healthnetworksolutions.net/index.php/massage-therapy-97124
"""
from collections.abc import Iterator

from plugin.facts import massage_lines
from plugin.findings import Finding, Severity
from plugin.policy import Policy
from plugin.record import Record
from plugin.rules._clinical import lacking_in_notes
from plugin.rules._rule import CLAIM_ONLY, Rule
from plugin.vocabulary import HNS_97124
from plugin.wording import labels

RULE = Rule(
    code="regions",
    title="Regions treated documented",
    description=("The day's 97124 service must name the specific body regions treated: Procedure.bodySite, "
                 "the claim line's bodySite, or a region named in the day's note (the Procedure's note or "
                 "the visit's note document; body_regions lexicon). A note document that cannot be read "
                 "keeps the rule quiet."),
    citation=HNS_97124.at("Massage Therapy 97124 (regions treated)"),
    subjects=CLAIM_ONLY,
    severity=Severity.WARNING,
    needs_complete=("procedures", "documents"),  # the note may be a document
)


@RULE.checks
def check(record: Record, policy: Policy) -> Iterator[Finding]:
    if any(line.bodySite is not None for line in massage_lines(record)):
        return
    bare = lacking_in_notes(record, lambda p: p.bodySite, policy.lexicon("body_regions"))
    if bare:
        yield RULE.finding(
            summary="Document the body regions the massage treated.",
            detail=f"Neither {labels(record, bare)} nor its claim line or note names a body region treated.",
            evidence=[Record.ref_of(p) for p in bare])
