"""The EHR's drafts: a 97124 order to sign, a visit's claim to prepare, and what a card's
suggestion does to them (CDS Hooks 2.0 suggestion actions: create, update, delete).

Shapes follow FHIR R4 ServiceRequest and Claim as docs/fhir-mapping.md describes them; a drafted
claim bills one unit per procedure line, as a biller's first draft would, and leaves the units
to the service's cards.
"""
from __future__ import annotations

import copy
import difflib
import json
import uuid
from datetime import date

from plugin import CPT

MASSAGE = {"system": CPT, "code": "97124", "display": "Therapeutic massage, each 15 minutes"}


def ref(resource: dict) -> str:
    return f"{resource.get('resourceType')}/{resource.get('id')}"


def reference_id(reference: object) -> str | None:
    """The id a Reference points to (`Type/id`, or an absolute URL ending in it)."""
    text = reference.get("reference") if isinstance(reference, dict) else None
    return text.rstrip("/").split("/")[-1] if isinstance(text, str) and text else None


def label(resource: dict) -> str:
    """A short human label: a Condition's or Procedure's code display, a Patient's name."""
    if resource.get("resourceType") == "Patient":
        names = resource.get("name") or [{}]
        name = names[0].get("text") or " ".join([*names[0].get("given", []), names[0].get("family", "")])
        return f"{name.strip() or '(no name)'} · {resource.get('birthDate', '')}".strip(" ·")
    concept = resource.get("code") or {}
    coding = (concept.get("coding") or [{}])[0]
    text = concept.get("text") or coding.get("display") or coding.get("code") or ref(resource)
    return f"{coding.get('code')} {text}" if coding.get("code") and coding.get("code") not in text else text


def compose_order(patient_id: str, encounter_id: str | None, condition: dict | None, per_week: int,
                  weeks: int, body_site: str = "", note: str = "", coverage: dict | None = None,
                  requester: str | None = None) -> dict:
    """A draft 97124 ServiceRequest: reason from one of the patient's Conditions, `per_week` visits
    a week for `weeks` weeks (occurrenceTiming.repeat)."""
    order = {
        "resourceType": "ServiceRequest", "id": f"wb-order-{uuid.uuid4().hex[:12]}",
        "status": "draft", "intent": "order",
        "category": [{"text": "Physical medicine"}],
        "code": {"coding": [dict(MASSAGE)]},
        "subject": {"reference": f"Patient/{patient_id}"},
        "occurrenceTiming": {"repeat": {"boundsDuration": {"value": weeks, "unit": "wk", "system": "http://unitsofmeasure.org",
                                                           "code": "wk"},
                                        "frequency": per_week, "period": 1, "periodUnit": "wk"}},
        "authoredOn": date.today().isoformat(),
    }
    if encounter_id:
        order["encounter"] = {"reference": f"Encounter/{encounter_id}"}
    if requester:
        order["requester"] = {"reference": requester}
    if body_site.strip():
        order["bodySite"] = [{"text": body_site.strip()}]
    if coverage:
        order["insurance"] = [{"reference": ref(coverage)}]
    if condition:
        order["reasonReference"] = [{"reference": ref(condition)}]
        if condition.get("code"):
            order["reasonCode"] = [copy.deepcopy(condition["code"])]
    if note.strip():
        order["note"] = [{"text": note.strip()}]
    return order


def draft_claim(patient_id: str, encounter: dict, procedures: list[dict], coverage: dict | None,
                conditions: list[dict]) -> dict:
    """A draft professional Claim for the visit: one line per CPT-coded Procedure of the encounter
    (quantity 1), the Procedures' reasons as diagnoses, the patient's Coverage as insurance."""
    encounter_ref = ref(encounter)
    day = ((encounter.get("period") or {}).get("start") or date.today().isoformat())[:10]
    by_id = {c.get("id"): c for c in conditions}
    diagnoses: list[dict] = []
    items = []
    for procedure in procedures:
        coding = next((c for c in (procedure.get("code") or {}).get("coding") or [] if c.get("system") == CPT), None)
        if coding is None:
            continue
        pointers = []
        for reason in procedure.get("reasonReference") or []:
            condition = by_id.get(reference_id(reason))
            concept = (condition or {}).get("code")
            if not concept:
                continue
            if concept not in [d["diagnosisCodeableConcept"] for d in diagnoses]:
                diagnoses.append({"sequence": len(diagnoses) + 1, "diagnosisCodeableConcept": copy.deepcopy(concept)})
            pointers.append(next(d["sequence"] for d in diagnoses if d["diagnosisCodeableConcept"] == concept))
        item = {"sequence": len(items) + 1, "productOrService": {"coding": [dict(coding)]},
                "servicedDate": day, "quantity": {"value": 1}, "encounter": [{"reference": encounter_ref}]}
        if pointers:
            item["diagnosisSequence"] = sorted(set(pointers))
        items.append(item)
    terminology = "http://terminology.hl7.org/CodeSystem"
    claim = {"resourceType": "Claim", "id": f"wb-claim-{uuid.uuid4().hex[:12]}", "status": "draft",
             "type": {"coding": [{"system": f"{terminology}/claim-type", "code": "professional"}]},
             "use": "claim", "patient": {"reference": f"Patient/{patient_id}"},
             "billablePeriod": {"start": day, "end": day}, "created": date.today().isoformat(),
             "priority": {"coding": [{"system": f"{terminology}/processpriority", "code": "normal"}]},
             "item": items}
    performer = next((reference_id(p.get("actor")) for pr in procedures for p in pr.get("performer") or []), None)
    if performer:
        claim["provider"] = {"reference": f"Practitioner/{performer}"}
    if diagnoses:
        claim["diagnosis"] = diagnoses
    if coverage:
        claim["insurance"] = [{"sequence": 1, "focal": True, "coverage": {"reference": ref(coverage)}}]
        payor = (coverage.get("payor") or [None])[0]
        if payor:
            claim["insurer"] = copy.deepcopy(payor)
    return claim


def apply_actions(drafts: list[dict], actions: list[dict]) -> tuple[list[dict], list[str]]:
    """The drafts after a suggestion's actions, and a note for each action not applied.

    update replaces the draft with the same type and id; create adds a resource; delete removes
    the draft named by `resourceId` (2.0) or `resource` (a `Type/id` string in 1.0 clients).
    """
    out, notes = copy.deepcopy(drafts), []
    for action in actions:
        kind, resource = action.get("type"), action.get("resource")
        if kind == "update" and isinstance(resource, dict):
            index = next((i for i, d in enumerate(out) if ref(d) == ref(resource)), None)
            if index is None:
                notes.append(f"update of {ref(resource)}: not one of the drafts, not applied")
            else:
                out[index] = copy.deepcopy(resource)
        elif kind == "create" and isinstance(resource, dict):
            out.append(copy.deepcopy(resource))
        elif kind == "delete":
            targets = set(action.get("resourceId") or ([resource] if isinstance(resource, str) else []))
            kept = [d for d in out if ref(d) not in targets]
            if len(kept) == len(out):
                notes.append(f"delete of {', '.join(sorted(targets)) or '?'}: no such draft")
            out = kept
        else:
            notes.append(f"action {kind!r}: not understood, not applied")
    return out, notes


def diff(before: list[dict], after: list[dict]) -> str:
    """A unified diff of the drafts' JSON, resource by resource."""
    old = {ref(d): d for d in before}
    new = {ref(d): d for d in after}
    lines: list[str] = []
    for key in list(old) + [k for k in new if k not in old]:
        a = json.dumps(old[key], indent=2, sort_keys=True).splitlines() if key in old else []
        b = json.dumps(new[key], indent=2, sort_keys=True).splitlines() if key in new else []
        lines += difflib.unified_diff(a, b, fromfile=f"{key} (before)", tofile=f"{key} (after)", lineterm="", n=2)
    return "\n".join(lines)
