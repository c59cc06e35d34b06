"""countersignature: the supervising doctor countersigns the 97124 note."""
from plugin.facts import massage_procedures
from plugin.findings import Citation, Severity
from plugin.rules._billing import (SIGNING_DATA, agent_types, holds, note_targets, performer_keys, performer_refs,
                                   person_keys, signing_evidence)
from plugin.rules._rule import CP, Rule

RULE = Rule(
    code="countersignature",
    title="Note countersigned by the supervising doctor",
    description=("The massage note is countersigned by the supervising or delegating physician: a Provenance "
                 "agent of type verifier/attester (or a second signer) who is a physician (physicians value "
                 "set), or the visit note's authenticator being a physician. Not needed when a physician "
                 "performed the massage."),
    citation=Citation("HNS Policies: Documentation/Billing", "Massage Therapy 97124 (daily note)",
                      "https://healthnetworksolutions.net/index.php/massage-therapy-97124"),
    hooks=CP,
    severity=Severity.WARNING,
    needs_complete=SIGNING_DATA,
)

# Agent roles that put a name to the note (provenance-participant-type and v3 ParticipationType).
SIGNING_TYPES = {"verifier", "attester", "author", "VRF", "AUTHEN", "LA", "AUT"}
PHYSICIANS = "physicians"


@RULE.checks
def check(record, policy):
    for proc in massage_procedures(record):
        if any(holds(record, policy, a, PHYSICIANS, proc) for a in performer_refs(proc)):
            continue  # the doctor did it: nobody above to countersign
        targets, performers = note_targets(record, proc), performer_keys(record, proc)

        def by_physician(prov, agent) -> bool:
            signs = not agent_types(agent) or bool(agent_types(agent) & SIGNING_TYPES)  # not enterer/custodian
            second = not person_keys(record, agent.who, prov) & performers
            return signs and second and holds(record, policy, agent.who, PHYSICIANS, prov)

        def authenticated(doc) -> bool:
            return holds(record, policy, doc.authenticator, PHYSICIANS, doc)

        if signing_evidence(record, proc, by_physician, authenticated):
            continue
        yield RULE.finding(
            summary="Have the supervising doctor countersign today's 97124 note before billing.",
            detail=(f"No countersignature by a physician was found for `{targets[0]}`: expected a Provenance on "
                    "the Procedure or the visit's note with a verifier/attester (or second signer) who is a "
                    "physician (NUCC 207*/208*, MD/DO), or the note's authenticator being that physician."),
            evidence=targets)
