"""techniques: the note must name the massage techniques used."""
from plugin.facts import notes_text
from plugin.findings import Citation, Severity
from plugin.rules._clinical import lacking, listing
from plugin.rules._rule import CP, Rule

RULE = Rule(
    code="techniques",
    title="Massage techniques documented",
    description=("The day's 97124 note must name the techniques used (effleurage, petrissage, "
                 "tapotement, stroking, compression, percussion...), in the note text or as a coded "
                 "technique (Procedure.usedCode)."),
    citation=Citation("Coding Ahead, CPT Code 97124 - Therapeutic Massage Therapy", "Description and documentation",
                      "https://www.codingahead.com/cpt-code-97124-description-guidelines-reimbursement-modifiers-examples/"),
    hooks=CP,
    severity=Severity.WARNING,
)


@RULE.checks
def check(record, policy):
    techniques = policy.lexicon("techniques")
    bare = lacking(record, lambda p: bool(p.usedCode or techniques.hits(notes_text(p.note))))
    if bare:
        yield RULE.finding(
            summary="Name the massage techniques used (e.g. effleurage, petrissage) in the note.",
            detail=("These 97124 services name no technique in their note and carry no usedCode: "
                    + listing(bare) + "."),
            evidence=bare)
