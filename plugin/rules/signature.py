"""signature: the day's 97124 note is signed and dated by the person who did the massage.

Source: CMS Benefit Policy Manual, ch. 15, §220.3 (treatment notes, signatures)
https://www.cms.gov/Regulations-and-Guidance/Guidance/Manuals/Downloads/bp102c15.pdf
"""
from collections.abc import Iterator
from typing import Any

from plugin.facts import massage_procedures
from plugin.findings import Finding, Severity
from plugin.policy import Policy
from plugin.record import Record
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
from plugin.rules._rule import CLAIM_ONLY, Rule
from plugin.vocabulary import CMS_BENEFIT_POLICY_CH15
from plugin.wording import person, sentence

RULE = Rule(
    code="signature",
    title="Note signed and dated by the performer",
    description=("Each day's treatment note is signed and dated by the person who gave the massage: a "
                 "Provenance on the 97124 Procedure or on the visit's note DocumentReference whose author "
                 "agent is the performer and that carries a date, or the note document's authenticator being "
                 "the performer (with the document's date)."),
    citation=CMS_BENEFIT_POLICY_CH15.at("§220.3 (treatment notes, signatures)"),
    subjects=CLAIM_ONLY,
    severity=Severity.WARNING,
    needs_complete=SIGNING_DATA,
)

AUTHOR_TYPES = {"author", "AUT"}  # provenance-participant-type and v3 ParticipationType


def _signed_by(record: Record, proc: Any, performers: set[str]) -> bool:
    """Whether one of the performers signed and dated the procedure's note."""
    def by_performer(prov: Any, agent: Any) -> bool:
        dated = prov.recorded is not None or any(s.when for s in prov.signature or [])
        authored = not agent_types(agent) or bool(agent_types(agent) & AUTHOR_TYPES)
        return dated and authored and bool(person_keys(record, agent.who, prov) & performers)

    def authenticated(doc: Any) -> bool:
        return doc.date is not None and bool(person_keys(record, doc.authenticator, doc) & performers)

    return bool(signing_evidence(record, proc, by_performer, authenticated))


@RULE.checks
def check(record: Record, policy: Policy) -> Iterator[Finding]:
    for proc in massage_procedures(record):
        targets, performers = note_targets(record, proc), performer_keys(record, proc)
        if performers and _signed_by(record, proc, performers):
            continue
        who = ", ".join(person(record, a) for a in performer_refs(proc)) or "the performer (nobody is named)"
        yield RULE.finding(
            summary="Have the massage therapist sign and date today's 97124 note before billing.",
            detail=f"{sentence(note_name(record, proc))} carries no dated signature by {who}, who gave the massage.",
            evidence=targets)
