"""techniques: the note must name the massage techniques used.

Source: Coding Ahead, CPT Code 97124 — Therapeutic Massage Therapy, Description and documentation
https://www.codingahead.com/cpt-code-97124-description-guidelines-reimbursement-modifiers-examples/
"""
from collections.abc import Iterator

from plugin.findings import Finding, Severity
from plugin.policy import Policy
from plugin.record import Record
from plugin.rules._clinical import lacking_in_notes
from plugin.rules._rule import CLAIM_ONLY, Rule
from plugin.vocabulary import CODING_AHEAD_97124
from plugin.wording import labels

RULE = Rule(
    code="techniques",
    title="Massage techniques documented",
    description=("The day's 97124 note must name the techniques used (effleurage, petrissage, "
                 "tapotement, stroking, compression, percussion...), in the note text (the Procedure's note "
                 "or the visit's note document: plain text, Markdown or HTML) or as a coded technique "
                 "(Procedure.usedCode). A note document that cannot be read keeps the rule quiet."),
    citation=CODING_AHEAD_97124.at("Description and documentation"),
    subjects=CLAIM_ONLY,
    severity=Severity.WARNING,
    needs_complete=("procedures", "documents"),  # the note may be a document
)


@RULE.checks
def check(record: Record, policy: Policy) -> Iterator[Finding]:
    bare = lacking_in_notes(record, lambda p: p.usedCode, policy.lexicon("techniques"))
    if bare:
        yield RULE.finding(
            summary="Name the massage techniques used (e.g. effleurage, petrissage) in the note.",
            detail=f"The note for {labels(record, bare)} names no massage technique (effleurage, petrissage, "
                   "tapotement...).",
            evidence=[Record.ref_of(p) for p in bare])
