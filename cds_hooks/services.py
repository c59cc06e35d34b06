"""The CDS Services this product offers: what discovery announces and what each hook needs.

Prefetch templates keep to CDS Hooks 2.0's recommended subset (instance reads, type searches
by patient, token equality). Facts no template can reach (Provenance of the visit's
Procedures, note documents and the plan of care, the performers', signers', orderers' and plan
authors' Practitioner/PractitionerRole, the payer Organization, the Binary holding a note
document's text) are fetched after the first round; see cds_hooks/prefetch.py and
docs/fhir-mapping.md.
"""
from __future__ import annotations

from dataclasses import dataclass

from plugin import LOINC, load_policy

# How prefetch is read, told in each service's discovery description (docs/fhir-mapping.md).
PREFETCH_READING = (" Prefetch: a null key means no data (never a 412); an OperationOutcome means the "
                    "query failed and it is fetched from fhirServer; a searchset with a next link is "
                    "completed from fhirServer, else rules that would report an absence stay quiet.")

PATIENT = "{{context.patientId}}"
ENCOUNTER = "{{context.encounterId}}"
OBSERVATION_STATUSES = "registered,preliminary,final,amended,corrected,unknown"


def _report_types() -> str:
    """The document types Medicare's plan rules read (progress reports, signed plans), as a token list."""
    policy = load_policy()
    codes = {c for name in ("progress-reports", "plan-of-care-documents") for c in policy.valueset(name).codes(LOINC)}
    return ",".join(f"{LOINC}|{code}" for code in sorted(codes))

_CLINICAL = {
    "patient": f"Patient/{PATIENT}",
    "conditions": f"Condition?patient={PATIENT}",
    # Every status but cancelled and entered-in-error: those are never read (plugin/prefilter.py).
    "observations": f"Observation?patient={PATIENT}&status={OBSERVATION_STATUSES}",
    "goals": f"Goal?patient={PATIENT}",
    "carePlans": f"CarePlan?patient={PATIENT}&status=active",
    "procedures": f"Procedure?patient={PATIENT}",
    "coverage": f"Coverage?patient={PATIENT}&status=active",
}


@dataclass(frozen=True)
class Service:
    id: str
    hook: str
    title: str
    description: str
    prefetch: dict[str, str]
    required: frozenset[str]   # prefetch keys without which we cannot decide (412 if unobtainable)

    def discovery(self, hook_name: str | None = None) -> dict:
        return {"id": self.id, "hook": hook_name or self.hook, "title": self.title,
                "description": self.description, "prefetch": dict(self.prefetch)}


SERVICES = {
    s.id: s for s in (
        Service(
            id="massage-97124-order-check",
            hook="order-sign",
            title="Therapeutic massage (97124) order check",
            description=("When a 97124 massage order is signed: is it medically necessary, does it cite a "
                         "qualifying condition, does the plan support it, and is it really 97140?"
                         + PREFETCH_READING),
            prefetch={**_CLINICAL, "encounter": f"Encounter/{ENCOUNTER}"},
            required=frozenset({"conditions"}),
        ),
        Service(
            id="massage-97124-claim-check",
            hook="claim-prepare",
            title="Therapeutic massage (97124) claim check",
            description=("Before a visit's charges become a claim: 8-minute-rule units, modifiers 59/GP in "
                         "payer order, medical necessity, documentation and audit triggers for 97124."
                         + PREFETCH_READING),
            prefetch={**_CLINICAL,
                      "encounter": f"Encounter/{ENCOUNTER}",
                      "serviceRequests": f"ServiceRequest?patient={PATIENT}",
                      "documents": f"DocumentReference?patient={PATIENT}&encounter={ENCOUNTER}",
                      # progress reports and signed plans of any visit of the episode
                      "reports": f"DocumentReference?patient={PATIENT}&type={_report_types()}"},
            required=frozenset({"procedures"}),
        ),
    )
}
