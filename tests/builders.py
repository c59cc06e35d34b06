"""Small builders for FHIR R4 test data: a readable visit in a few lines.

    visit = Visit().procedure("97124", minutes=22).procedure("97110", minutes=18)
    visit.claim_line("97124", units=2)
    record = visit.record("claim-prepare")
"""
from __future__ import annotations

import copy
import itertools
import uuid
from datetime import datetime, timedelta
from typing import Any

from cds_hooks.record_from_hook import record_from_hook
from plugin import Record

CPT = "http://www.ama-assn.org/go/cpt"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
SNOMED = "http://snomed.info/sct"
NUCC = "http://nucc.org/provider-taxonomy"
PATIENT = "pat-1"
ENCOUNTER = "enc-1"
DAY = "2026-03-02"
_ids = itertools.count(1)


def ref(resource: dict) -> str:
    return f"{resource['resourceType']}/{resource['id']}"


def concept(code: str, system: str = CPT, display: str | None = None, text: str | None = None) -> dict:
    coding = {"system": system, "code": code}
    if display:
        coding["display"] = display
    out: dict[str, Any] = {"coding": [coding]}
    if text:
        out["text"] = text
    return out


REPORT_TYPES = {"11508-9", "11507-1", "11512-1", "18776-5"}  # LOINC: the `reports` prefetch key's types


def _is_report(document: dict) -> bool:
    return any(c.get("code") in REPORT_TYPES for c in (document.get("type") or {}).get("coding") or [])


class Visit:
    """One patient's visit: resources for prefetch plus the hook context."""

    def __init__(self, day: str = DAY, patient: str = PATIENT, encounter: str = ENCOUNTER):
        self.day, self.patient, self.encounter = day, patient, encounter
        self.resources: list[dict] = [
            {"resourceType": "Patient", "id": patient, "birthDate": "1970-01-01"},
            {"resourceType": "Encounter", "id": encounter, "status": "finished",
             "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
             "subject": {"reference": f"Patient/{patient}"},
             "period": {"start": f"{day}T09:00:00-05:00", "end": f"{day}T11:00:00-05:00"}},
        ]
        self.claim: dict | None = None
        self.orders: list[dict] = []
        self._clock = datetime.fromisoformat(f"{day}T09:00:00-05:00")

    def add(self, resource: dict) -> dict:
        resource.setdefault("id", f"{resource['resourceType'].lower()}-{next(_ids)}")
        self.resources.append(resource)
        return resource

    def procedure(self, code: str, minutes: int | None = None, *, start: str | None = None,
                  end: str | None = None, body_site: str | None = "Lumbar region",
                  note: str | None = None, performer: dict | None = None, day: str | None = None,
                  encounter: bool = True, status: str = "completed", **extra) -> dict:
        """A Procedure; `minutes` lays it on the visit clock after the previous one."""
        proc: dict[str, Any] = {"resourceType": "Procedure", "status": status,
                                "code": concept(code), "subject": {"reference": f"Patient/{self.patient}"}}
        if encounter and day is None:
            proc["encounter"] = {"reference": f"Encounter/{self.encounter}"}
        if minutes is not None:
            begin = self._clock if day is None else datetime.fromisoformat(f"{day}T09:00:00-05:00")
            finish = begin + timedelta(minutes=minutes)
            if day is None:
                self._clock = finish
            proc["performedPeriod"] = {"start": begin.isoformat(), "end": finish.isoformat()}
        elif start or end:
            proc["performedPeriod"] = {k: v for k, v in (("start", start), ("end", end)) if v}
        else:
            proc["performedDateTime"] = day or self.day
        if body_site:
            proc["bodySite"] = [{"text": body_site}]
        if note:
            proc["note"] = [{"text": note}]
        if performer:
            proc["performer"] = [{"actor": {"reference": ref(performer)}}]
        proc.update(extra)
        return self.add(proc)

    def condition(self, code: str, system: str = ICD10, text: str | None = None, **extra) -> dict:
        return self.add({"resourceType": "Condition", "subject": {"reference": f"Patient/{self.patient}"},
                         "clinicalStatus": concept("active", "http://terminology.hl7.org/CodeSystem/condition-clinical"),
                         "code": concept(code, system, text=text), **extra})

    def practitioner(self, taxonomy: str = "225100000X", **extra) -> dict:
        return self.add({"resourceType": "Practitioner", "name": [{"family": "Therapist"}],
                         "qualification": [{"code": concept(taxonomy, NUCC)}], **extra})

    def claim_line(self, code: str, units: int = 1, modifiers: tuple[str, ...] = (),
                   day: str | None = None) -> dict:
        if self.claim is None:
            self.claim = {"resourceType": "Claim", "id": "claim-1", "status": "draft",
                          "type": concept("professional", "http://terminology.hl7.org/CodeSystem/claim-type"),
                          "use": "claim", "patient": {"reference": f"Patient/{self.patient}"},
                          "created": f"{self.day}T12:00:00-05:00",
                          "provider": {"reference": "Organization/clinic"},
                          "priority": concept("normal", "http://terminology.hl7.org/CodeSystem/processpriority"),
                          "insurance": [], "item": []}
        item: dict[str, Any] = {"sequence": len(self.claim["item"]) + 1, "productOrService": concept(code),
                                "servicedDate": day or self.day, "quantity": {"value": units},
                                "encounter": [{"reference": f"Encounter/{self.encounter}"}]}
        if modifiers:
            item["modifier"] = [concept(m) for m in modifiers]
        self.claim["item"].append(item)
        return item

    def payer(self, name: str, identifier: str | None = None) -> dict:
        org = self.add({"resourceType": "Organization", "name": name,
                        **({"identifier": [{"value": identifier}]} if identifier else {})})
        cov = self.add({"resourceType": "Coverage", "status": "active",
                        "beneficiary": {"reference": f"Patient/{self.patient}"},
                        "payor": [{"reference": ref(org)}]})
        if self.claim is not None:
            self.claim["insurance"] = [{"sequence": 1, "focal": True, "coverage": {"reference": ref(cov)}}]
        return cov

    def order(self, code: str = "97124", **extra) -> dict:
        sr = {"resourceType": "ServiceRequest", "id": f"sr-{next(_ids)}", "status": "draft",
              "intent": "order", "code": concept(code), "subject": {"reference": f"Patient/{self.patient}"},
              "authoredOn": self.day, **extra}
        self.orders.append(sr)
        return sr

    # -- outputs ------------------------------------------------------------------------
    def context(self, hook: str) -> dict:
        ctx: dict[str, Any] = {"userId": "Practitioner/user-1", "patientId": self.patient,
                               "encounterId": self.encounter}
        if hook == "claim-prepare":
            ctx["claim"] = copy.deepcopy(self.claim)
        else:
            ctx["draftOrders"] = {"resourceType": "Bundle", "type": "collection",
                                  "entry": [{"resource": copy.deepcopy(o)} for o in self.orders]}
        return ctx

    def prefetch(self) -> dict:
        """Everything in one Bundle per resource type, keyed like the services' prefetch."""
        keys = {"Patient": "patient", "Encounter": "encounter", "Procedure": "procedures",
                "Condition": "conditions", "Observation": "observations", "Goal": "goals",
                "CarePlan": "carePlans", "Coverage": "coverage", "ServiceRequest": "serviceRequests",
                "DocumentReference": "documents"}
        # A search with no hits still answers: an empty searchset Bundle.
        out: dict[str, Any] = {key: {"resourceType": "Bundle", "type": "searchset", "entry": []}
                               for key in [*keys.values(), "reports"] if key not in ("patient", "encounter")}
        for res in self.resources:
            key = keys.get(res["resourceType"])
            if res["resourceType"] == "DocumentReference" and _is_report(res):
                key = "reports"  # progress reports and signed plans of any visit: their own search
            if key in ("patient", "encounter"):
                out[key] = copy.deepcopy(res)
                continue
            # Resources no template reaches ride along in a related Bundle, as an EHR's _include would.
            key = key or {"Organization": "coverage"}.get(res["resourceType"], "procedures")
            bundle = out.setdefault(key, {"resourceType": "Bundle", "type": "searchset", "entry": []})
            bundle["entry"].append({"resource": copy.deepcopy(res)})
        return out

    def request(self, hook: str) -> dict:
        return {"hook": hook, "hookInstance": str(uuid.uuid4()), "context": self.context(hook),
                "prefetch": self.prefetch()}

    def record(self, hook: str = "claim-prepare") -> Record:
        """The record the hook's request would give the rules (cds_hooks/record_from_hook.py)."""
        return record_from_hook(hook, self.context(hook), self.prefetch())

    # -- clinical documentation (appended for the medical-necessity and documentation rules) -----
    def goal(self, description: str, *, due: str | None = None, measure: str | None = None,
             achievement: str | None = None, status: str = "active", **extra) -> dict:
        """A Goal; `due` a date (time frame), `measure` a LOINC code tying an Observation to it."""
        goal: dict[str, Any] = {"resourceType": "Goal", "lifecycleStatus": status,
                                "description": {"text": description},
                                "subject": {"reference": f"Patient/{self.patient}"}}
        target: dict[str, Any] = {}
        if due:
            target["dueDate"] = due
        if measure:
            target["measure"] = concept(measure, "http://loinc.org")
        if target:
            goal["target"] = [target]
        if achievement:
            goal["achievementStatus"] = concept(
                achievement, "http://terminology.hl7.org/CodeSystem/goal-achievement")
        goal.update(extra)
        return self.add(goal)

    def care_plan(self, *, goals: tuple[dict, ...] = (), addresses: tuple[dict, ...] = (),
                  activity: str | None = "97124", status: str = "active", intent: str = "plan",
                  **extra) -> dict:
        """A CarePlan; `activity` a CPT code planned (None: no activity)."""
        plan: dict[str, Any] = {"resourceType": "CarePlan", "status": status, "intent": intent,
                                "subject": {"reference": f"Patient/{self.patient}"}}
        if goals:
            plan["goal"] = [{"reference": ref(g)} for g in goals]
        if addresses:
            plan["addresses"] = [{"reference": ref(c)} for c in addresses]
        if activity:
            plan["activity"] = [{"detail": {"status": "in-progress", "code": concept(activity)}}]
        plan.update(extra)
        return self.add(plan)

    def observation(self, code: str, value: float | None = None, unit: str = "deg", *,
                    day: str | None = None, text: str | None = None, **extra) -> dict:
        """An Observation (LOINC `code`) with a quantity value on `day` (default: the visit day)."""
        obs: dict[str, Any] = {"resourceType": "Observation", "status": "final",
                               "code": concept(code, "http://loinc.org", text=text),
                               "subject": {"reference": f"Patient/{self.patient}"},
                               "effectiveDateTime": day or self.day}
        if value is not None:
            obs["valueQuantity"] = {"value": value, "unit": unit, "system": "http://unitsofmeasure.org",
                                    "code": unit}
        obs.update(extra)
        return self.add(obs)

    def claim_diagnosis(self, code: str, system: str = ICD10) -> dict:
        """A diagnosis on the draft claim (call after claim_line)."""
        assert self.claim is not None, "add a claim line first"
        dx = {"sequence": len(self.claim.setdefault("diagnosis", [])) + 1,
              "diagnosisCodeableConcept": concept(code, system)}
        self.claim["diagnosis"].append(dx)
        return dx
