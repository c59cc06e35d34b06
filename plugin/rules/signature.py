"""signature: the day's 97124 note is signed and dated by the person who did the massage."""
from plugin.facts import massage_procedures
from plugin.findings import Citation, Severity
from plugin.rules._billing import (
    SIGNING_DATA,
    agent_types,
    note_name,
    note_targets,
    performer_keys,
    performer_refs,
    person_keys,
    signing_evidence,
)
from plugin.rules._rule import CP, Rule
from plugin.wording import person, sentence

RULE = Rule(
    code="signature",
    title="Note signed and dated by the performer",
    description=("Each day's treatment note is signed and dated by the person who gave the massage: a "
                 "Provenance on the 97124 Procedure or on the visit's note DocumentReference whose author "
                 "agent is the performer and that carries a date, or the note document's authenticator being "
                 "the performer (with the document's date)."),
    citation=Citation("CMS Benefit Policy Manual, ch. 15", "§220.3 (treatment notes, signatures)",
                      "https://www.cms.gov/Regulations-and-Guidance/Guidance/Manuals/Downloads/bp102c15.pdf"),
    hooks=CP,
    severity=Severity.WARNING,
    needs_complete=SIGNING_DATA,
)

AUTHOR_TYPES = {"author", "AUT"}  # provenance-participant-type and v3 ParticipationType


@RULE.checks
def check(record, policy):
    for proc in massage_procedures(record):
        targets, performers = note_targets(record, proc), performer_keys(record, proc)

        def by_performer(prov, agent) -> bool:
            dated = prov.recorded is not None or any(s.when for s in prov.signature or [])
            authored = not agent_types(agent) or bool(agent_types(agent) & AUTHOR_TYPES)
            return dated and authored and bool(person_keys(record, agent.who, prov) & performers)

        def authenticated(doc) -> bool:
            return doc.date is not None and bool(person_keys(record, doc.authenticator, doc) & performers)

        if performers and signing_evidence(record, proc, by_performer, authenticated):
            continue
        who = ", ".join(person(record, a) for a in performer_refs(proc)) or "the performer (nobody is named)"
        yield RULE.finding(
            summary="Have the massage therapist sign and date today's 97124 note before billing.",
            detail=f"{sentence(note_name(record, proc))} carries no dated signature by {who}, who gave the massage.",
            evidence=targets)
