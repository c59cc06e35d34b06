"""countersignature: the doctor who supervises or delegates the massage countersigns the note.

Source: HNS Policies: Documentation/Billing, Massage Therapy 97124 (daily note)
https://healthnetworksolutions.net/index.php/massage-therapy-97124
"""
from collections.abc import Callable, Iterator
from typing import Any

from plugin.facts import codings, massage_procedures, payer_profile
from plugin.findings import Finding, Severity
from plugin.policy import Policy
from plugin.record import Record
from plugin.rules._billing import (
    SIGNING_DATA,
    agent_types,
    credentials,
    note_name,
    note_targets,
    performer_keys,
    performer_refs,
    person_keys,
    signing_evidence,
)
from plugin.rules._rule import CLAIM_ONLY, Rule
from plugin.vocabulary import HNS_97124
from plugin.wording import sentence

RULE = Rule(
    code="countersignature",
    title="Note countersigned by the supervising doctor",
    description=("The massage note is countersigned by the doctor who supervises or delegates the service: "
                 "a physician (MD/DO) or a chiropractic physician (DC), or others a payer profile adds "
                 "(countersigners: value sets, e.g. nurse practitioners and physician assistants where state "
                 "law lets them supervise). Evidence: a Provenance agent of type verifier/attester (or a "
                 "second signer) on the 97124 Procedure or the visit's note document, or the note document's "
                 "authenticator. Not needed when such a doctor performed the massage."),
    citation=HNS_97124.at("Massage Therapy 97124 (daily note)"),
    subjects=CLAIM_ONLY,
    severity=Severity.WARNING,
    needs_complete=SIGNING_DATA,
)

# Agent roles that put a name to the note (provenance-participant-type and v3 ParticipationType).
SIGNING_TYPES = {"verifier", "attester", "author", "VRF", "AUTHEN", "LA", "AUT"}


def _by_someone_else(record: Record, performers: set[str],
                     supervises: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    """A Provenance agent test: a signer who is not a performer and supervises the massage."""
    def by_doctor(prov: Any, agent: Any) -> bool:
        types = agent_types(agent)
        signs = not types or bool(types & SIGNING_TYPES)  # not enterer/custodian
        second = not person_keys(record, agent.who, prov) & performers
        return signs and second and supervises(agent.who, prov)
    return by_doctor


@RULE.checks
def check(record: Record, policy: Policy) -> Iterator[Finding]:
    members = [policy.valueset(name) for name in payer_profile(record, policy).countersigners]

    def supervises(reference: Any, within: Any) -> bool:
        return any(vs.contains(c.system, c.code) for vs in members
                   for c in codings(credentials(record, reference, within) or []))

    for proc in massage_procedures(record):
        if any(supervises(a, proc) for a in performer_refs(proc)):
            continue  # the doctor did it: nobody above to countersign
        targets, performers = note_targets(record, proc), performer_keys(record, proc)
        if signing_evidence(record, proc, _by_someone_else(record, performers, supervises),
                            lambda doc: supervises(doc.authenticator, doc)):
            continue
        yield RULE.finding(
            summary="Have the supervising doctor countersign today's 97124 note before billing.",
            detail=(f"{sentence(note_name(record, proc))} is not countersigned by the doctor who supervises or "
                    "delegates the massage (a physician or chiropractic physician"
                    + (", or another supervisor the payer profile allows" if len(members) > 1 else "") + ")."),
            evidence=targets)
