"""Realistic, distinct CDS Hooks request bodies for the benchmark, the soak and the fuzz seeds.

One body is one patient's visit with about 30 FHIR resources: the day's procedures on a
clock, prior 97124 visits, conditions, exam observations, goals, a plan of care, coverage
and payer, the therapist and the supervising physician, signatures and the visit note.
Body n has its own patient, encounter and resource ids (all carrying the patient token
`token(n)`), and its own date, minutes and wording, so no two bodies repeat.
"""
from __future__ import annotations

import json
import uuid
from datetime import date, timedelta
from typing import Any

from tests.builders import ICD10, Visit, concept, ref

LOINC = "http://loinc.org"
FIRST_DAY = date(2026, 1, 5)
NOTES = ("Effleurage, petrissage and stroking to lumbar paraspinals for spasm.",
         "Petrissage and effleurage, lumbar region; spasm reduced after treatment.",
         "Stroking and compression to paraspinals; tolerated well.")
REGIONS = ("Lumbar region", "Thoracic region", "Cervical region")


def token(n: int) -> str:
    """The patient id of body n; fixed width so one body's text can be re-keyed by replace()."""
    return f"b{n:09d}"


def _history(visit: Visit, n: int, day: date) -> None:
    """n earlier 97124 Procedures of the same patient, one per day going back from the visit."""
    for i in range(n):
        visit.procedure("97124", minutes=20 + i % 10, day=(day - timedelta(days=i + 1)).isoformat(),
                        note=NOTES[i % len(NOTES)])


def _rekey(v: Visit) -> None:
    """Give every resource an id carrying the patient token, and point references at the new ids."""
    everything = v.resources + v.orders + ([v.claim] if v.claim else [])
    renamed = {}
    for res in everything:
        if res["id"] in (v.patient, v.encounter):
            continue
        new = f"{res['id']}-{v.patient}"
        renamed[f"{res['resourceType']}/{res['id']}"] = f"{res['resourceType']}/{new}"
        res["id"] = new

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            target = node.get("reference")
            if isinstance(target, str) and target in renamed:
                node["reference"] = renamed[target]
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
    walk(everything)


def visit(n: int, prior_massage: int = 6) -> Visit:
    """The n-th distinct visit: 23 resources + prior_massage prior 97124 Procedures."""
    pid = token(n)
    day = FIRST_DAY + timedelta(days=n % 90)
    v = Visit(day=day.isoformat(), patient=pid, encounter=f"enc-{pid}")
    therapist = v.practitioner("225700000X")
    physician = v.practitioner("207Q00000X")
    v.procedure("97124", minutes=16 + n % 15, performer=therapist, note=NOTES[n % len(NOTES)],
                body_site=REGIONS[n % len(REGIONS)], reasonCode=[concept("M62.830", ICD10)])
    v.procedure("97110", minutes=8 + n % 12, performer=therapist)
    v.procedure("97140", minutes=8 + n % 5, performer=therapist, body_site="Cervical region")
    _history(v, prior_massage, day)
    for code in ("M62.830", "M54.50", "M25.60"):
        v.condition(code)
    for i, value in enumerate((30 + n % 20, 45 + n % 20, 60 + n % 20)):
        v.add({"resourceType": "Observation", "status": "final",
               "category": [concept("exam", "http://terminology.hl7.org/CodeSystem/observation-category")],
               "code": concept("41353-3", LOINC, text="Lumbar flexion range of motion"),
               "subject": {"reference": f"Patient/{v.patient}"},
               "effectiveDateTime": (day - timedelta(days=14 * (2 - i))).isoformat(),
               "valueQuantity": {"value": value, "unit": "deg", "system": "http://unitsofmeasure.org",
                                 "code": "deg"}})
    goals = [v.add({"resourceType": "Goal", "lifecycleStatus": "active",
                    "description": {"text": text}, "subject": {"reference": f"Patient/{v.patient}"},
                    "target": [{"dueDate": (day + timedelta(days=42)).isoformat()}]})
             for text in (f"Walk {20 + n % 20} minutes without back pain", "Sit through a workday without spasm")]
    v.add({"resourceType": "CarePlan", "status": "active", "intent": "plan",
           "subject": {"reference": f"Patient/{v.patient}"},
           "period": {"start": (day - timedelta(days=28)).isoformat(), "end": (day + timedelta(days=56)).isoformat()},
           "goal": [{"reference": ref(g)} for g in goals],
           "activity": [{"detail": {"status": "in-progress", "code": concept("97124")}}]})
    v.add({"resourceType": "ServiceRequest", "status": "active", "intent": "order", "code": concept("97124"),
           "subject": {"reference": f"Patient/{v.patient}"}, "authoredOn": (day - timedelta(days=28)).isoformat(),
           "occurrenceTiming": {"repeat": {"frequency": 2, "period": 1, "periodUnit": "wk"}}})
    note = v.add({"resourceType": "DocumentReference", "status": "current",
                  "subject": {"reference": f"Patient/{v.patient}"},
                  "context": {"encounter": [{"reference": f"Encounter/{v.encounter}"}]},
                  "authenticator": {"reference": ref(physician)}, "date": f"{v.day}T12:00:00-05:00",
                  "content": [{"attachment": {"contentType": "text/plain", "title": "Visit note"}}]})
    for who, role in ((therapist, "author"), (physician, "verifier")):
        v.add({"resourceType": "Provenance", "target": [{"reference": ref(note)}],
               "recorded": f"{v.day}T12:00:00-05:00",
               "agent": [{"type": concept(role, "http://terminology.hl7.org/CodeSystem/provenance-participant-type"),
                          "who": {"reference": ref(who)}}]})
    v.claim_line("97124", units=2, modifiers=("GP",))
    v.claim_line("97110", units=1, modifiers=("GP",))
    v.claim_line("97140", units=1, modifiers=("GP",))
    v.payer(("Medicare", "Aetna", "BCBSNC")[n % 3])
    v.order("97124", reasonCode=[concept("M62.830", ICD10)],
            occurrenceTiming={"repeat": {"frequency": 2, "period": 1, "periodUnit": "wk"}})
    _rekey(v)
    return v


def body(hook: str, n: int, prior_massage: int = 6) -> bytes:
    return json.dumps(visit(n, prior_massage).request(hook)).encode()


def rekeyed(template: bytes, n_template: int, n: int) -> bytes:
    """Body n made from body n_template's text: another patient, other ids, a new hookInstance."""
    text = template.decode().replace(token(n_template), token(n))
    instance = json.loads(text)["hookInstance"]
    return text.replace(instance, str(uuid.uuid4())).encode()


def resource_count(request: dict) -> int:
    """Resources a request carries (context + prefetch), as the service will validate them."""
    n = 1 if "claim" in request["context"] else len(request["context"]["draftOrders"]["entry"])
    for value in request["prefetch"].values():
        n += len(value.get("entry", [])) if value.get("resourceType") == "Bundle" else 1
    return n


VITALS = (("8867-4", "Heart rate", "/min", 60, 40), ("9279-1", "Respiratory rate", "/min", 12, 8),
          ("8310-5", "Body temperature", "Cel", 36, 2), ("29463-7", "Body weight", "kg", 60, 40),
          ("2339-0", "Glucose [Mass/volume] in Blood", "mg/dL", 80, 60))
OTHER_CPT = ("97110", "97140", "98941", "99213", "97012")


def chart(n: int, observations: int, procedures: int = 300) -> Visit:
    """Visit n on a ten-year chart: `observations` vital signs and lab results (one every ~day,
    going back up to ten years) and `procedures` Procedures in all (the visit's, the six prior
    97124 visits, then earlier therapy, CMT and E/M services, one a week going back)."""
    v = visit(n)
    day, subject = date.fromisoformat(v.day), {"reference": f"Patient/{v.patient}"}
    have = sum(1 for r in v.resources if r["resourceType"] == "Procedure")
    for i in range(max(procedures - have, 0)):
        v.add({"resourceType": "Procedure", "id": f"hist-{i}-{v.patient}", "status": "completed",
               "code": concept(OTHER_CPT[i % len(OTHER_CPT)]), "subject": subject,
               "performedDateTime": (day - timedelta(days=60 + 7 * i)).isoformat()})
    for i in range(observations):
        code, name, unit, low, spread = VITALS[i % len(VITALS)]
        category = "laboratory" if code == "2339-0" else "vital-signs"
        v.add({"resourceType": "Observation", "id": f"vs-{i}-{v.patient}", "status": "final",
               "category": [concept(category, "http://terminology.hl7.org/CodeSystem/observation-category")],
               "code": concept(code, LOINC, name), "subject": subject,
               "effectiveDateTime": f"{(day - timedelta(days=1 + i * 3650 // max(observations, 1))).isoformat()}T09:{i % 60:02d}:00-05:00",
               "valueQuantity": {"value": low + (i * 7 + n) % spread, "unit": unit,
                                 "system": "http://unitsofmeasure.org", "code": unit}})
    return v


def chart_body(n: int, observations: int, procedures: int = 300) -> bytes:
    return json.dumps(chart(n, observations, procedures).request("claim-prepare")).encode()
