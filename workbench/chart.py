"""What the workbench knows of the chosen patient: read from the FHIR server, or from a fixture
folder's request.json (its recorded prefetch and drafts; fixtures/README.md)."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from workbench.drafts import label, ref, reference_id
from workbench.ehr import Ehr, resources


def _start(encounter: dict) -> str:
    return (encounter.get("period") or {}).get("start") or ""


@dataclass
class Chart:
    patient: dict
    source: str                                   # "fhir" or the fixture's name
    encounters: list[dict] = field(default_factory=list)
    conditions: list[dict] = field(default_factory=list)
    coverages: list[dict] = field(default_factory=list)
    procedures: list[dict] = field(default_factory=list)      # all of the patient's
    claims: list[dict] = field(default_factory=list)          # draft claims to pick from
    orders: list[dict] = field(default_factory=list)          # a fixture's draft orders
    prefetch: dict | None = None                              # a fixture's recorded prefetch
    encounter_id: str | None = None
    user_id: str = "Practitioner/workbench-user"

    @property
    def id(self) -> str:
        return self.patient.get("id", "")

    @property
    def name(self) -> str:
        return label(self.patient)

    @property
    def encounter(self) -> dict | None:
        return next((e for e in self.encounters if e.get("id") == self.encounter_id), None)

    @property
    def coverage(self) -> dict | None:
        return self.coverages[0] if self.coverages else None

    def visit_procedures(self) -> list[dict]:
        return [p for p in self.procedures if reference_id(p.get("encounter")) == self.encounter_id]

    def condition(self, reference: str) -> dict | None:
        return next((c for c in self.conditions if ref(c) == reference), None)

    def choose_encounter(self, encounter_id: str | None) -> None:
        ids = [e.get("id") for e in self.encounters]
        self.encounter_id = encounter_id if encounter_id in ids else (ids[0] if ids else None)
        participants = (self.encounter or {}).get("participant") or []
        participant = next((reference_id(p.get("individual")) for p in participants), None)
        if participant and self.source == "fhir":
            self.user_id = f"Practitioner/{participant}"


def _newest_first(encounters: list[dict]) -> list[dict]:
    return sorted(encounters, key=_start, reverse=True)


def from_fhir(ehr: Ehr, patient_id: str) -> Chart:
    """The patient's record as the EHR reads it; raises EhrError naming the failed call."""
    patient = ehr.fhir_get(f"Patient/{patient_id}", label="read Patient")
    chart = Chart(patient=patient, source="fhir")
    chart.encounters = _newest_first(ehr.fhir_search(f"Encounter?patient={patient_id}"))
    chart.conditions = ehr.fhir_search(f"Condition?patient={patient_id}")
    chart.coverages = [c for c in ehr.fhir_search(f"Coverage?patient={patient_id}&status=active")
                       if c.get("resourceType") == "Coverage"]
    chart.procedures = ehr.fhir_search(f"Procedure?patient={patient_id}")
    chart.claims = [c for c in ehr.fhir_search(f"Claim?patient={patient_id}&status=draft")
                    if c.get("resourceType") == "Claim"]
    chart.choose_encounter(None)
    return chart


def fixture_names(folder: Path) -> list[str]:
    return sorted(p.parent.name for p in folder.glob("*/request.json"))


def from_fixture(folder: Path) -> Chart:
    """A fixture's patient with its recorded prefetch; raises OSError/ValueError for a bad folder."""
    request = json.loads((folder / "request.json").read_text())
    prefetch, context = request.get("prefetch") or {}, request.get("context") or {}
    everything = [r for value in prefetch.values() for r in resources(value)]
    of_type = lambda rtype: [r for r in everything if r.get("resourceType") == rtype]  # noqa: E731
    patient = prefetch.get("patient") or {"resourceType": "Patient", "id": context.get("patientId")}
    chart = Chart(patient=patient, source=folder.name, prefetch=prefetch,
                  encounters=_newest_first(of_type("Encounter")), conditions=of_type("Condition"),
                  coverages=of_type("Coverage"), procedures=of_type("Procedure"),
                  claims=[context["claim"]] if isinstance(context.get("claim"), dict) else [],
                  orders=resources(context.get("draftOrders")),
                  user_id=context.get("userId") or "Practitioner/workbench-user")
    chart.choose_encounter(context.get("encounterId"))
    return chart
