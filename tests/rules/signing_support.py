"""A visit whose 97124 service was done by a massage therapist, plus ways to sign its note."""
from __future__ import annotations

from tests.builders import ENCOUNTER, NUCC, Visit, concept, ref

AGENT_TYPES = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"


def massage_visit(performer_taxonomy: str = "225700000X") -> tuple[Visit, dict, dict]:
    """(visit, the 97124 Procedure, its performer)."""
    visit = Visit()
    therapist = visit.practitioner(performer_taxonomy)
    proc = visit.procedure("97124", minutes=15, performer=therapist)
    visit.claim_line("97124")
    return visit, proc, therapist


def physician(visit: Visit, taxonomy: str = "207Q00000X") -> dict:
    return visit.add({"resourceType": "Practitioner", "qualification": [{"code": concept(taxonomy, NUCC)}]})


def provenance(visit: Visit, target: dict, *agents: tuple[dict, str | None]) -> dict:
    """A Provenance on `target` with (who, agent type code or None) agents."""
    return visit.add({"resourceType": "Provenance", "target": [{"reference": ref(target)}],
                      "recorded": f"{visit.day}T11:30:00-05:00",
                      "agent": [{"who": {"reference": ref(who)},
                                 **({"type": concept(kind, AGENT_TYPES)} if kind else {})}
                                for who, kind in agents]})


def note(visit: Visit, authenticator: dict | None = None) -> dict:
    """The visit's note DocumentReference, optionally authenticated."""
    doc = {"resourceType": "DocumentReference", "status": "current", "date": f"{visit.day}T11:30:00-05:00",
           "content": [{"attachment": {"contentType": "text/plain", "title": "Treatment note"}}],
           "subject": {"reference": f"Patient/{visit.patient}"},
           "context": {"encounter": [{"reference": f"Encounter/{ENCOUNTER}"}]}}
    if authenticator:
        doc["authenticator"] = {"reference": ref(authenticator)}
    return visit.add(doc)
